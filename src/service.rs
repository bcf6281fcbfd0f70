//! [`LoginService`]: the middleware itself.

use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use http::{Request, Response};
use tower_service::Service;

use crate::future::ResponseFuture;
use crate::layer::LoginLayer;
use crate::loader::UserLoader;
use crate::manager::LoginManager;
use crate::response::{Failure, is_grpc};

/// Middleware that lets a request through only with a valid bearer token for a known user.
///
/// On success the user (`L::User`) and the token's [`Claims`](crate::Claims) are in the request's
/// extensions. Otherwise it answers without calling the inner service; see the
/// [crate docs](crate#what-the-client-sees) for every answer.
#[derive(Debug, Clone)]
pub struct LoginService<S, L> {
    inner: S,
    manager: LoginManager,
    loader: L,
}

impl<S, L> LoginService<S, L> {
    /// Wraps `inner`.
    pub fn new(inner: S, manager: LoginManager, loader: L) -> Self {
        Self {
            inner,
            manager,
            loader,
        }
    }

    /// A [`LoginLayer`] that wraps services with this middleware.
    pub fn layer(manager: LoginManager, loader: L) -> LoginLayer<L> {
        LoginLayer::new(manager, loader)
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes the middleware, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The manager tokens are checked with.
    pub fn manager(&self) -> &LoginManager {
        &self.manager
    }
}

impl<S, L, ReqBody, ResBody> Service<Request<ReqBody>> for LoginService<S, L>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    L: UserLoader,
{
    type Response = Response<crate::ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, L, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let grpc = is_grpc(&req);
        let failure = match bearer_token(&req) {
            Ok(token) => match self.manager.decode_bytes(token) {
                Ok(claims) => {
                    let fut = self.loader.load_user(claims.user_id());
                    // The instance `poll_ready` readied goes to the future; the clone stays here
                    // and is readied by the next `poll_ready` (tower-service: "Be careful when
                    // cloning inner services").
                    let clone = self.inner.clone();
                    let inner = std::mem::replace(&mut self.inner, clone);
                    let manager = self.manager.clone();
                    return ResponseFuture::load(fut, inner, req, claims, manager, grpc);
                }
                Err(error) => Failure::Token(error),
            },
            Err(failure) => failure,
        };
        let response = self.manager.inner.responses.get(&failure).to_response(grpc);
        ResponseFuture::reject(response)
    }
}

/// The token of `Authorization: Bearer <token>` (RFC 6750 section 2.1). The scheme is matched
/// without regard to case and may be followed by one or more spaces (RFC 9110 section 11.4).
/// No header, another scheme, or nothing after `Bearer` is a missing token; two headers are
/// ambiguous (RFC 6750 section 3.1, `invalid_request`).
pub(crate) fn bearer_token<B>(req: &Request<B>) -> Result<&[u8], Failure> {
    let mut values = req.headers().get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(Failure::MissingToken)?;
    if values.next().is_some() {
        return Err(Failure::Ambiguous);
    }
    parse_bearer(value.as_bytes()).ok_or(Failure::MissingToken)
}

pub(crate) fn parse_bearer(value: &[u8]) -> Option<&[u8]> {
    const SCHEME: &[u8] = b"bearer";
    if value.len() <= SCHEME.len() || !value[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let rest = &value[SCHEME.len()..];
    if rest[0] != b' ' {
        return None;
    }
    let start = rest.iter().position(|b| *b != b' ')?;
    Some(&rest[start..])
}

#[cfg(test)]
mod tests {
    use super::parse_bearer;

    #[test]
    fn rfc6750_section2_1_bearer_scheme() {
        struct Case {
            name: &'static str,
            input: &'static [u8],
            want: Option<&'static [u8]>,
        }
        let cases = [
            Case { name: "plain", input: b"Bearer abc", want: Some(b"abc") },
            Case { name: "lower case scheme (RFC 9110 11.1)", input: b"bearer abc", want: Some(b"abc") },
            Case { name: "upper case scheme", input: b"BEARER abc", want: Some(b"abc") },
            Case { name: "two spaces", input: b"Bearer  abc", want: Some(b"abc") },
            Case { name: "scheme alone", input: b"Bearer", want: None },
            Case { name: "scheme and spaces", input: b"Bearer   ", want: None },
            Case { name: "no space", input: b"Bearerabc", want: None },
            Case { name: "tab is not a separator", input: b"Bearer\tabc", want: None },
            Case { name: "other scheme", input: b"Basic YWxhZGRpbjpvcGVuc2VzYW1l", want: None },
            Case { name: "empty", input: b"", want: None },
            Case { name: "spaces inside the token stay in it", input: b"Bearer a b", want: Some(b"a b") },
        ];
        for case in cases {
            assert_eq!(parse_bearer(case.input), case.want, "{}", case.name);
        }
    }
}
