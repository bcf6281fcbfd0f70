//! The errors of this crate: configuration, token verification and the boxed loader error.

use std::{error::Error as StdError, fmt};

use http::StatusCode;

/// A type-erased error, as returned by a failing [`UserLoader`](crate::UserLoader).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A [`LoginManager`](crate::LoginManager) could not be built from the given settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The HS256 secret is shorter than 32 bytes (RFC 7518 section 3.2 requires a key at least as
    /// long as the hash output). Generate one with e.g. `openssl rand -base64 48`.
    SecretTooShort {
        /// The length of the secret that was given, in bytes.
        len: usize,
    },
    /// The realm cannot be sent in a `WWW-Authenticate` header (it contains control characters).
    InvalidRealm,
    /// The user id claim name is empty (`""`), or is this one of the claims the crate itself
    /// reads or writes (`exp`, `iat`, `nbf`, `iss`, `aud`, `jti`, `type`).
    InvalidUserIdClaim(&'static str),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SecretTooShort { len } => write!(
                f,
                "the HS256 secret is {len} bytes long; at least 32 bytes are required \
                 (RFC 7518 section 3.2): generate one with `openssl rand -base64 48`"
            ),
            Self::InvalidRealm => f.write_str(
                "the realm contains characters that cannot be sent in a WWW-Authenticate header",
            ),
            Self::InvalidUserIdClaim("") => f.write_str("the user id claim name must not be empty"),
            Self::InvalidUserIdClaim(name) => write!(
                f,
                "the user id claim cannot be `{name}`: this crate reads or writes that claim \
                 itself (exp, iat, nbf, iss, aud, jti, type); choose another, such as `sub`"
            ),
        }
    }
}

impl StdError for ConfigError {}

/// Why a token was refused by [`LoginManager::decode_token`](crate::LoginManager::decode_token).
///
/// Only [`TokenError::Expired`] is answered with the "expired" message; every other variant is an
/// invalid token. The variants say why, for logs and tests; clients never see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The `exp` claim is in the past (RFC 7519 section 4.1.4), leeway included.
    Expired,
    /// The `nbf` claim (RFC 7519 section 4.1.5) or the `iat` claim is in the future, leeway
    /// included.
    NotYetValid,
    /// The token is longer than 8 KiB (browsers and proxies cap headers at 8 to 16 KiB), or,
    /// when one is issued, would be; or, for a [`SessionCookies`](crate::SessionCookies)
    /// cookie, it is longer than the 4 KiB a browser keeps.
    TooLarge,
    /// Not a compact JWS: not three strict base64url segments, or a header that is not a JSON
    /// object (RFC 7515 sections 3.1 and 5.2).
    Malformed,
    /// The header names an algorithm other than the one accepted (HS256), `none` included, or
    /// none at all (RFC 8725 section 3.1).
    WrongAlgorithm,
    /// The header carries `crit`, whose extensions this crate does not understand
    /// (RFC 7515 section 4.1.11).
    UnsupportedCritical,
    /// The MAC does not match (RFC 7515 section 5.2, step 8).
    BadSignature,
    /// The MAC is right but the claims are not a JSON object, or repeat a claim, whichever it is
    /// (RFC 7519 section 4; section 7.2, steps 9 and 10).
    InvalidClaims,
    /// A required claim is absent: `"exp"`, `"user id"`, `"iss"` or `"aud"`.
    MissingClaim(&'static str),
    /// A claim has the wrong type or value: `"exp"`, `"nbf"`, `"iat"`, `"user id"`, `"iss"`,
    /// `"aud"`, `"jti"` or `"type"`; or, when a token is issued, `"extra claims"` (see
    /// [`LoginManager::with_claims`](crate::LoginManager::with_claims)).
    InvalidClaim(&'static str),
    /// The `iss` claim is not the configured issuer (RFC 7519 section 4.1.1).
    InvalidIssuer,
    /// The `aud` claim does not name the configured audience, or is present while no audience is
    /// configured (RFC 7519 section 4.1.3).
    InvalidAudience,
    /// A refresh token where an access token is expected, or the other way round (the `type`
    /// claim; see [`TokenKind`](crate::TokenKind)).
    WrongTokenType,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Expired => f.write_str("token expired"),
            Self::NotYetValid => f.write_str("token not yet valid"),
            Self::TooLarge => f.write_str("token too long (over 8 KiB, or 4 KiB in a cookie)"),
            Self::Malformed => f.write_str("token is not a well-formed compact JWS"),
            Self::WrongAlgorithm => f.write_str("token algorithm is not accepted"),
            Self::UnsupportedCritical => f.write_str("token header has critical extensions"),
            Self::BadSignature => f.write_str("token signature does not match"),
            Self::InvalidClaims => f.write_str("token claims are not a valid JSON object"),
            Self::MissingClaim(c) => write!(f, "token has no `{c}` claim"),
            Self::InvalidClaim(c) => write!(f, "token has an invalid `{c}` claim"),
            Self::InvalidIssuer => f.write_str("token issuer is not accepted"),
            Self::InvalidAudience => f.write_str("token audience is not accepted"),
            Self::WrongTokenType => f.write_str("token is of the wrong type (access or refresh)"),
        }
    }
}

