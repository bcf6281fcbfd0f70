//! The verified claims of a token, as the layer hands them to handlers.

use std::fmt;

use super::parse::Spot;
use crate::source::TokenLocation;
use crate::store::Revocation;

/// Access or refresh: the `type` claim of a token (Flask-JWT-Extended's convention).
///
/// A token without `type` (as the Flask original writes them) is an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenKind {
    /// Sent with every request; short-lived.
    #[default]
    Access,
    /// Exchanged for a new access token at a refresh route; long-lived.
    Refresh,
}

impl TokenKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }
}

/// The verified claims of a token, as put into the request's extensions by the layer.
#[derive(Clone, PartialEq, Eq)]
pub struct Claims {
    pub(crate) user_id: UserId,
    pub(crate) exp: u64,
    pub(crate) iat: Option<u64>,
    pub(crate) nbf: Option<u64>,
    pub(crate) jti: Option<UserId>,
    /// The session (the grant of a pair, kept by its refreshes): `sid`.
    pub(crate) sid: Option<UserId>,
    pub(crate) kind: TokenKind,
    /// The first second at which the verifier refuses the token by itself: `exp` plus the
    /// leeway.
    pub(crate) refused_from: u64,
    /// The first second at which every token of a pair issued until now is refused by itself:
    /// now plus the longest pair lifetime plus the leeway.
    pub(crate) all_refused_from: u64,
    /// The manager's clock when the token was verified.
    pub(crate) verified_at: u64,
    /// The decoded claims JSON, kept only when it has claims this crate does not read.
    pub(crate) raw: Option<Box<[u8]>>,
    /// Where the values of `scope` and `roles` are in `raw`, as the verifier saw them.
    pub(crate) noted: [Spot; 2],
    /// Where the layer found the token; `None` from [`LoginManager::decode_token`].
    ///
    /// [`LoginManager::decode_token`]: crate::LoginManager::decode_token
    pub(crate) location: Option<TokenLocation>,
}

impl Claims {
    /// The user id the token was issued for (the `user_id` claim, or the configured one).
    pub fn user_id(&self) -> &str {
        self.user_id.as_str()
    }

    /// When the token expires (`exp`), in seconds since the Unix epoch. Every valid token has one.
    pub fn expires_at(&self) -> u64 {
        self.exp
    }

    /// When the token was issued (`iat`), in seconds since the Unix epoch, if it says.
    pub fn issued_at(&self) -> Option<u64> {
        self.iat
    }

    /// The token is not valid before this time (`nbf`), in seconds since the Unix epoch, if set.
    pub fn not_before(&self) -> Option<u64> {
        self.nbf
    }

    /// What a [`Revocations`](crate::Revocations) store needs to know of this token: its id
    /// (`jti`), its session (`sid`), its user and `iat`, and how long to keep a revocation (its
    /// `exp` plus the manager's leeway; for a session or a user, the manager's longest pair
    /// lifetime plus the leeway from now). Hand it to
    /// [`revoke`](crate::Revocations::revoke) (this token),
    /// [`revoke_session`](crate::Revocations::revoke_session) (every token of its session) or
    /// [`revoke_user`](crate::Revocations::revoke_user) (every token of its user issued before
    /// now). Every token this crate issues has a `jti`, and the tokens of a pair a `sid`; a token
    /// issued elsewhere (the Flask original, PyJWT) may have neither: then
    /// [`Revocation::token_id`] or [`Revocation::session_id`] is `None`, and revoking it alone
    /// or its session revokes nothing.
    pub fn revocation(&self) -> Revocation<'_> {
        Revocation {
            jti: self.jti.as_ref().map(UserId::as_str),
            sid: self.sid.as_ref().map(UserId::as_str),
            user_id: self.user_id.as_str(),
            issued_at: self.iat,
            refused_from: self.refused_from,
            all_refused_from: self.all_refused_from,
            verified_at: self.verified_at,
        }
    }

    /// Access or refresh token.
    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// Where the [`LoginLayer`](crate::LoginLayer) found the token: the `Authorization` header,
    /// a cookie, or a query parameter, as listed in its
    /// [`token_locations`](crate::LoginLayer::token_locations). A handler that answers a browser
    /// (one whose token came from a cookie) with cookies reads it here. `None` for claims from
    /// [`LoginManager::decode_token`](crate::LoginManager::decode_token).
    ///
    /// The layer puts in a clone of its location: no allocation, unless a name was given as an
    /// owned `String`.
    pub fn token_location(&self) -> Option<&TokenLocation> {
        self.location.as_ref()
    }

    /// The application's own claims, typed: deserializes `T` from the claims object, so `T`
    /// names the claims it wants (absent ones need `#[serde(default)]` or `Option`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use serde::{Deserialize, Serialize};
    /// use tower_login_manager::LoginManager;
    ///
    /// #[derive(Serialize, Deserialize, Debug, PartialEq)]
    /// struct Roles { roles: Vec<String> }
    ///
    /// let manager = LoginManager::new([7u8; 32])?;
    /// let roles = Roles { roles: vec!["admin".into()] };
    /// let token = manager.with_claims(&roles)?.issue_token("1", Duration::from_secs(60))?;
    /// let claims = manager.decode_token(&token)?;
    /// assert_eq!(claims.extra::<Roles>()?, roles);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn extra<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(self.raw.as_deref().unwrap_or(b"{}"))
    }

    /// The claims JSON as the verifier accepted it, whole, when it holds claims this crate does
    /// not read (`None`: it holds none): a [`RequireLayer`](crate::RequireLayer) reads its claim
    /// there in place.
    pub(crate) fn raw_json(&self) -> Option<&[u8]> {
        self.raw.as_deref()
    }

    /// Where the value of the noted claim `noted` (its place from [`noted`](super::noted):
    /// `scope` or `roles`) is in [`Self::raw_json`], as the verifier saw it.
    pub(crate) fn spot(&self, noted: usize) -> Spot {
        self.noted.get(noted).copied().unwrap_or_default()
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("user_id", &self.user_id.as_str())
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("nbf", &self.nbf)
            .field("jti", &self.jti.as_ref().map(UserId::as_str))
            .field("sid", &self.sid.as_ref().map(UserId::as_str))
            .field("kind", &self.kind)
            .field("refused_from", &self.refused_from)
            .field("extra", &self.raw.is_some())
            .field("location", &self.location)
            .finish()
    }
}

/// A user id or a token id, stored inline when it is short (every integer id, most string ids,
/// the 22 characters of this crate's token ids) so that the verified path does not allocate for
/// it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum UserId {
    Inline { len: u8, bytes: [u8; INLINE_ID] },
    Heap(Box<str>),
}

const INLINE_ID: usize = 30;

impl UserId {
    pub(crate) fn new(id: &str) -> Self {
        if id.len() <= INLINE_ID {
            let mut bytes = [0u8; INLINE_ID];
            bytes[..id.len()].copy_from_slice(id.as_bytes());
            Self::Inline {
                len: id.len() as u8,
                bytes,
            }
        } else {
            Self::Heap(id.into())
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Copied from a `&str` whole, so always UTF-8.
            Self::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Self::Heap(id) => id,
        }
    }
}
