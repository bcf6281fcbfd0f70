//! The response future of [`LoginService`](crate::LoginService).
//!
//! Its own module, as in tower-http: the type is named in `LoginService`'s `Service` impl, and
//! seldom by users.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::error::BoxError;
use crate::loader::UserLoader;
use crate::rejection::{Answers, Rejection, is_grpc};
use crate::store::Revocations;
use crate::token::Claims;

pin_project! {
    /// Response future of [`LoginService`](crate::LoginService): checks revocation, loads the
    /// user, then calls the inner service, or answers a rejection. No allocation of its own.
    ///
    /// A revoked refresh token of a session revokes its session before the 401 (RFC 9700
    /// section 4.14.2: a spent refresh token came back, so two parties hold it).
    pub struct ResponseFuture<S, L, R, ReqBody>
    where
        S: Service<Request<ReqBody>>,
        L: UserLoader,
        R: Revocations,
    {
        #[pin]
        state: State<S, L, R, ReqBody>,
    }
}

/// What waits for the checks: the readied inner service, the request and its claims.
pub(crate) struct Pending<S, ReqBody> {
    // The instance `poll_ready` readied, taken out of the service by `call`.
    inner: S,
    req: Request<ReqBody>,
    claims: Claims,
    answers: Arc<Answers>,
}

impl<S, ReqBody> Pending<S, ReqBody> {
    pub(crate) fn new(
        inner: S,
        req: Request<ReqBody>,
        claims: Claims,
        answers: Arc<Answers>,
    ) -> Self {
        Self {
            inner,
            req,
            claims,
            answers,
        }
    }

    /// The answer to `rejection`, in HTTP or gRPC as the request is (looked up only here, off
    /// the path of a request that is let through).
    fn reject(self, rejection: Rejection) -> Response<Bytes> {
        self.answers.reject(rejection, is_grpc(self.req.headers()))
    }

    fn backend_failed(self, error: impl Into<BoxError>, rejection: Rejection) -> Response<Bytes> {
        let grpc = is_grpc(self.req.headers());
        self.answers.backend_failed(error.into(), rejection, grpc)
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, L, R, ReqBody>
    where
        S: Service<Request<ReqBody>>,
        L: UserLoader,
        R: Revocations,
    {
        // The revocation check (the token's `jti`, session and user at once), then the load,
        // which is made only once the check has passed: one state holds the request until the
        // inner service is called.
        Wait {
            #[pin]
            check: Option<R::CheckFuture>,
            // Makes the load once the check has passed.
            loader: Option<L>,
            // Ends the session of a refresh token refused as revoked; only for a refresh token
            // of a session.
            ends_session: Option<R>,
            #[pin]
            load: Option<L::Future>,
            pending: Option<Pending<S, ReqBody>>,
        },
        // A revoked refresh token's session being revoked, before the 401.
        EndSession {
            #[pin]
            fut: R::RevokeFuture,
            pending: Option<Pending<S, ReqBody>>,
        },
        Call {
            #[pin]
            fut: S::Future,
        },
        Reject {
            response: Option<Response<Bytes>>,
        },
    }
}

impl<S, L, R, ReqBody> ResponseFuture<S, L, R, ReqBody>
where
    S: Service<Request<ReqBody>>,
    L: UserLoader,
    R: Revocations,
{
    /// The revocation check, then a load from `loader`, then the inner service; `ends_session`
    /// (given for a refresh token of a session) ends the session if the check refuses the token.
    pub(crate) fn check(
        check: R::CheckFuture,
        loader: L,
        ends_session: Option<R>,
        pending: Pending<S, ReqBody>,
    ) -> Self {
        Self {
            state: State::Wait {
                check: Some(check),
                loader: Some(loader),
                ends_session,
                load: None,
                pending: Some(pending),
            },
        }
    }

    /// Straight to the inner service.
    pub(crate) fn call(fut: S::Future) -> Self {
        Self {
            state: State::Call { fut },
        }
    }

    /// An answer of the layer's own, without calling the inner service.
    pub(crate) fn answer(response: Response<Bytes>) -> Self {
        Self {
            state: State::Reject {
                response: Some(response),
            },
        }
    }
}

const COMPLETED: &str = "future polled after completion";

impl<S, L, R, ReqBody, ResBody> Future for ResponseFuture<S, L, R, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    L: UserLoader,
    R: Revocations,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        // The layer's own answer, once the checks refuse the request.
        let answer = loop {
            match state.as_mut().project() {
                StateProj::Wait {
                    mut check,
                    loader,
                    ends_session,
                    mut load,
                    pending,
                } => {
                    if let Some(fut) = check.as_mut().as_pin_mut() {
                        let revoked = ready!(fut.poll(cx));
                        check.set(None);
                        match revoked {
                            Ok(false) => {
                                let loader = loader.take().expect(COMPLETED);
                                let pending = pending.as_ref().expect(COMPLETED);
                                load.set(Some(loader.load_user(pending.claims.user_id())));
                            }
                            // RFC 9700 section 4.14.2: a refresh token refused as revoked was spent
                            // (or its session or user ended): its session goes, so that the pair
                            // issued from it is refused too, whoever holds it.
                            Ok(true) if ends_session.is_some() => {
                                let pending = pending.take().expect(COMPLETED);
                                let revocations = ends_session.take().expect(COMPLETED);
                                let fut = revocations.revoke_session(pending.claims.revocation());
                                state.set(State::EndSession {
                                    fut,
                                    pending: Some(pending),
                                });
                                continue;
                            }
                            Ok(true) => {
                                break pending.take().expect(COMPLETED).reject(Rejection::Revoked);
                            }
                            Err(e) => {
                                break pending
                                    .take()
                                    .expect(COMPLETED)
                                    .backend_failed(e, Rejection::RevocationUnavailable);
                            }
                        }
                    }
                    let loaded = ready!(load.as_pin_mut().expect(COMPLETED).poll(cx));
                    let pending = pending.take().expect(COMPLETED);
                    match loaded {
                        Ok(Some(user)) => {
                            let Pending {
                                mut inner,
                                mut req,
                                claims,
                                ..
                            } = pending;
                            admit(&mut req, user, claims);
                            let fut = inner.call(req);
                            state.set(State::Call { fut });
                        }
                        Ok(None) => break pending.reject(Rejection::UserNotFound),
                        Err(e) => break pending.backend_failed(e, Rejection::LoaderFailed),
                    }
                }
                StateProj::EndSession { fut, pending } => {
                    let ended = ready!(fut.poll(cx));
                    let pending = pending.take().expect(COMPLETED);
                    match ended {
                        // Revoked now, or before: either way the token is refused.
                        Ok(_) => break pending.reject(Rejection::Revoked),
                        // The session may live on: a 503, and the client's retry tries again.
                        Err(e) => {
                            break pending.backend_failed(e, Rejection::RevocationUnavailable);
                        }
                    }
                }
                StateProj::Call { fut } => {
                    let response = ready!(fut.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Reject { response } => break response.take().expect(COMPLETED),
            }
        };
        Poll::Ready(Ok(answer.map(ResponseBody::rejection)))
    }
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
