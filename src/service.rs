//! [`LoginService`]: the middleware itself, and the settings every request of one layer shares.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, Method, Request, Response, Uri};
use tower_service::Service;

use crate::body::ResponseBody;
use crate::error::TokenError;
use crate::future::{Pending, ResponseFuture};
use crate::loader::UserLoader;
use crate::rejection::{Anonymous, Answers, Rejection, is_grpc};
use crate::source::cross_origin::{self, Origin};
use crate::source::{TokenLocation, find_token};
use crate::store::Revocations;
use crate::token::{Claims, TokenKind};
use crate::verifier::TokenVerifier;

pub(crate) type SkipFn = Arc<dyn Fn(&Method, &Uri, &HeaderMap) -> bool + Send + Sync>;

/// What every request handled by one layer shares: the verifier, the answers and the layer's
/// settings. Built by [`LoginLayer`](crate::LoginLayer).
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) verifier: TokenVerifier,
    pub(crate) answers: Arc<Answers>,
    pub(crate) anonymous: Anonymous,
    pub(crate) skip: Option<SkipFn>,
    pub(crate) locations: Vec<TokenLocation>,
    pub(crate) kind: TokenKind,
    /// The origins trusted to send cross-origin requests with a cookie's token; `None` when
    /// the check is off.
    pub(crate) trusted_origins: Option<Vec<Origin>>,
}

impl Settings {
    /// `true` when the request passes untouched (by default: CORS preflight).
    fn skips<B>(&self, req: &Request<B>) -> bool {
        self.skip
            .as_ref()
            .is_some_and(|skip| skip(req.method(), req.uri(), req.headers()))
    }

    /// Whether a request may use the token it sent in a cookie: see [`cross_origin::allows`].
    fn cookie_allowed<B>(&self, req: &Request<B>) -> bool {
        self.trusted_origins
            .as_deref()
            .is_none_or(|trusted| cross_origin::allows(req, trusted))
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("verifier", &self.verifier)
            .field("answers", &self.answers)
            .field("anonymous", &self.anonymous)
            .field("skip", &self.skip.as_ref().map(|_| "Fn"))
            .field("locations", &self.locations)
            .field("kind", &self.kind)
            .field("trusted_origins", &self.trusted_origins)
            .finish()
    }
}

/// Put into the extensions of a request the layer let through *without* a user (anonymous
/// requests, skipped requests), so that the axum extractors and a
/// [`RequireLayer`](crate::RequireLayer) can tell "no user" from "no layer", and answer a
/// required user's absence as the layer would have.
#[derive(Clone)]
pub(crate) struct PassedWithoutUser {
    answers: Arc<Answers>,
    /// The layer's answer had login been required.
    rejection: Rejection,
    /// The layer was told to leave the request unchecked (`skip_if`: CORS preflight by default).
    pub(crate) skipped: bool,
}

impl PassedWithoutUser {
    /// The layer's answer to this request, had login been required.
    pub(crate) fn answer(&self, grpc: bool) -> Response<bytes::Bytes> {
        self.answers.reject(self.rejection, grpc)
    }
}

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

    /// The token at once; its revocation and the user in the response future.
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if self.settings.skips(&req) {
            return self.pass(req, Rejection::MissingToken, true);
        }
        match self.verify(&req) {
            Ok(claims) => self.wait(req, claims),
            Err(rejection) if self.settings.anonymous.lets_through(rejection) => {
                self.pass(req, rejection, false)
            }
            Err(rejection) => {
                let answer = self
                    .settings
                    .answers
                    .reject(rejection, is_grpc(req.headers()));
                ResponseFuture::answer(answer)
            }
        }
    }
}

/// The steps of [`LoginService::call`], in order.
impl<S, L, R> LoginService<S, L, R> {
    /// The claims of a valid token of the layer's kind. A token from a cookie must pass the
    /// cross-origin check first.
    fn verify<B>(&self, req: &Request<B>) -> Result<Claims, Rejection> {
        let settings = &*self.settings;
        let found = find_token(req, &settings.locations)?.ok_or(Rejection::MissingToken)?;
        if found.in_cookie() && !settings.cookie_allowed(req) {
            return Err(Rejection::CrossOrigin);
        }
        match settings.verifier.decode_bytes(found.token) {
            Ok(claims) if claims.kind() != settings.kind => {
                Err(Rejection::InvalidToken(TokenError::WrongTokenType))
            }
            Ok(mut claims) => {
                claims.location = Some(found.location.clone());
                Ok(claims)
            }
            Err(error) => Err(Rejection::from_token_error(error)),
        }
    }

    /// Leaves the revocation check (the token's `jti`, its session and its user's cutoff, in one
    /// store operation) and the loading of the user to the response future, which starts the
    /// load only once the check has passed. The instance `poll_ready` readied goes with it; the
    /// clone stays here and is readied by the next `poll_ready` (tower-service: "Be careful when
    /// cloning inner services").
    fn wait<B>(&mut self, req: Request<B>, claims: Claims) -> ResponseFuture<S, L, R, B>
    where
        S: Service<Request<B>> + Clone,
        L: UserLoader,
        R: Revocations,
    {
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let check = self.revocations.is_revoked(&claims.revocation());
        // RFC 9700 section 4.14.2: a refresh token of a session that the check refuses ends its
        // session; only such a token takes the store along (off the path of access tokens).
        let ends_session = (claims.kind() == TokenKind::Refresh && claims.sid.is_some())
            .then(|| self.revocations.clone());
        let pending = Pending::new(inner, req, claims, self.settings.answers.clone());
        ResponseFuture::check(check, self.loader.clone(), ends_session, pending)
    }

    /// Hands the request to the inner service with no user; `rejection` is the answer had
    /// login been required, which the axum extractors that require a user, and a requirement,
    /// give; `skipped` when [`skip_if`](crate::LoginLayer::skip_if) said so.
    fn pass<B>(
        &mut self,
        mut req: Request<B>,
        rejection: Rejection,
        skipped: bool,
    ) -> ResponseFuture<S, L, R, B>
    where
        S: Service<Request<B>>,
        L: UserLoader,
        R: Revocations,
    {
        req.extensions_mut().insert(PassedWithoutUser {
            answers: self.settings.answers.clone(),
            rejection,
            skipped,
        });
        ResponseFuture::call(self.inner.call(req))
    }
}
