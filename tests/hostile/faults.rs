//! The faults a deployment meets: a loader that fails, panics or hangs, and a clock that moves
//! (expiry, `iat` in the future, the leeway on both sides).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Empty;
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_login_manager::{LoginLayer, LoginManager, TokenError, loader_fn};

use crate::support::{InMemory, NOW, SECRET, manager, read, sign_claims};
use crate::{EXPIRED, INTERNAL, INVALID, User, echo, hv, issue, loader, request};

// ---------------------------------------------------------------------------------------------
// Faults: the loader fails, panics or hangs; the clock moves.
// ---------------------------------------------------------------------------------------------

fn bearer_request(user_id: &str) -> Request<Empty<Bytes>> {
    request(vec![hv(&format!("Bearer {}", issue(user_id)))])
}

#[tokio::test]
async fn a_loader_error_is_a_500_and_the_service_keeps_serving() {
    let mut svc = LoginLayer::new(manager(), loader()).layer(service_fn(echo));
    for (user_id, want) in [
        ("500", (StatusCode::INTERNAL_SERVER_ERROR, INTERNAL)),
        ("1", (StatusCode::OK, "hello 1")),
        ("500", (StatusCode::INTERNAL_SERVER_ERROR, INTERNAL)),
        ("2", (StatusCode::OK, "hello 2")),
    ] {
        let res = svc
            .ready()
            .await
            .unwrap()
            .call(bearer_request(user_id))
            .await
            .unwrap();
        let (status, body) = read(res).await.status_and_body();
        assert_eq!((status, body.as_str()), want, "user {user_id}");
    }
}

/// Observed behaviour: a panic in the loader's future propagates out of the response future
/// (the layer does not catch it). Under hyper or axum, that request's connection task dies and
/// the server goes on; here the service and its clones go on serving.
#[tokio::test]
async fn a_panicking_loader_fails_its_request_only() {
    let mut svc = LoginLayer::new(manager(), loader()).layer(service_fn(echo));
    let clone = svc.clone();

    let fut = svc.ready().await.unwrap().call(bearer_request("panic"));
    let err = tokio::spawn(fut).await.unwrap_err();
    assert!(err.is_panic(), "{err:?}");
    let panic = err.into_panic();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"the loader panicked"));

    let res = svc
        .ready()
        .await
        .unwrap()
        .call(bearer_request("1"))
        .await
        .unwrap();
    assert_eq!(
        read(res).await.status_and_body(),
        (StatusCode::OK, "hello 1".to_owned())
    );
    let res = clone.oneshot(bearer_request("2")).await.unwrap();
    assert_eq!(
        read(res).await.status_and_body(),
        (StatusCode::OK, "hello 2".to_owned())
    );
}

/// A client that disconnects drops the response future: whatever the loader holds is released
/// and the inner service is never called.
#[tokio::test]
async fn a_hanging_loader_is_released_when_the_client_goes_away() {
    let guard = Arc::new(());
    let calls = Arc::new(AtomicUsize::new(0));
    // Not the shared `InMemory`: this loader never answers, and holds a guard while it waits.
    let loader = {
        let guard = guard.clone();
        loader_fn(move |_id: String| {
            let held = guard.clone();
            async move {
                let _held = held;
                std::future::pending::<Result<Option<User>, Infallible>>().await
            }
        })
    };
    let inner_calls = calls.clone();
    let mut svc = LoginLayer::new(manager(), loader).layer(service_fn(move |req| {
        inner_calls.fetch_add(1, Ordering::SeqCst);
        echo(req)
    }));
    let baseline = Arc::strong_count(&guard);

    let fut = svc.ready().await.unwrap().call(bearer_request("1"));
    assert_eq!(
        Arc::strong_count(&guard),
        baseline + 1,
        "the loader holds the guard"
    );
    let timed_out = tokio::time::timeout(Duration::from_millis(20), fut).await;
    assert!(timed_out.is_err(), "the loader never completes");
    assert_eq!(
        Arc::strong_count(&guard),
        baseline,
        "dropped with the response future"
    );

    // Many abandoned requests leak nothing either.
    for _ in 0..100 {
        let fut = svc.ready().await.unwrap().call(bearer_request("1"));
        drop(fut);
    }
    assert_eq!(Arc::strong_count(&guard), baseline);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

// Not `loader()`: every id is a user, so that only the clock decides; loaded through the future.
fn everyone() -> InMemory<User> {
    InMemory::new().others(|id| Some(User(id.to_owned())))
}

#[tokio::test]
async fn a_pinned_clock_decides_expiry_and_moves_without_a_restart() {
    let clock = Arc::new(AtomicU64::new(NOW));
    let c = clock.clone();
    let m = LoginManager::builder(SECRET)
        .clock(move || c.load(Ordering::SeqCst))
        .build()
        .unwrap();
    let t = m.issue_token("1", Duration::from_secs(60)).unwrap();
    assert_eq!(m.decode_token(&t).unwrap().expires_at(), NOW + 60);
    let svc = LoginLayer::new(m.clone(), everyone()).layer(service_fn(echo));
    for (at, want) in [
        (NOW, (StatusCode::OK, "hello 1")),
        (NOW + 59, (StatusCode::OK, "hello 1")),
        (NOW + 60, (StatusCode::UNAUTHORIZED, EXPIRED)),
        // iat (NOW) is now in the future.
        (NOW - 1, (StatusCode::UNAUTHORIZED, INVALID)),
    ] {
        clock.store(at, Ordering::SeqCst);
        let res = svc
            .clone()
            .oneshot(request(vec![hv(&format!("Bearer {t}"))]))
            .await
            .unwrap();
        let (status, body) = read(res).await.status_and_body();
        assert_eq!(
            (status, body.as_str()),
            want,
            "at NOW{:+}",
            at as i64 - NOW as i64
        );
    }
}

#[test]
fn rfc7519_sections4_1_4_and_4_1_5_leeway_is_symmetric() {
    let clock = Arc::new(AtomicU64::new(NOW));
    let c = clock.clone();
    let m = LoginManager::builder(SECRET)
        .clock(move || c.load(Ordering::SeqCst))
        .leeway(Duration::from_secs(30))
        .build()
        .unwrap();
    // Valid from NOW (nbf) to NOW + 100 (exp), widened by 30 s on both sides.
    let t = sign_claims(&format!(
        r#"{{"nbf":{NOW},"exp":{},"user_id":"1"}}"#,
        NOW + 100
    ));
    for (at, want) in [
        (NOW - 31, Err(TokenError::NotYetValid)),
        (NOW - 30, Ok("1")),
        (NOW, Ok("1")),
        (NOW + 100, Ok("1")),
        (NOW + 129, Ok("1")),
        (NOW + 130, Err(TokenError::Expired)),
    ] {
        clock.store(at, Ordering::SeqCst);
        let got = m.decode_token(&t);
        let got = got.as_ref().map(|c| c.user_id()).map_err(|e| *e);
        assert_eq!(got, want, "at NOW{:+}", at as i64 - NOW as i64);
    }
}
