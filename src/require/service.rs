//! [`Require`]: the middleware itself, and what every request of one layer shares.

use std::convert::Infallible;
use std::fmt;
use std::future::Ready;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower_service::Service;

use super::check::{Rule, UserCheck};
use super::future::ResponseFuture;
use crate::body::ResponseBody;
use crate::rejection::{Answers, Rejection, is_grpc};
use crate::service::PassedWithoutUser;
use crate::token::Claims;

/// What every request handled by one [`RequireLayer`](super::RequireLayer) shares: the rule
/// and the answers.
#[derive(Clone, Debug)]
pub(super) struct Settings {
    pub(super) rule: Rule,
    pub(super) answers: Answers,
}

/// What a requirement does with a request, before any check of the user.
pub(super) enum Decision {
    /// Its claims pass the rule: on to the user check, if any, and the inner service.
    Check,
    /// The login layer was told to leave it unchecked (`skip_if`): on to the inner service.
    Skipped,
    /// This answer: 403, the login layer's own for a request it let through without a user
    /// (401 "You need to login" for an anonymous one), or 500 with no login layer in front.
    Answer(Response<Bytes>),
}

impl Settings {
    #[inline]
    fn decide<B>(&self, req: &Request<B>) -> Decision {
        let grpc = || is_grpc(req.headers());
        let Some(claims) = req.extensions().get::<Claims>() else {
            return match req.extensions().get::<PassedWithoutUser>() {
                Some(passed) if passed.skipped => Decision::Skipped,
                Some(passed) => Decision::Answer(passed.answer(grpc())),
                None => Decision::Answer(self.answers.no_login_layer(grpc())),
            };
        };
        match self.rule.allows(claims) {
            true => Decision::Check,
            false => Decision::Answer(self.refuse(req)),
        }
    }

    /// 403: the request's token or user does not allow the route.
    pub(super) fn refuse<B>(&self, req: &Request<B>) -> Response<Bytes> {
        let grpc = is_grpc(req.headers());
        self.answers.reject(Rejection::InsufficientScope, grpc)
    }
}

/// Middleware that lets a request through only if its verified claims (or its user) satisfy a
/// requirement; see [`RequireLayer`](super::RequireLayer), which builds it.
pub struct Require<S, A = ()> {
    inner: S,
    user: A,
    settings: Arc<Settings>,
}

impl<S, A> Require<S, A> {
    pub(super) fn from_parts(inner: S, user: A, settings: Arc<Settings>) -> Self {
        Self {
            inner,
            user,
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

impl<S: Clone, A: Clone> Clone for Require<S, A> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            user: self.user.clone(),
            settings: self.settings.clone(),
        }
    }
}

impl<S: fmt::Debug, A> fmt::Debug for Require<S, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Require")
            .field("inner", &self.inner)
            .field("user", &std::any::type_name::<A>())
            .field("settings", &self.settings)
            .finish()
    }
}

/// A check over the claims alone: made in `call`, which calls the inner service at once.
impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Require<S, ()>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, Ready<Result<bool, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        match self.settings.decide(&req) {
            Decision::Check | Decision::Skipped => ResponseFuture::call(self.inner.call(req)),
            Decision::Answer(answer) => ResponseFuture::answer(answer),
        }
    }
}

/// A check over the user: the claims are checked in `call`, the user in the response future.
impl<S, A, ReqBody, ResBody> Service<Request<ReqBody>> for Require<S, A>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    A: UserCheck,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody, A::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    /// The instance `poll_ready` readied goes with the request to the response future; the
    /// clone stays here and is readied by the next `poll_ready` (tower-service: "Be careful
    /// when cloning inner services").
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        match self.settings.decide(&req) {
            Decision::Check => {}
            Decision::Skipped => return ResponseFuture::call(self.inner.call(req)),
            Decision::Answer(answer) => return ResponseFuture::answer(answer),
        }
        let Some(user) = req.extensions().get::<A::User>() else {
            let grpc = is_grpc(req.headers());
            return ResponseFuture::answer(self.settings.answers.no_login_layer(grpc));
        };
        let check = self.user.check(user);
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::check(check, inner, req, self.settings.clone())
    }
}
