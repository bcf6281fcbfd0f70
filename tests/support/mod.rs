//! What the integration tests share. Declared in each test binary with `mod support;`, or with
//! `#[path = "../support/mod.rs"] mod support;` from a binary of its own directory
//! (`tests/<name>/main.rs`).
//!
//! - Here: the one secret of the library's tests, [`SECRET`], the pinned clock [`NOW`], the
//!   manager of most tests ([`manager`]), hand-made tokens with any header and claims, and
//!   [`read`], which reads a response whole (status, headers, UTF-8 body, trailers) into an
//!   [`Answer`]: the tests collect a body nowhere else, but in the runtime-free `alloc.rs` and
//!   `properties.rs`, which poll by hand.
//! - [`in_memory`]: the one in-memory `UserLoader`, [`InMemory`], with its options for faults
//!   (a failing or panicking id, everyone known, the waiting path), and the no-op service and
//!   runtime-free request the bench and the allocation test measure with.
//! - [`fixtures`]: the user, loader and tokens of the tests that serve over a loopback socket
//!   (`tests/hyper.rs`, `tests/tonic.rs`).
//! - [`reference`]: the verify floor and jsonwebtoken's claims, for `benches/decode.rs` and the
//!   load test.
//! - [`stores`]: what every `Revocations` store must do.
//!
//! `in_memory.rs` and `reference.rs` are also included on their own, with `#[path]`, by the
//! benches and the load-test apps, so they depend on nothing here.
//! `services.rs` (real PostgreSQL and Redis) is not part of this module: only the tests that
//! need those services include it.
#![allow(dead_code)]

pub mod fixtures;
pub mod in_memory;
pub mod reference;
pub mod stores;

#[allow(unused_imports)]
pub use in_memory::InMemory;

use std::convert::Infallible;
use std::future::{Ready, ready};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Empty, Full};
use sha2::Sha256;
use tower::{Layer, ServiceExt as _, service_fn};
use tower_login_manager::LoginManager;

/// The secret of every library test. The PyJWT fixture tokens (`tests/data/pyjwt_tokens.json`,
/// written by `scripts/pyjwt_fixtures.py`) are signed with it too: change both or neither.
pub const SECRET: &str = "tower-login-manager interop test secret: never use in production";
/// The pinned clock of [`manager`] (2023-11-14).
pub const NOW: u64 = 1_700_000_000;

/// The manager of most tests: [`SECRET`], defaults, the clock pinned at [`NOW`]. Tests that need
/// another clock, a leeway or other options build theirs with `LoginManager::builder(SECRET)`.
pub fn manager() -> LoginManager {
    LoginManager::builder(SECRET).clock(|| NOW).build().unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// HMAC-SHA256 of `input` under `secret`, base64url.
pub fn mac(secret: &[u8], input: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    b64(&mac.finalize().into_bytes())
}

/// A compact JWS of exactly these header and payload bytes, MACed with HS256 under `secret`
/// (whatever the header says).
pub fn sign_raw(header: &[u8], payload: &[u8], secret: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let sig = mac(secret, &input);
    format!("{input}.{sig}")
}

/// A token with the standard header and these claims (a JSON text), signed with [`SECRET`].
pub fn sign_claims(claims: &str) -> String {
    sign_raw(
        br#"{"alg":"HS256","typ":"JWT"}"#,
        claims.as_bytes(),
        SECRET.as_bytes(),
    )
}

/// Decodes a base64url segment.
pub fn unb64(segment: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(segment).unwrap()
}

/// One `GET /` with `Authorization: Bearer <token>` through `layer` around a service that answers
/// `ok`: the status and the body.
pub async fn send<L>(layer: &L, token: &str) -> (StatusCode, String)
where
    L: Layer<
        tower::util::ServiceFn<
            fn(Request<Empty<Bytes>>) -> Ready<Result<Response<Full<Bytes>>, Infallible>>,
        >,
    >,
    L::Service: tower::Service<
            Request<Empty<Bytes>>,
            Response = Response<tower_login_manager::body::ResponseBody<Full<Bytes>>>,
            Error = Infallible,
        >,
{
    fn ok(_: Request<Empty<Bytes>>) -> Ready<Result<Response<Full<Bytes>>, Infallible>> {
        ready(Ok(Response::new(Full::new(Bytes::from_static(b"ok")))))
    }
    let svc = layer.layer(service_fn(ok as fn(_) -> _));
    let req = Request::get("/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Empty::new())
        .unwrap();
    read(svc.oneshot(req).await.unwrap())
        .await
        .status_and_body()
}

/// What a client got: a response read whole.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body, which must be UTF-8.
    pub body: String,
    /// The trailers after the body, if it sent any.
    pub trailers: Option<HeaderMap>,
}

impl Answer {
    pub fn status_and_body(self) -> (StatusCode, String) {
        (self.status, self.body)
    }
}

/// Reads `res` whole: its status, headers, body (panics unless it is UTF-8) and trailers.
pub async fn read<B>(res: Response<B>) -> Answer
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap();
    let trailers = body.trailers().cloned();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8(body.to_bytes().to_vec()).unwrap(),
        trailers,
    }
}
