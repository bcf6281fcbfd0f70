//! [`LoginService`]: the middleware itself.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use crate::error::{BoxError, Rejection, TokenError};
use crate::extract::find_token;
use crate::future::{Pending, ResponseFuture, admit};
use crate::layer::{LoginLayer, Shared};
use crate::loader::UserLoader;
use crate::manager::LoginManager;
use crate::response::is_grpc;
use crate::revocation::{NoRevocation, Revocations};

/// Middleware that lets a request through only with a valid bearer token for a known user.
///
/// On success the user (`L::User`) and the token's [`Claims`](crate::Claims) are in the request's
/// extensions. Otherwise it answers without calling the inner service; see the
/// [crate docs](crate#what-the-client-sees) for every answer. Built by [`LoginLayer`].
#[derive(Clone)]
pub struct LoginService<S, L, R = NoRevocation> {
    inner: S,
    loader: L,
    revocations: Option<R>,
    shared: Arc<Shared>,
}

impl<S, L> LoginService<S, L> {
    /// Wraps `inner` with the default settings of [`LoginLayer::new`].
    pub fn new(inner: S, manager: LoginManager, loader: L) -> Self
    where
        L: Clone,
    {
        tower_layer::Layer::layer(&LoginLayer::new(manager, loader), inner)
    }

    /// A [`LoginLayer`] that wraps services with this middleware.
    pub fn layer(manager: LoginManager, loader: L) -> LoginLayer<L> {
        LoginLayer::new(manager, loader)
    }
}

impl<S, L, R> LoginService<S, L, R> {
    pub(crate) fn from_parts(
        inner: S,
        loader: L,
        revocations: Option<R>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            inner,
            loader,
            revocations,
            shared,
        }
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
        &self.shared.manager
    }
}

impl<S: fmt::Debug, L: fmt::Debug, R: fmt::Debug> fmt::Debug for LoginService<S, L, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginService")
            .field("inner", &self.inner)
            .field("loader", &self.loader)
            .field("revocations", &self.revocations)
            .field("settings", &self.shared)
            .finish()
    }
}

impl<S, L, R> LoginService<S, L, R> {
    /// Answers `rejection` without calling the inner service, in HTTP or gRPC as the request is
    /// (looked up only here, off the path of a request that is let through).
    fn reject<ReqBody>(
        &self,
        rejection: Rejection,
        req: &Request<ReqBody>,
    ) -> ResponseFuture<S, L, R, ReqBody>
    where
        S: Service<Request<ReqBody>>,
        L: UserLoader,
        R: Revocations,
    {
        ResponseFuture::reject(self.shared.reject(rejection, is_grpc(req)))
    }

    /// A store failed: see `Shared::failed`.
    fn failed<ReqBody>(
        &self,
        error: BoxError,
        rejection: Rejection,
        req: &Request<ReqBody>,
    ) -> ResponseFuture<S, L, R, ReqBody>
    where
        S: Service<Request<ReqBody>>,
        L: UserLoader,
        R: Revocations,
    {
        ResponseFuture::reject(self.shared.failed(error, rejection, is_grpc(req)))
    }

    /// Hands the request to the inner service with no user.
    fn pass<ReqBody, ResBody>(
        &mut self,
        #[allow(unused_mut)] mut req: Request<ReqBody>,
    ) -> ResponseFuture<S, L, R, ReqBody>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
        L: UserLoader,
        R: Revocations,
    {
        #[cfg(feature = "axum")]
        req.extensions_mut().insert(crate::axum::PassedWithoutUser);
        ResponseFuture::pass(self.inner.call(req))
    }
}

impl<S, L, R, ReqBody, ResBody> Service<Request<ReqBody>> for LoginService<S, L, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    L: UserLoader,
    R: Revocations,
{
    type Response = Response<crate::ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, L, R, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let shared = &*self.shared;
        if shared.skips(req.method(), req.uri(), req.headers()) {
            return self.pass(req);
        }
        let rejection = match find_token(&req, &shared.locations) {
            Ok(Some(token)) => match shared.manager.decode_bytes(token) {
                Ok(claims) if claims.kind() != shared.kind => {
                    Rejection::InvalidToken(TokenError::WrongTokenType)
                }
                Ok(claims) => {
                    // Revocation first (RFC 7519 `jti`), then the user; each answered at once when
                    // the store has the answer at hand, through a future otherwise.
                    let check = match (&self.revocations, claims.token_id()) {
                        (Some(revocations), Some(jti)) => match revocations.is_revoked_now(jti) {
                            Some(Ok(false)) => None,
                            Some(Ok(true)) => return self.reject(Rejection::Revoked, &req),
                            Some(Err(e)) => {
                                return self.failed(
                                    e.into(),
                                    Rejection::RevocationUnavailable,
                                    &req,
                                );
                            }
                            None => Some(revocations.is_revoked(jti)),
                        },
                        _ => None,
                    };
                    if check.is_none() {
                        match self.loader.load_user_now(claims.user_id()) {
                            Some(Ok(Some(user))) => {
                                admit(&mut req, user, claims);
                                return ResponseFuture::pass(self.inner.call(req));
                            }
                            Some(Ok(None)) => return self.reject(Rejection::UserNotFound, &req),
                            Some(Err(e)) => {
                                return self.failed(e.into(), Rejection::LoaderFailed, &req);
                            }
                            None => {}
                        }
                    }
                    // Waiting for a future: the instance `poll_ready` readied goes to the response
                    // future; the clone stays here and is readied by the next `poll_ready`
                    // (tower-service: "Be careful when cloning inner services").
                    let clone = self.inner.clone();
                    let inner = std::mem::replace(&mut self.inner, clone);
                    return match check {
                        Some(check) => {
                            let pending = Pending::new(inner, req, claims, self.shared.clone());
                            ResponseFuture::check(check, self.loader.clone(), pending)
                        }
                        None => {
                            let load = self.loader.load_user(claims.user_id());
                            let pending = Pending::new(inner, req, claims, self.shared.clone());
                            ResponseFuture::load(load, pending)
                        }
                    };
                }
                Err(TokenError::Expired) if shared.optional && shared.expired_as_anonymous => {
                    return self.pass(req);
                }
                Err(error) => Rejection::from_token_error(error),
            },
            Ok(None) if shared.optional => return self.pass(req),
            Ok(None) => Rejection::MissingToken,
            Err(rejection) => rejection,
        };
        self.reject(rejection, &req)
    }
}
