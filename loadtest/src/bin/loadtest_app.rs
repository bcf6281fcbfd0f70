//! The server `loadtest/run.sh layer` measures: one axum app, on a one-thread runtime, with the same
//! handler behind `/open` without the layer and `/protected` behind `LoginLayer` with an in-memory
//! loader, so that the difference between the two is what the layer costs. `/layered` has a
//! pass-through `route_layer`, to tell what any route layer costs in axum from what `LoginLayer`
//! itself costs. Three references verify the token by hand in the handler, with no layer and no
//! user: `/floor` with the verify floor of `benches/decode.rs` (the least work any HS256
//! verifier must do), `/jsonwebtoken` with `jsonwebtoken::decode`, and `/decode_token` with this
//! crate's `LoginManager::decode_token`, so that what verifying costs can be told from what the
//! rest of the layer costs. `/by_hand` is the check a user would write instead of the layer: a
//! pass-through `route_layer` that verifies with `decode_token`, looks the user up in the same
//! loader and puts it into the request's extensions, before `/protected`'s handler (it answers
//! nothing itself: a request it cannot verify reaches the handler without a user, which answers
//! 500). Every route answers a request it lets through with `/open`'s `ok`, so
//! that the routes differ by their checks alone.
//!
//! ```text
//! cargo run --release -p loadtest --bin loadtest_app
//! ```
//!
//! Listens on 127.0.0.1 only (`PORT`, default: any free port) and prints `listening on <url>`, then
//! `token <token>`: a token for the one user, signed with a secret drawn at start, so it is good
//! against this process only. Stops by itself after `MAX_SECS` seconds (default 900), on Ctrl-C,
//! or on SIGTERM.

use std::future::{Future, Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Router};
use hmac::{Hmac, KeyInit};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use sha2::Sha256;
use tower::ServiceExt;
use tower::util::MapRequestLayer;
use tower_login_manager::{LoginLayer, LoginManager, UserLoader};

// Users in memory (`InMemory`, the loader `benches/decode.rs` and `tests/alloc.rs` measure).
#[path = "../../../tests/support/in_memory.rs"]
mod in_memory;
// The verify floor and jsonwebtoken's claims, as `benches/decode.rs` times them.
#[path = "../../../tests/support/reference.rs"]
mod reference;

use in_memory::{User, loader};

async fn open() -> &'static str {
    "ok"
}

async fn protected(Extension(_user): Extension<Arc<User>>) -> &'static str {
    "ok"
}

/// The token of `Authorization: Bearer <token>`, for the reference routes.
fn bearer_token(req: &Request<Body>) -> &[u8] {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .unwrap_or_default()
}

/// What the reference routes answer: `/open`'s `ok` when the token verifies, so that they differ
/// from `/open` by the verifying alone; 401 otherwise.
type Answer = Result<&'static str, StatusCode>;

fn answer(verified: bool) -> Ready<Answer> {
    ready(if verified {
        Ok("ok")
    } else {
        Err(StatusCode::UNAUTHORIZED)
    })
}

/// `/floor`: the verify floor by hand, in the handler.
fn floor_route(secret: &[u8]) -> impl Fn(Request<Body>) -> Ready<Answer> + Clone + use<> {
    let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("any key length");
    move |req| answer(reference::floor(&mac, bearer_token(&req)).is_some())
}

/// `/decode_token`: `LoginManager::decode_token` by hand, in the handler.
fn decode_token_route(
    manager: &LoginManager,
) -> impl Fn(Request<Body>) -> Ready<Answer> + Clone + use<> {
    let manager = manager.clone();
    move |req| {
        let decoded = std::str::from_utf8(bearer_token(&req))
            .ok()
            .and_then(|t| manager.decode_token(t).ok());
        answer(decoded.is_some())
    }
}