impl StdError for TokenError {}

/// Why the layer did not let a request through; handed to a [`Responder`](crate::Responder) that
/// wants to shape the answer itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// No token in any configured location (no `Authorization: Bearer <token>` by default).
    MissingToken,
    /// More than one `Authorization` header (RFC 6750 section 3.1, `invalid_request`).
    AmbiguousCredentials,
    /// A token was sent and is not valid; the [`TokenError`] says why.
    InvalidToken(TokenError),
    /// A token was sent and has expired.
    ExpiredToken,
    /// The token is valid but has been revoked (see [`Revocations`](crate::Revocations)).
    Revoked,
    /// The revocation store could not be asked (e.g. Redis is down): 503, never let through.
    RevocationUnavailable,
    /// The token is valid but the loader found no such user.
    UserNotFound,
    /// A token from a cookie on a cross-origin request whose method is not `GET`, `HEAD` or
    /// `OPTIONS`: 403, refused before the token is looked at. See
    /// [`LoginLayer::trusted_origins`](crate::LoginLayer::trusted_origins).
    CrossOrigin,
    /// The loader failed; its error went to
    /// [`on_backend_error`](crate::LoginManagerBuilder::on_backend_error).
    LoaderFailed,
}

impl Rejection {
    pub(crate) fn from_token_error(error: TokenError) -> Self {
        match error {
            TokenError::Expired => Self::ExpiredToken,
            other => Self::InvalidToken(other),
        }
    }

    /// The HTTP status of the default answer: 401, 400 for ambiguous credentials, 403 for a
    /// cross-origin request, 500 when the loader failed, 503 when the revocation store did.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::AmbiguousCredentials => StatusCode::BAD_REQUEST,
            Self::LoaderFailed => StatusCode::INTERNAL_SERVER_ERROR,
            Self::RevocationUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::CrossOrigin => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// A short, stable name for logs and metrics: `missing_token`, `ambiguous_credentials`,
    /// `invalid_token`, `expired_token`, `revoked_token`, `revocation_unavailable`,
    /// `user_not_found`, `cross_origin`, `loader_failed`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::AmbiguousCredentials => "ambiguous_credentials",
            Self::InvalidToken(_) => "invalid_token",
            Self::ExpiredToken => "expired_token",
            Self::Revoked => "revoked_token",
            Self::RevocationUnavailable => "revocation_unavailable",
            Self::UserNotFound => "user_not_found",
            Self::CrossOrigin => "cross_origin",
            Self::LoaderFailed => "loader_failed",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidToken(e) => write!(f, "invalid_token: {e}"),
            other => f.write_str(other.kind()),
        }
    }
}
