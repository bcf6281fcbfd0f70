//! The response future of [`Require`](super::Require).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::service::Settings;
use crate::body::ResponseBody;
use crate::error::BoxError;
use crate::rejection::{Rejection, is_grpc};

pin_project! {
    /// Response future of [`Require`](super::Require): the [`UserCheck`](super::UserCheck)'s
    /// future `F` if there is one, then the inner service; or the requirement's answer. No
    /// allocation of its own.
    pub struct ResponseFuture<S, ReqBody, F>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody, F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody, F>
    where
        S: Service<Request<ReqBody>>,
    {
        // The user check; the instance `poll_ready` readied waits with the request.
        Check {
            #[pin]
            check: F,
            pending: Option<(S, Request<ReqBody>)>,
            settings: Arc<Settings>,
        },
        Call {
            #[pin]
            fut: S::Future,
        },
        Answer {
            response: Option<Response<Bytes>>,
        },
    }
}

impl<S, ReqBody, F> ResponseFuture<S, ReqBody, F>
where
    S: Service<Request<ReqBody>>,
{
    pub(super) fn check(
        check: F,
        inner: S,
        req: Request<ReqBody>,
        settings: Arc<Settings>,
    ) -> Self {
        Self {
            state: State::Check {
                check,
                pending: Some((inner, req)),
                settings,
            },
        }
    }

    pub(super) fn call(fut: S::Future) -> Self {
        Self {
            state: State::Call { fut },
        }
    }

    pub(super) fn answer(response: Response<Bytes>) -> Self {
        Self {
            state: State::Answer {
                response: Some(response),
            },
        }
    }
}

const COMPLETED: &str = "future polled after completion";

impl<S, ReqBody, ResBody, F, E> Future for ResponseFuture<S, ReqBody, F>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    F: Future<Output = Result<bool, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        let answer = loop {
            match state.as_mut().project() {
                StateProj::Check {
                    check,
                    pending,
                    settings,
                } => {
                    let allowed = ready!(check.poll(cx));
                    let (mut inner, req) = pending.take().expect(COMPLETED);
                    match allowed {
                        Ok(true) => {
                            let fut = inner.call(req);
                            state.set(State::Call { fut });
                        }
                        Ok(false) => break settings.refuse(&req),
                        // As the loader's errors: 500, the error to the hook; never a 403.
                        Err(e) => {
                            let grpc = is_grpc(req.headers());
                            break settings.answers.backend_failed(
                                e.into(),
                                Rejection::LoaderFailed,
                                grpc,
                            );
                        }
                    }
                }
                StateProj::Call { fut } => {
                    let response = ready!(fut.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Answer { response } => break response.take().expect(COMPLETED),
            }
        };
        Poll::Ready(Ok(answer.map(ResponseBody::rejection)))
    }
}
