//! The response future of [`LoginService`](crate::LoginService).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::error::Rejection;
use crate::layer::Shared;
use crate::loader::UserLoader;
use crate::token::Claims;

pin_project! {
    /// Response future of [`LoginService`](crate::LoginService): loads the user, then calls the
    /// inner service, or answers a rejection. No allocation of its own.
    pub struct ResponseFuture<S, L, ReqBody>
    where
        S: Service<Request<ReqBody>>,
        L: UserLoader,
    {
        #[pin]
        state: State<S, L, ReqBody>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, L, ReqBody>
    where
        S: Service<Request<ReqBody>>,
        L: UserLoader,
    {
        Load {
            #[pin]
            fut: L::Future,
            // The instance `poll_ready` readied, taken out of the service by `call`.
            inner: Option<S>,
            req: Option<Request<ReqBody>>,
            claims: Option<Claims>,
            shared: Arc<Shared>,
            grpc: bool,
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

impl<S, L, ReqBody> ResponseFuture<S, L, ReqBody>
where
    S: Service<Request<ReqBody>>,
    L: UserLoader,
{
    pub(crate) fn load(
        fut: L::Future,
        inner: S,
        req: Request<ReqBody>,
        claims: Claims,
        shared: Arc<Shared>,
        grpc: bool,
    ) -> Self {
        Self {
            state: State::Load {
                fut,
                inner: Some(inner),
                req: Some(req),
                claims: Some(claims),
                shared,
                grpc,
            },
        }
    }

    /// Straight to the inner service: skipped requests, anonymous ones in optional mode.
    pub(crate) fn pass(fut: S::Future) -> Self {
        Self {
            state: State::Call { fut },
        }
    }

    pub(crate) fn reject(response: Response<Bytes>) -> Self {
        Self {
            state: State::Reject {
                response: Some(response),
            },
        }
    }
}

impl<S, L, ReqBody, ResBody> Future for ResponseFuture<S, L, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    L: UserLoader,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Load {
                    fut,
                    inner,
                    req,
                    claims,
                    shared,
                    grpc,
                } => {
                    let rejection = match ready!(fut.poll(cx)) {
                        Ok(Some(user)) => {
                            let mut req = req.take().expect("future polled after completion");
                            let claims = claims.take().expect("future polled after completion");
                            let extensions = req.extensions_mut();
                            extensions.insert(user);
                            extensions.insert(claims);
                            let mut inner = inner.take().expect("future polled after completion");
                            let fut = inner.call(req);
                            state.set(State::Call { fut });
                            continue;
                        }
                        Ok(None) => Rejection::UserNotFound,
                        Err(error) => {
                            let error: crate::BoxError = error.into();
                            shared.manager.loader_failed(&*error);
                            Rejection::LoaderFailed
                        }
                    };
                    let response = shared.reject(rejection, *grpc);
                    return Poll::Ready(Ok(response.map(ResponseBody::rejection)));
                }
                StateProj::Call { fut } => {
                    let response = ready!(fut.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Reject { response } => {
                    let response = response.take().expect("future polled after completion");
                    return Poll::Ready(Ok(response.map(ResponseBody::rejection)));
                }
            }
        }
    }
}
