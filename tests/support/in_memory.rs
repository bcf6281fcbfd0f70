//! An in-memory `UserLoader`, a no-op inner service and one request driven through a service
//! without a runtime: what `benches/decode.rs` times the layer with, `tests/alloc.rs` counts its
//! allocations with, and `examples/loadtest_app.rs` serves. One copy, so that the bench, the
//! allocation test and the load test measure the very same types and futures.
//!
//! Included as a module: `#[path = "support/in_memory.rs"] mod in_memory;` from `tests/`,
//! `#[path = "../tests/support/in_memory.rs"] mod in_memory;` from `benches/` and `examples/`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response};
use http_body_util::Empty;
use tower::{Service, ServiceExt, service_fn};
use tower_login_manager::UserLoader;

#[derive(Debug)]
pub struct User {
    pub name: String,
}

/// Users in memory: loading one costs a hash lookup and an `Arc` clone, so the measurement is the
/// layer's, not a database's. The answer is at hand, so the loader gives it through
/// `load_user_now` too, as any in-memory store or cache would.
#[derive(Clone)]
pub struct InMemory(pub Arc<HashMap<String, Arc<User>>>);

impl UserLoader for InMemory {
    type User = Arc<User>;
    type Error = Infallible;
    type Future = Ready<Result<Option<Arc<User>>, Infallible>>;

    fn load_user(&self, user_id: &str) -> Self::Future {
        ready(Ok(self.0.get(user_id).cloned()))
    }

    /// At hand: the layer calls the inner service at once (`UserLoader::load_user_now`).
    fn load_user_now(&self, user_id: &str) -> Option<Result<Option<Arc<User>>, Infallible>> {
        Some(Ok(self.0.get(user_id).cloned()))
    }
}

/// A loader that knows one user, ada, under `user_id`.
pub fn loader(user_id: &str) -> InMemory {
    let user = Arc::new(User { name: "ada".into() });
    InMemory(Arc::new(HashMap::from([(user_id.to_owned(), user)])))
}

pub type Empty200 = Response<Empty<Bytes>>;

/// The inner service: answers every request with an empty 200, allocating nothing.
pub fn noop() -> impl Service<Request<()>, Response = Empty200, Error = Infallible> + Clone {
    service_fn(|_: Request<()>| ready(Ok(Response::new(Empty::new()))))
}

/// Polls a future that is ready at once (every future here is): no runtime in the measurement.
pub fn now_or_never<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the future was not ready at once"),
    }
}

/// One request through `svc`, built here so that every case pays for building it; the response
/// is returned so that the caller drops it.
pub fn one_request<S>(svc: &mut S, authorization: Option<&HeaderValue>) -> S::Response
where
    S: Service<Request<()>, Error = Infallible>,
{
    let mut req = Request::get("/");
    if let Some(value) = authorization {
        req = req.header(AUTHORIZATION, value.clone());
    }
    let req = req.body(()).expect("a valid request");
    let svc = now_or_never(svc.ready()).expect("the service is ready");
    now_or_never(svc.call(req)).expect("the service does not fail")
}

/// A header value that is cloned without allocating (`Bytes::from_static`).
pub fn bearer(token: &str) -> HeaderValue {
    HeaderValue::from_static(Box::leak(format!("Bearer {token}").into_boxed_str()))
}
