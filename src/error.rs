//! The errors of this crate: configuration, token verification and the boxed store error. This
//! module imports nothing from the rest of the crate.

use std::{error::Error as StdError, fmt};

/// A type-erased error, as returned by a failing [`UserLoader`](crate::UserLoader).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A setting was refused: a [`LoginManager`](crate::LoginManager) could not be built from it, or
/// a [`LoginLayer`](crate::LoginLayer) could not take it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The HS256 secret is shorter than 32 bytes (RFC 7518 section 3.2 requires a key at least as
    /// long as the hash output). Generate one with e.g. `openssl rand -base64 48`.
    SecretTooShort {
        /// The length of the secret that was given, in bytes.
        len: usize,
    },
    /// The realm cannot be sent in a `WWW-Authenticate` header (it contains control characters);
    /// from [`LoginLayer::realm`](crate::LoginLayer::realm).
    InvalidRealm,
    /// A trusted origin is not a web origin as browsers send it (RFC 6454): `http` or `https`
    /// `://host[:port]`, a port up to 65535, no path, query, fragment or user info; from
    /// [`LoginLayer::trusted_origins`](crate::LoginLayer::trusted_origins).
    InvalidOrigin {
        /// The origin that was given.
        origin: String,
        /// Why it is not one, e.g. "its scheme is not http or https".
        reason: &'static str,
    },
    /// The user id claim name is empty (`""`), or is this one of the claims the crate itself
    /// reads or writes (`exp`, `iat`, `nbf`, `iss`, `aud`, `jti`, `sid`, `type`).
    InvalidUserIdClaim(&'static str),
    /// A key could not be used, or a key rotation step was refused; the text says why and never
    /// holds key material: "not a PEM public key (SPKI) of P-256, Ed25519 or RSA", "an RSA
    /// modulus must have 2048 to 8192 bits", "a key with this kid is already published"...
    InvalidKey(&'static str),
    /// A scope given to [`RequireLayer::scopes`](crate::RequireLayer::scopes) is not a scope
    /// token (RFC 6749 section 3.3): empty, or with a space, `"`, `\` or a character outside
    /// printable ASCII.
    InvalidScope(String),
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
            Self::InvalidOrigin { origin, reason } => write!(
                f,
                "trusted origin {origin:?} is refused: {reason}; write it as browsers send \
                 `Origin`, `http(s)://host[:port]`"
            ),
            Self::InvalidKey(reason) => write!(f, "key refused: {reason}"),
            Self::InvalidUserIdClaim("") => f.write_str("the user id claim name must not be empty"),
            Self::InvalidScope(scope) => write!(
                f,
                "{scope:?} is not a scope token (RFC 6749 section 3.3): one or more printable \
                 ASCII characters other than space, `\"` and `\\`"
            ),
            Self::InvalidUserIdClaim(name) => write!(
                f,
                "the user id claim cannot be `{name}`: this crate reads or writes that claim \
                 itself (exp, iat, nbf, iss, aud, jti, sid, type); choose another, such as `sub`"
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
    /// The header names an algorithm the verifier holds no key for (HS256 without the secret,
    /// `none`, an unknown one), or another algorithm than the key its `kid` names, or none at
    /// all (RFC 8725 section 3.1).
    WrongAlgorithm,
    /// The header carries `crit`, whose extensions this crate does not understand
    /// (RFC 7515 section 4.1.11).
    UnsupportedCritical,
    /// The MAC or signature does not match (RFC 7515 section 5.2, step 8).
    BadSignature,
    /// The header's `kid` names no key the verifier holds.
    UnknownKey,
    /// The verifier has no key set yet (a JWK Set not fetched yet): answered 503, not 401.
    KeysUnavailable,
    /// The MAC is right but the claims are not a JSON object, or repeat a claim, whichever it is
    /// (RFC 7519 section 4; section 7.2, steps 9 and 10).
    InvalidClaims,
    /// A required claim is absent: `"exp"`, `"user id"`, `"iss"` or `"aud"`.
    MissingClaim(&'static str),
    /// A claim has the wrong type or value: `"exp"`, `"nbf"`, `"iat"`, `"user id"`, `"iss"`,
    /// `"aud"`, `"jti"`, `"sid"` or `"type"`; or, when a token is issued, `"extra claims"` (see
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
            Self::UnknownKey => f.write_str("token key id names no known key"),
            Self::KeysUnavailable => f.write_str("no verification keys yet"),
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