/// `/by_hand`'s check: `decode_token`, the user from `loader`, the user into the extensions; no
/// answer of its own and no claims in the extensions. The in-memory loader's future is ready at
/// once, so the check polls it once, in place, and never waits: the cheapest way a hand-written
/// check can use a `UserLoader`.
fn by_hand_check<L: UserLoader>(
    manager: &LoginManager,
    loader: L,
) -> impl Fn(Request<Body>) -> Request<Body> + Clone + use<L> {
    let manager = manager.clone();
    move |mut req| {
        let claims = std::str::from_utf8(bearer_token(&req))
            .ok()
            .and_then(|t| manager.decode_token(t).ok());
        if let Some(claims) = claims {
            let mut load = std::pin::pin!(loader.load_user(claims.user_id()));
            let mut cx = Context::from_waker(Waker::noop());
            if let Poll::Ready(Ok(Some(user))) = load.as_mut().poll(&mut cx) {
                req.extensions_mut().insert(user);
            }
        }
        req
    }
}

/// `/jsonwebtoken`: `jsonwebtoken::decode` by hand, in the handler.
fn jsonwebtoken_route(secret: &[u8]) -> impl Fn(Request<Body>) -> Ready<Answer> + Clone + use<> {
    let key = jsonwebtoken::DecodingKey::from_secret(secret).expect("an HMAC key");
    let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    move |req| {
        let decoded = std::str::from_utf8(bearer_token(&req))
            .ok()
            .and_then(|t| jsonwebtoken::decode::<reference::JwtClaims>(t, &key, &validation).ok());
        answer(decoded.is_some())
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The app answers as it should before it is measured.
async fn self_check(app: &Router, token: &str) -> Result<(), Box<dyn std::error::Error>> {
    let cases = [
        ("/open", None, StatusCode::OK),
        ("/layered", None, StatusCode::OK),
        ("/protected", None, StatusCode::UNAUTHORIZED),
        ("/protected", Some(token), StatusCode::OK),
        ("/floor", None, StatusCode::UNAUTHORIZED),
        ("/floor", Some(token), StatusCode::OK),
        ("/jsonwebtoken", None, StatusCode::UNAUTHORIZED),
        ("/jsonwebtoken", Some(token), StatusCode::OK),
        ("/decode_token", None, StatusCode::UNAUTHORIZED),
        ("/decode_token", Some(token), StatusCode::OK),
        ("/by_hand", None, StatusCode::INTERNAL_SERVER_ERROR),
        ("/by_hand", Some(token), StatusCode::OK),
    ];
    for (path, token, want) in cases {
        let mut req = Request::get(path);
        if let Some(token) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let res = app.clone().oneshot(req.body(Body::empty())?).await?;
        if res.status() != want {
            return Err(format!("GET {path}: {} instead of {want}", res.status()).into());
        }
        // Every route lets a request through with the same answer, so only the checks differ.
        let body = res.into_body().collect().await?.to_bytes();
        if want == StatusCode::OK && body != "ok" {
            return Err(format!("GET {path}: {body:?} instead of \"ok\"").into());
        }
    }
    Ok(())
}

async fn shutdown(max: Duration) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = tokio::time::sleep(max) => eprintln!("MAX_SECS elapsed: stopping"),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = env_or("PORT", 0);
    let max = Duration::from_secs(env_or("MAX_SECS", 900));

    let mut secret = [0u8; 48];
    getrandom::fill(&mut secret).map_err(|e| format!("no randomness: {e}"))?;
    let manager = LoginManager::new(secret)?;
    let token = manager.issue_token("1", max + Duration::from_secs(60))?;
    let loader = loader("1");

    let app =
        Router::new()
            .route("/open", get(open))
            .route("/floor", get(floor_route(&secret)))
            .route("/jsonwebtoken", get(jsonwebtoken_route(&secret)))
            .route("/decode_token", get(decode_token_route(&manager)))
            .merge(Router::new().route("/by_hand", get(protected)).route_layer(
                MapRequestLayer::new(by_hand_check(&manager, loader.clone())),
            ))
            .merge(
                Router::new()
                    .route("/protected", get(protected))
                    .route_layer(LoginLayer::new(manager, loader)),
            )
            .merge(
                Router::new()
                    .route("/layered", get(open))
                    .route_layer(MapRequestLayer::new(|req: Request<Body>| req)),
            );
    self_check(&app, &token).await?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // The token goes to a file only the load-test script reads, never to the terminal.
    if let Some(path) = std::env::var_os("TOKEN_FILE") {
        std::fs::write(path, &token)?;
    }
    println!("ready");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown(max))
        .await?;
    Ok(())
}
