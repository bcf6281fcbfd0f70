//! How a failure becomes a response: the `{status, message}` JSON with an RFC 6750 challenge, or a
//! trailers-only gRPC status.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};

use crate::error::{BoxError, ConfigError, Rejection};
use crate::layer::Settings;

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
const APPLICATION_GRPC: HeaderValue = HeaderValue::from_static("application/grpc");

/// The texts of every answer, each configurable on the builder.
#[derive(Clone, Debug)]
pub(crate) struct Messages {
    pub(crate) login: String,
    pub(crate) invalid: String,
    pub(crate) expired: String,
    pub(crate) user_not_found: String,
    pub(crate) internal: String,
    pub(crate) ambiguous: String,
    pub(crate) revoked: String,
    pub(crate) unavailable: String,
    pub(crate) cross_origin: String,
    pub(crate) realm: String,
}

impl Messages {
    /// The message answering `rejection`, to change it.
    pub(crate) fn get_mut(&mut self, rejection: Rejection) -> &mut String {
        match rejection {
            Rejection::MissingToken => &mut self.login,
            Rejection::AmbiguousCredentials => &mut self.ambiguous,
            Rejection::InvalidToken(_) => &mut self.invalid,
            Rejection::ExpiredToken => &mut self.expired,
            Rejection::Revoked => &mut self.revoked,
            Rejection::RevocationUnavailable => &mut self.unavailable,
            Rejection::UserNotFound => &mut self.user_not_found,
            Rejection::LoaderFailed => &mut self.internal,
            Rejection::CrossOrigin => &mut self.cross_origin,
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
            realm: "api".into(),
        }
    }
}

/// One answer, prepared once when the manager is built so that a rejection costs one response
/// and no formatting.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    status: StatusCode,
    json: Bytes,
    challenge: Option<HeaderValue>,
    grpc_status: HeaderValue,
    grpc_message: HeaderValue,
}

/// Every answer the layer can give.
#[derive(Clone, Debug)]
pub(crate) struct Responses {
    missing: Prepared,
    ambiguous: Prepared,
    invalid: Prepared,
    expired: Prepared,
    user_not_found: Prepared,
    internal: Prepared,
    revoked: Prepared,
    unavailable: Prepared,
    cross_origin: Prepared,
}

impl Responses {
    pub(crate) fn new(m: &Messages) -> Result<Self, ConfigError> {
        let realm = format!("Bearer realm=\"{}\"", quote(&m.realm));
        let realm_only =
            HeaderValue::try_from(realm.as_str()).map_err(|_| ConfigError::InvalidRealm)?;
        let with_error = |error: &str, message: &str| {
            let value = format!(
                "{realm}, error=\"{error}\", error_description=\"{}\"",
                description(message)
            );
            HeaderValue::try_from(value).map_err(|_| ConfigError::InvalidRealm)
        };
        // RFC 6750 section 3.1: a token was sent and refused.
        let invalid_token = |message: &str| {
            let challenge = with_error("invalid_token", message)?;
            Ok::<_, ConfigError>(Prepared::new(
                StatusCode::UNAUTHORIZED,
                message,
                Some(challenge),
                16,
            ))
        };
        Ok(Self {
            missing: Prepared::new(StatusCode::UNAUTHORIZED, &m.login, Some(realm_only), 16),
            ambiguous: Prepared::new(
                StatusCode::BAD_REQUEST,
                &m.ambiguous,
                Some(with_error("invalid_request", &m.ambiguous)?),
                16,
            ),
            invalid: invalid_token(&m.invalid)?,
            expired: invalid_token(&m.expired)?,
            user_not_found: invalid_token(&m.user_not_found)?,
            revoked: invalid_token(&m.revoked)?,
            internal: Prepared::new(StatusCode::INTERNAL_SERVER_ERROR, &m.internal, None, 13),
            unavailable: Prepared::new(StatusCode::SERVICE_UNAVAILABLE, &m.unavailable, None, 14),
            // Not an authentication failure: no challenge; gRPC PERMISSION_DENIED.
            cross_origin: Prepared::new(StatusCode::FORBIDDEN, &m.cross_origin, None, 7),
        })
    }

    pub(crate) fn get(&self, rejection: &Rejection) -> &Prepared {
        match rejection {
            Rejection::MissingToken => &self.missing,
            Rejection::AmbiguousCredentials => &self.ambiguous,
            Rejection::ExpiredToken => &self.expired,
            Rejection::InvalidToken(_) => &self.invalid,
            Rejection::UserNotFound => &self.user_not_found,
            Rejection::LoaderFailed => &self.internal,
            Rejection::Revoked => &self.revoked,
            Rejection::RevocationUnavailable => &self.unavailable,
            Rejection::CrossOrigin => &self.cross_origin,
        }
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
    pub(crate) fn to_response(&self, grpc: bool) -> Response<Bytes> {
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
///             .body(Bytes::from(format!(r#"{{"title":"{}"}}"#, rejection.kind())))
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

/// The answer to a rejection: the responder's, else the prepared default (always the prepared
/// gRPC status for gRPC requests).
pub(crate) fn reject(settings: &Settings, rejection: Rejection, grpc: bool) -> Response<Bytes> {
    #[cfg(feature = "tracing")]
    match rejection {
        Rejection::InvalidToken(reason) => {
            tracing::debug!(kind = rejection.kind(), %reason, "login rejected the request")
        }
        _ => tracing::debug!(kind = rejection.kind(), "login rejected the request"),
    }
    if !grpc
        && let Some(response) = settings
            .responder
            .as_ref()
            .and_then(|r| r.respond(&rejection))
    {
        return response;
    }
    settings
        .manager
        .inner
        .responses
        .get(&rejection)
        .to_response(grpc)
}

/// A store (loader or revocations) failed: the error goes to the manager's
/// [`on_backend_error`](crate::LoginManagerBuilder::on_backend_error) hook, never to the client,
/// who gets the answer to `rejection`.
pub(crate) fn backend_failed(
    settings: &Settings,
    error: BoxError,
    rejection: Rejection,
    grpc: bool,
) -> Response<Bytes> {
    settings.manager.backend_failed(&*error);
    reject(settings, rejection, grpc)
}

/// `true` when the request is gRPC (`content-type: application/grpc...`), to be answered with a
/// gRPC status rather than JSON.
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/grpc"))
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
