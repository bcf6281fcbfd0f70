//! [`LoginService`]: the middleware itself.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use crate::body::ResponseBody;
use crate::error::{BoxError, Rejection, TokenError};
use crate::extract::find_token;
use crate::future::{Pending, ResponseFuture};
use crate::layer::Settings;
use crate::loader::UserLoader;
use crate::response::{backend_failed, is_grpc, reject};
use crate::revocation::Revocations;
use crate::token::Claims;

/// Middleware that lets a request through only with a valid bearer token for a known user.
///
/// On success the user (`L::User`) and the token's [`Claims`](crate::Claims) are in the request's
/// extensions. Otherwise it answers without calling the inner service; see the
/// [crate docs](crate#what-the-client-sees) for every answer. Built by [`LoginLayer`](crate::LoginLayer).
#[derive(Clone)]
pub struct LoginService<S, L, R = ()> {
    inner: S,
    loader: L,
    revocations: R,
    settings: Arc<Settings>,
}

impl<S, L, R> LoginService<S, L, R> {
    pub(crate) fn from_parts(inner: S, loader: L, revocations: R, settings: Arc<Settings>) -> Self {
        Self {
            inner,
            loader,
            revocations,
            settings,
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
}

impl<S: fmt::Debug, L: fmt::Debug, R: fmt::Debug> fmt::Debug for LoginService<S, L, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginService")
            .field("inner", &self.inner)
            .field("loader", &self.loader)
            .field("revocations", &self.revocations)
            .field("settings", &self.settings)
            .finish()
    }
}

impl<S, L, R, ReqBody, ResBody> Service<Request<ReqBody>> for LoginService<S, L, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    L: UserLoader,
    R: Revocations,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, L, R, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    /// The token, then its revocation, then the user: each step answered at once when it can
    /// be, and the rest left to the response future.
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if self.settings.skips(&req) {
            return self.pass(req, Rejection::MissingToken);
        }
        let claims = match self.verify(&req) {
            Ok(claims) => claims,
            Err(rejection) if self.settings.lets_through(rejection) => {
                return self.pass(req, rejection);
            }
            Err(rejection) => return self.reject(rejection, &req),
        };
        let check = match self.revocation_at_hand(&claims) {
            AtHand::NotRevoked => None,
            AtHand::Wait(check) => Some(check),
            AtHand::Revoked => return self.reject(Rejection::Revoked, &req),
            AtHand::Failed(e) => return self.fail(Rejection::RevocationUnavailable, e, &req),
        };
        if check.is_none() {
            match self.loader.load_user_now(claims.user_id()) {
                Some(Ok(Some(user))) => return self.admit(req, user, claims),
                Some(Ok(None)) => return self.reject(Rejection::UserNotFound, &req),
                Some(Err(e)) => return self.fail(Rejection::LoaderFailed, e.into(), &req),
                None => {}
            }
        }
        self.wait(check, req, claims)
    }
}

/// The steps of [`LoginService::call`], in order.
impl<S, L, R> LoginService<S, L, R> {
    /// The claims of a valid token of the layer's kind. A token from a cookie must pass the
    /// cross-origin check first.
    fn verify<B>(&self, req: &Request<B>) -> Result<Claims, Rejection> {
        let settings = &*self.settings;
        let found = find_token(req, &settings.locations)?.ok_or(Rejection::MissingToken)?;
        if found.from_cookie && !settings.cookie_allowed(req) {
            return Err(Rejection::CrossOrigin);
        }
        match settings.manager.decode_bytes(found.token) {
            Ok(claims) if claims.kind() != settings.kind => {
                Err(Rejection::InvalidToken(TokenError::WrongTokenType))
            }
            Ok(claims) => Ok(claims),
            Err(error) => Err(Rejection::from_token_error(error)),
        }
    }

