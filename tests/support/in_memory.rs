//! The one in-memory `UserLoader` of the tests, [`InMemory`], with a no-op inner service and one
//! request driven through a service without a runtime: what `benches/decode.rs` times the layer
//! with, `tests/alloc.rs` counts its allocations with, and the load-test apps
//! (`loadtest/src/bin/`) serve. One copy, so that the bench, the allocation test and the load test
//! measure the very same types and futures; the other tests load their users with it too, through
//! the options below.
//!
//! Part of the tests' support module (`support::in_memory`, from `mod support;`); included on its
//! own with `#[path = "../tests/support/in_memory.rs"] mod in_memory;` from `benches/` and
//! `#[path = "../../../tests/support/in_memory.rs"] mod in_memory;` from `loadtest/src/bin/`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{Future, ready};
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderName, HeaderValue, Request, Response};
use http_body_util::Empty;
use tower::{Service, ServiceExt, service_fn};
use tower_login_manager::UserLoader;

#[derive(Debug)]
pub struct User {
    pub name: String,
}

/// What the map holds for an id.
#[derive(Clone)]
enum Entry<U> {
    /// This user.
    User(U),
    /// The store fails, with this message.
    Fails(&'static str),
    /// The loader panics, with this message, when its future is polled.
    Panics(&'static str),
}

/// Users in memory: loading one costs a hash lookup and a clone (of an `Arc` for the bench's
/// users), so the measurement is the layer's, not a database's. Its future is ready at its first
/// poll, as any in-memory store's or cache's would be.
///
/// Built with [`InMemory::new`] (nobody) and [`user`](InMemory::user); for the tests of faults:
/// [`fails`](InMemory::fails), [`panics`](InMemory::panics) and [`others`](InMemory::others) (who
/// an id not in the map is).
#[derive(Clone)]
pub struct InMemory<U = Arc<User>> {
    users: Arc<HashMap<String, Entry<U>>>,
    /// Who an id that is not in the map is.
    others: fn(&str) -> Option<U>,
}

impl<U: Clone> Default for InMemory<U> {
    fn default() -> Self {
        Self {
            users: Arc::default(),
            others: |_| None,
        }
    }
}

impl<U: Clone> InMemory<U> {
    /// Nobody: every id is unknown.
    pub fn new() -> Self {
        Self::default()
    }

    /// `user_id` is `user`.
    pub fn user(self, user_id: &str, user: U) -> Self {
        self.entry(user_id, Entry::User(user))
    }

    /// Loading `user_id` fails (the store is down) with an `io::Error` of `message`: a 500, and
    /// `message` is what `on_backend_error` sees.
    pub fn fails(self, user_id: &str, message: &'static str) -> Self {
        self.entry(user_id, Entry::Fails(message))
    }

    /// Loading `user_id` panics with `message` (a `&'static str` payload) when the future is
    /// polled, not when `load_user` is called.
    pub fn panics(self, user_id: &str, message: &'static str) -> Self {
        self.entry(user_id, Entry::Panics(message))
    }

    /// An id that is not in the map is the user `others` makes of it (`None`: nobody, the
    /// default). For loaders that know everyone, or everyone but some.
    pub fn others(mut self, others: fn(&str) -> Option<U>) -> Self {
        self.others = others;
        self
    }

    fn entry(mut self, user_id: &str, entry: Entry<U>) -> Self {
        Arc::make_mut(&mut self.users).insert(user_id.to_owned(), entry);
        self
    }

    /// The answer for `user_id`, or the message to panic with.
    fn answer(&self, user_id: &str) -> Result<Result<Option<U>, io::Error>, &'static str> {
        match self.users.get(user_id) {
            Some(Entry::User(user)) => Ok(Ok(Some(user.clone()))),
            Some(Entry::Fails(message)) => Ok(Err(io::Error::other(*message))),
            Some(Entry::Panics(message)) => Err(*message),
            None => Ok(Ok((self.others)(user_id))),
        }
    }
}

impl<U: Clone + Send + Sync + 'static> UserLoader for InMemory<U> {
    type User = U;
    type Error = io::Error;
    type Future = Load<U>;

    fn load_user(&self, user_id: &str) -> Self::Future {
        match self.answer(user_id) {
            Ok(answer) => Load::Ready(Some(answer)),
            Err(message) => Load::Panics(message),
        }
    }
}

/// The future of [`InMemory::load_user`]: ready at its first poll, or panics there.
pub enum Load<U> {
    Ready(Option<Result<Option<U>, io::Error>>),
    Panics(&'static str),
}

// Nothing in it is pinned.
impl<U> Unpin for Load<U> {}

impl<U> Future for Load<U> {
    type Output = Result<Option<U>, io::Error>;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Load::Ready(answer) => Poll::Ready(answer.take().expect("polled after completion")),
            Load::Panics(message) => std::panic::panic_any(*message),
        }
    }
}

/// A loader that knows one user, ada, under `user_id`.
pub fn loader(user_id: &str) -> InMemory {
    InMemory::new().user(user_id, Arc::new(User { name: "ada".into() }))
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
    call_now(svc, req.body(()).expect("a valid request"))
}

/// One `POST /` with these headers through `svc`, as [`one_request`] sends its `GET`.
pub fn one_post<S>(svc: &mut S, headers: &[(HeaderName, HeaderValue)]) -> S::Response
where
    S: Service<Request<()>, Error = Infallible>,
{
    let mut req = Request::post("/");
    for (name, value) in headers {
        req = req.header(name, value.clone());
    }
    call_now(svc, req.body(()).expect("a valid request"))
}

/// `req` through `svc`, readied and answered without a runtime.
fn call_now<S>(svc: &mut S, req: Request<()>) -> S::Response
where
    S: Service<Request<()>, Error = Infallible>,
{
    let svc = now_or_never(svc.ready()).expect("the service is ready");
    now_or_never(svc.call(req)).expect("the service does not fail")
}

/// A header value that is cloned without allocating (`Bytes::from_static`).
pub fn bearer(token: &str) -> HeaderValue {
    HeaderValue::from_static(Box::leak(format!("Bearer {token}").into_boxed_str()))
}
