//! [`Rejection`]: why the layer refused a request, and how that becomes its answer: the
//! `{status, message}` JSON with an RFC 6750 challenge, a trailers-only gRPC status, or a
//! [`Responder`]'s own. This module imports only the crate's errors.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};

use crate::error::{BoxError, ConfigError, TokenError};

type ErrorHook = Arc<dyn Fn(&(dyn std::error::Error + Send + Sync + 'static)) + Send + Sync>;

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
const APPLICATION_GRPC: HeaderValue = HeaderValue::from_static("application/grpc");

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
    /// The verifier has no key set yet (its JWK Set has not been fetched): 503, with the same
    /// message as [`RevocationUnavailable`](Self::RevocationUnavailable).
    KeysUnavailable,
    /// The token is valid but the loader found no such user.
    UserNotFound,
    /// A token from a cookie on a cross-origin request whose method is not `GET`, `HEAD` or
    /// `OPTIONS`: 403, refused before the token is looked at. See
    /// [`LoginLayer::trusted_origins`](crate::LoginLayer::trusted_origins).
    CrossOrigin,
    /// The loader failed; its error went to
    /// [`on_backend_error`](crate::LoginLayer::on_backend_error).
    LoaderFailed,
    /// The user is logged in, but a [`RequireLayer`](crate::RequireLayer) found that the
    /// token's scopes, roles or claims, or the user, do not allow this route: 403 with
    /// `WWW-Authenticate: Bearer error="insufficient_scope"` (RFC 6750 section 3.1), gRPC
    /// `PERMISSION_DENIED`. Its message is set with
    /// [`RequireLayer::message`](crate::RequireLayer::message).
    InsufficientScope,
}

impl Rejection {
    pub(crate) fn from_token_error(error: TokenError) -> Self {
        match error {
            TokenError::Expired => Self::ExpiredToken,
            TokenError::KeysUnavailable => Self::KeysUnavailable,
            other => Self::InvalidToken(other),
        }
    }

    /// The HTTP status of the default answer: 401, 400 for ambiguous credentials, 403 for a
    /// cross-origin request or an insufficient scope, 500 when the loader failed, 503 when the
    /// revocation store did.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::AmbiguousCredentials => StatusCode::BAD_REQUEST,
            Self::LoaderFailed => StatusCode::INTERNAL_SERVER_ERROR,
            Self::RevocationUnavailable | Self::KeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::CrossOrigin | Self::InsufficientScope => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The rejection's short, stable name, for logs and metrics: `missing_token`,
    /// `ambiguous_credentials`, `invalid_token`, `expired_token`, `revoked_token`,
    /// `revocation_unavailable`, `keys_unavailable`, `user_not_found`, `cross_origin`,
    /// `loader_failed`, `insufficient_scope`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::AmbiguousCredentials => "ambiguous_credentials",
            Self::InvalidToken(_) => "invalid_token",
            Self::ExpiredToken => "expired_token",
            Self::Revoked => "revoked_token",
            Self::RevocationUnavailable => "revocation_unavailable",
            Self::KeysUnavailable => "keys_unavailable",
            Self::UserNotFound => "user_not_found",
            Self::CrossOrigin => "cross_origin",
            Self::LoaderFailed => "loader_failed",
            Self::InsufficientScope => "insufficient_scope",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidToken(e) => write!(f, "invalid_token: {e}"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// Which requests go on to the inner service *without* a user instead of being refused; see
/// [`LoginLayer::anonymous`](crate::LoginLayer::anonymous). A token that is present but invalid
/// (forged, revoked, of the wrong kind...) is refused whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
#[doc(alias = "optional")]
pub enum Anonymous {
    /// None: login is required (the Flask original's `login_required`). The default.
    #[default]
    Refused,
    /// A request that sends no token (Flask-JWT-Extended's `optional=True`); an expired token
    /// is still refused, so that its client learns to refresh.
    NoToken,
    /// A request that sends no token, or an expired one.
    NoTokenOrExpired,
}

impl Anonymous {
    /// Whether a request refused with `rejection` goes on without a user instead.
    pub(crate) fn lets_through(self, rejection: Rejection) -> bool {
        match rejection {
            Rejection::MissingToken => self != Self::Refused,
            Rejection::ExpiredToken => self == Self::NoTokenOrExpired,
            _ => false,
        }
    }
}

/// The texts of every answer, each configurable on the layer.
#[derive(Clone, Debug)]
struct Messages {
    login: String,
    invalid: String,
    expired: String,
    user_not_found: String,
    internal: String,
    ambiguous: String,
    revoked: String,
    unavailable: String,
    cross_origin: String,
    insufficient_scope: String,
}

impl Messages {
    /// The message answering `rejection`, to change it.
    fn get_mut(&mut self, rejection: Rejection) -> &mut String {
        match rejection {
            Rejection::MissingToken => &mut self.login,
            Rejection::AmbiguousCredentials => &mut self.ambiguous,
            Rejection::InvalidToken(_) => &mut self.invalid,
            Rejection::ExpiredToken => &mut self.expired,
            Rejection::Revoked => &mut self.revoked,
            Rejection::RevocationUnavailable | Rejection::KeysUnavailable => &mut self.unavailable,
            Rejection::UserNotFound => &mut self.user_not_found,
            Rejection::LoaderFailed => &mut self.internal,
            Rejection::CrossOrigin => &mut self.cross_origin,
            Rejection::InsufficientScope => &mut self.insufficient_scope,
        }
    }
}

impl Default for Messages {
    fn default() -> Self {
        Self {
            login: "You need to login".into(),
            invalid: "Invalid token. Please register or login".into(),
            expired: "Expired token. Please login to get a new token".into(),
            user_not_found: "User not found. Please register or login".into(),
            internal: "Internal server error".into(),
            ambiguous: "Send exactly one Authorization header".into(),
            revoked: "Token has been revoked".into(),
            unavailable: "Service temporarily unavailable. Please try again".into(),
            cross_origin: "Cross-origin request refused".into(),
            insufficient_scope: "Permission denied".into(),
        }
    }
}

/// One answer, prepared once when the layer is configured so that a rejection costs one response
/// and no formatting.
#[derive(Clone, Debug)]
struct Prepared {
    status: StatusCode,
    json: Bytes,
    challenge: Option<HeaderValue>,
    grpc_status: HeaderValue,
    grpc_message: HeaderValue,
}

/// Every answer one layer gives: its messages and realm, prepared; its [`Responder`]; and the hook
/// that hears of a failing store. Held by the layer's settings, and by the requests it lets
/// through without a user (the axum extractors answer as the layer would have).
#[derive(Clone)]
pub(crate) struct Answers {
    messages: Messages,
    /// `Bearer realm="..."`, the challenge of a request that sent no token.
    realm: HeaderValue,
    /// The `scope` attribute of the `insufficient_scope` challenge: the scopes a
    /// [`RequireLayer`](crate::RequireLayer) needs, space-separated; `None` for a requirement
    /// that is not about scopes, and for the login layer.
    scope: Option<String>,
    prepared: [Prepared; 10],
    responder: Option<Arc<dyn Responder>>,
    on_backend_error: Option<ErrorHook>,
}

impl Default for Answers {
    fn default() -> Self {
        let realm = HeaderValue::from_static(r#"Bearer realm="api""#);
        let messages = Messages::default();
        Self {
            prepared: prepare(&messages, &realm, None),
            messages,
            realm,
            scope: None,
            responder: None,
            on_backend_error: None,
        }
    }
}

/// The order of [`Answers::prepared`].
fn index(rejection: &Rejection) -> usize {
    match rejection {
        Rejection::MissingToken => 0,
        Rejection::AmbiguousCredentials => 1,
        Rejection::InvalidToken(_) => 2,
        Rejection::ExpiredToken => 3,
        Rejection::UserNotFound => 4,
        Rejection::LoaderFailed => 5,
        Rejection::Revoked => 6,
        Rejection::RevocationUnavailable | Rejection::KeysUnavailable => 7,
        Rejection::CrossOrigin => 8,
        Rejection::InsufficientScope => 9,
    }
}

/// Every answer, in the order of [`index`].
fn prepare(m: &Messages, realm: &HeaderValue, scope: Option<&str>) -> [Prepared; 10] {
    // `realm` is a valid header value and the description is reduced to the characters RFC 6750
    // allows, so the challenge is always a valid header value.
    let with_error = |error: &str, message: &str| {
        let realm = realm
            .to_str()
            .expect("the realm was checked when it was set");
        let value = format!(
            "{realm}, error=\"{error}\", error_description=\"{}\"",
            description(message)
        );
        Some(HeaderValue::try_from(value).expect("a checked realm and RFC 6750 characters"))
    };
    // RFC 6750 section 3.1: a token was sent and refused.
    let invalid_token = |message: &str| {
        let challenge = with_error("invalid_token", message);
        Prepared::new(StatusCode::UNAUTHORIZED, message, challenge, 16)
    };
    [
        Prepared::new(StatusCode::UNAUTHORIZED, &m.login, Some(realm.clone()), 16),
        Prepared::new(
            StatusCode::BAD_REQUEST,
            &m.ambiguous,
            with_error("invalid_request", &m.ambiguous),
            16,
        ),
        invalid_token(&m.invalid),
        invalid_token(&m.expired),
        invalid_token(&m.user_not_found),
        Prepared::new(StatusCode::INTERNAL_SERVER_ERROR, &m.internal, None, 13),
        invalid_token(&m.revoked),
        Prepared::new(StatusCode::SERVICE_UNAVAILABLE, &m.unavailable, None, 14),
        // Not an authentication failure: no challenge; gRPC PERMISSION_DENIED.
        Prepared::new(StatusCode::FORBIDDEN, &m.cross_origin, None, 7),
        // RFC 6750 section 3.1: the token lacks what the route needs, named by `scope`.
        Prepared::new(
            StatusCode::FORBIDDEN,
            &m.insufficient_scope,
            Some(insufficient_scope(scope)),
            7,
        ),
    ]
}

/// `Bearer error="insufficient_scope"`, with `scope="..."` when the scopes are known.
fn insufficient_scope(scope: Option<&str>) -> HeaderValue {
    let value = match scope {
        Some(scope) => format!(r#"Bearer error="insufficient_scope", scope="{scope}""#),
        None => r#"Bearer error="insufficient_scope""#.to_owned(),
    };
    HeaderValue::try_from(value).expect("scope tokens are checked when they are set")
}

impl Answers {
    /// The `message` of the answer to `rejection`.
    pub(crate) fn set_message(&mut self, rejection: Rejection, message: String) {
        *self.messages.get_mut(rejection) = message;
        self.prepare();
    }

    /// The scopes named by the `insufficient_scope` challenge, each a scope token
    /// (RFC 6749 section 3.3: `%x21 / %x23-5B / %x5D-7E`, which [`scope_token`] checks).
    pub(crate) fn set_scope(&mut self, scope: String) {
        self.scope = Some(scope);
        self.prepare();
    }

    fn prepare(&mut self) {
        self.prepared = prepare(&self.messages, &self.realm, self.scope.as_deref());
    }

    /// The realm of the challenge (RFC 6750 section 3), as a quoted-string.
    pub(crate) fn set_realm(&mut self, realm: &str) -> Result<(), ConfigError> {
        let value = format!("Bearer realm=\"{}\"", quote(realm));
        self.realm = HeaderValue::try_from(value).map_err(|_| ConfigError::InvalidRealm)?;
        self.prepare();
        Ok(())
    }

    pub(crate) fn set_responder(&mut self, responder: Arc<dyn Responder>) {
        self.responder = Some(responder);
    }

    pub(crate) fn set_backend_error_hook(&mut self, hook: ErrorHook) {
        self.on_backend_error = Some(hook);
    }

    /// The answer to `rejection`: the responder's, else the prepared default (always the
    /// prepared gRPC status for gRPC requests).
    pub(crate) fn reject(&self, rejection: Rejection, grpc: bool) -> Response<Bytes> {
        #[cfg(feature = "tracing")]
        match rejection {
            Rejection::InvalidToken(reason) => {
                tracing::debug!(kind = rejection.as_str(), %reason, "login rejected the request")
            }
            _ => tracing::debug!(kind = rejection.as_str(), "login rejected the request"),
        }
        if !grpc && let Some(response) = self.responder.as_ref().and_then(|r| r.respond(&rejection))
        {
            return response;
        }
        self.prepared[index(&rejection)].to_response(grpc)
    }

    /// A [`RequireLayer`](crate::RequireLayer) found no [`Claims`](crate::Claims) in the
    /// request: no login layer in front of it, or one that let the request through without a
    /// user. A mistake in the application, never a pass: 500 with the message of
    /// [`Rejection::LoaderFailed`], and an `ERROR` event (feature `tracing`).
    pub(crate) fn no_login_layer(&self, grpc: bool) -> Response<Bytes> {
        #[cfg(feature = "tracing")]
        tracing::error!(
            kind = "no_login_layer",
            "a RequireLayer found no verified claims in the request: put a LoginLayer that \
             requires login in front of it; answered 500"
        );
        self.prepared[index(&Rejection::LoaderFailed)].to_response(grpc)
    }

    /// A store (loader or revocations) failed: the error goes to the
    /// [`on_backend_error`](crate::LoginLayer::on_backend_error) hook, never to the client, who
    /// gets the answer to `rejection`.
    pub(crate) fn backend_failed(
        &self,
        error: BoxError,
        rejection: Rejection,
        grpc: bool,
    ) -> Response<Bytes> {
        if let Some(hook) = &self.on_backend_error {
            hook(&*error);
        }
        self.reject(rejection, grpc)
    }
}

impl fmt::Debug for Answers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answers")
            .field("messages", &self.messages)
            .field("realm", &self.realm)
            .field("scope", &self.scope)
            .field("responder", &self.responder.as_ref().map(|_| "Responder"))
            .field(
                "on_backend_error",
                &self.on_backend_error.as_ref().map(|_| "Fn"),
            )
            .finish()
    }
}

impl Prepared {
    fn new(status: StatusCode, message: &str, challenge: Option<HeaderValue>, grpc: u8) -> Self {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            status: u16,
            message: &'a str,
        }
        let json = serde_json::to_vec(&Body {
            status: status.as_u16(),
            message,
        })
        .expect("a JSON object always serializes");
        Self {
            status,
            json: Bytes::from(json),
            challenge,
            grpc_status: HeaderValue::from(u16::from(grpc)),
            grpc_message: HeaderValue::try_from(grpc_percent_encode(message))
                .expect("percent-encoded text is a valid header value"),
        }
    }

    /// The HTTP answer, or for a gRPC request a trailers-only answer: 200 with `grpc-status` and
    /// `grpc-message` in the headers and no body (gRPC over HTTP/2, "Responses").
    fn to_response(&self, grpc: bool) -> Response<Bytes> {
        if grpc {
            let mut res = Response::new(Bytes::new());
            let headers = res.headers_mut();
            headers.insert(CONTENT_TYPE, APPLICATION_GRPC);
            headers.insert(GRPC_STATUS, self.grpc_status.clone());
            headers.insert(GRPC_MESSAGE, self.grpc_message.clone());
            return res;
        }
        let mut res = Response::new(self.json.clone());
        *res.status_mut() = self.status;
        let headers = res.headers_mut();
        headers.insert(CONTENT_TYPE, APPLICATION_JSON);
        if let Some(challenge) = &self.challenge {
            headers.insert(WWW_AUTHENTICATE, challenge.clone());
        }
        res
    }
}

/// Builds the answer to a [`Rejection`] in place of the default `{"status", "message"}` JSON.
///
/// Implemented for closures `Fn(&Rejection) -> Option<Response<Bytes>>`; `None` keeps the default
/// answer. gRPC requests always get the automatic gRPC status, so tonic clients keep working.
///
/// ```
/// use bytes::Bytes;
/// use http::{Response, StatusCode, header};
/// use tower_login_manager::{LoginLayer, LoginManager, Rejection, loader_fn};
///
/// # let manager = LoginManager::new([1u8; 32]).unwrap();
/// # let loader = loader_fn(|id: String| async move { Ok::<_, std::convert::Infallible>(Some(id)) });
/// let layer = LoginLayer::new(manager, loader).responder(|rejection: &Rejection| {
///     // RFC 9457 problem details instead of the Flask body, for invalid and expired tokens only.
///     matches!(rejection, Rejection::InvalidToken(_) | Rejection::ExpiredToken).then(|| {
///         Response::builder()
///             .status(StatusCode::UNAUTHORIZED)
///             // A 401 names its challenge (RFC 9110 section 11.6.1; RFC 6750 section 3).
///             .header(header::WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#)
///             .header(header::CONTENT_TYPE, "application/problem+json")
///             .body(Bytes::from(format!(r#"{{"title":"{}"}}"#, rejection.as_str())))
///             .unwrap()
///     })
/// });
/// ```
pub trait Responder: Send + Sync + 'static {
    /// The answer to `rejection`, or `None` for the default one.
    fn respond(&self, rejection: &Rejection) -> Option<Response<Bytes>>;
}

impl<F> Responder for F
where
    F: Fn(&Rejection) -> Option<Response<Bytes>> + Send + Sync + 'static,
{
    fn respond(&self, rejection: &Rejection) -> Option<Response<Bytes>> {
        self(rejection)
    }
}

/// `true` when the request is gRPC (`content-type: application/grpc...`), to be answered with a
/// gRPC status rather than JSON.
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/grpc"))
}

/// `true` for a scope token (RFC 6749 section 3.3): one or more of `%x21 / %x23-5B / %x5D-7E`,
/// so no space, `"` or `\`, and valid in a quoted-string as it is.
pub(crate) fn scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

/// A quoted-string (RFC 9110 section 5.6.4): `"` and `\` escaped with a backslash.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// RFC 6750 section 3: `error_description` may hold only %x20-21 / %x23-5B / %x5D-7E, so `"` and
/// `\` (which a quoted-string would escape) become `'` and `/`, and anything else outside the set
/// becomes `?`.
fn description(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

/// gRPC's `grpc-message` encoding: UTF-8 bytes outside %x20-%x7E, and `%` itself, percent-encoded.
fn grpc_percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6750_section3_error_description_has_only_allowed_characters() {
        assert_eq!(description("a \"b\" \\c é"), "a 'b' /c ?");
    }

    #[test]
    fn rfc9110_quoted_string_escapes_quote_and_backslash() {
        assert_eq!(quote("my \"realm\" \\"), "my \\\"realm\\\" \\\\");
    }

    #[test]
    fn grpc_message_is_percent_encoded() {
        assert_eq!(grpc_percent_encode("100% ok é"), "100%25 ok %C3%A9");
    }
}