    /// Whether the token's `jti` (RFC 7519 section 4.1.7) is revoked, if the store knows at
    /// once; a token without `jti` cannot be revoked.
    fn revocation_at_hand(&self, claims: &Claims) -> AtHand<R::CheckFuture>
    where
        R: Revocations,
    {
        let Some(jti) = claims.token_id() else {
            return AtHand::NotRevoked;
        };
        match self.revocations.is_revoked_now(jti) {
            Some(Ok(false)) => AtHand::NotRevoked,
            Some(Ok(true)) => AtHand::Revoked,
            Some(Err(e)) => AtHand::Failed(e.into()),
            None => AtHand::Wait(self.revocations.is_revoked(jti)),
        }
    }

    /// Lets the request in now: the user and the claims go into its extensions.
    fn admit<B, U>(
        &mut self,
        mut req: Request<B>,
        user: U,
        claims: Claims,
    ) -> ResponseFuture<S, L, R, B>
    where
        S: Service<Request<B>>,
        L: UserLoader,
        R: Revocations,
        U: Clone + Send + Sync + 'static,
    {
        admit(&mut req, user, claims);
        ResponseFuture::call(self.inner.call(req))
    }

    /// Leaves the revocation check, or the loading of the user, to the response future. The
    /// instance `poll_ready` readied goes with it; the clone stays here and is readied by the
    /// next `poll_ready` (tower-service: "Be careful when cloning inner services").
    fn wait<B>(
        &mut self,
        check: Option<R::CheckFuture>,
        req: Request<B>,
        claims: Claims,
    ) -> ResponseFuture<S, L, R, B>
    where
        S: Service<Request<B>> + Clone,
        L: UserLoader,
        R: Revocations,
    {
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        match check {
            Some(check) => {
                let pending = Pending::new(inner, req, claims, self.settings.clone());
                ResponseFuture::check(check, self.loader.clone(), pending)
            }
            None => {
                let load = self.loader.load_user(claims.user_id());
                let pending = Pending::new(inner, req, claims, self.settings.clone());
                ResponseFuture::load(load, pending)
            }
        }
    }

    /// Hands the request to the inner service with no user; `rejection` is the answer had
    /// login been required, which the axum extractors that require a user give.
    #[cfg_attr(not(feature = "axum"), allow(unused_mut, unused_variables))]
    fn pass<B>(&mut self, mut req: Request<B>, rejection: Rejection) -> ResponseFuture<S, L, R, B>
    where
        S: Service<Request<B>>,
        L: UserLoader,
        R: Revocations,
    {
        #[cfg(feature = "axum")]
        req.extensions_mut()
            .insert(crate::axum::PassedWithoutUser::new(
                &self.settings,
                rejection,
            ));
        ResponseFuture::call(self.inner.call(req))
    }

    /// Answers `rejection` without calling the inner service, in HTTP or gRPC as the request is
    /// (looked up only here, off the path of a request that is let through).
    fn reject<B>(&self, rejection: Rejection, req: &Request<B>) -> ResponseFuture<S, L, R, B>
    where
        S: Service<Request<B>>,
        L: UserLoader,
        R: Revocations,
    {
        ResponseFuture::answer(reject(&self.settings, rejection, is_grpc(req.headers())))
    }

    /// A store failed: see [`backend_failed`].
    fn fail<B>(
        &self,
        rejection: Rejection,
        error: BoxError,
        req: &Request<B>,
    ) -> ResponseFuture<S, L, R, B>
    where
        S: Service<Request<B>>,
        L: UserLoader,
        R: Revocations,
    {
        let grpc = is_grpc(req.headers());
        ResponseFuture::answer(backend_failed(&self.settings, error, rejection, grpc))
    }
}

/// What the revocation store answers at once about a token.
enum AtHand<F> {
    NotRevoked,
    Revoked,
    /// The store must be waited for.
    Wait(F),
    Failed(BoxError),
}

/// Lets the request in: the user and the token's claims go into its extensions.
pub(crate) fn admit<B, U: Clone + Send + Sync + 'static>(
    req: &mut Request<B>,
    user: U,
    claims: Claims,
) {
    let extensions = req.extensions_mut();
    extensions.insert(user);
    extensions.insert(claims);
}
