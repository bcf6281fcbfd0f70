//! What every `Revocations` store must do, run on each store by the test of that store:
//! `tests/tokens_beyond.rs` (memory, as `support::stores`) and `tests/redis.rs` (a real Redis).

use std::convert::Infallible;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{Empty, Full};
use tower::{Layer, ServiceExt, service_fn};
use tower_login_manager::{Claims, LoginLayer, LoginManager, Revocations, TokenKind, loader_fn};

/// The verified claims of a new token with an id, for `ttl` from `manager`'s now.
pub fn token(manager: &LoginManager, ttl: Duration) -> Claims {
    let token = manager.issue_token("1", ttl).unwrap();
    let claims = manager.decode_token(&token).unwrap();
    assert!(
        claims.revocation().is_some(),
        "every issued token carries a jti"
    );
    claims
}

/// `tasks` tasks, released together by a barrier, each revoking the token of `claims`: the number
/// that got `true`. Needs a multi-thread runtime to race for real.
pub async fn winners<R>(store: &R, claims: &Claims, tasks: usize) -> usize
where
    R: Revocations,
    R::Error: Debug,
{
    let start = Arc::new(tokio::sync::Barrier::new(tasks));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (store, start, claims) = (store.clone(), start.clone(), claims.clone());
            tokio::spawn(async move {
                start.wait().await;
                store.revoke(claims.revocation().unwrap()).await.unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for handle in handles {
        winners += usize::from(handle.await.unwrap());
    }
    winners
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The status a layer with `store` answers for `token`.
async fn status<R: Revocations>(
    manager: &LoginManager,
    store: &R,
    kind: TokenKind,
    token: &str,
) -> StatusCode {
    // Everyone, by `loader_fn`: this file is also included without `support::InMemory`.
    let loader = loader_fn(|id: String| async move { Ok::<_, Infallible>(Some(id)) });
    let svc = LoginLayer::new(manager.clone(), loader)
        .token_kind(kind)
        .revocations(store.clone())
        .layer(service_fn(|_: Request<Empty<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        }));
    let req = Request::get("/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Empty::new())
        .unwrap();
    svc.oneshot(req).await.unwrap().status()
}

/// RFC 7519 section 4.1.4 (the leeway extends `exp`) meets revocation: a revoked access token
/// and a spent refresh token (RFC 9700 section 4.14.2) stay refused for as long as the verifier
/// would otherwise accept them, `exp` plus the leeway, even after the store has dropped what it
/// thinks has expired. On the system clock, which a Redis server keeps time by too: about 3 s.
pub async fn revoked_tokens_stay_refused_through_the_leeway<R>(store: &R)
where
    R: Revocations,
    R::Error: Debug,
{
    let manager = LoginManager::builder("the stores' shared test secret, 32+ bytes")
        .leeway(Duration::from_secs(5))
        .access_ttl(Duration::from_secs(1))
        .refresh_ttl(Duration::from_secs(1))
        .build()
        .unwrap();
    let pair = manager.issue_token_pair("1").unwrap();
    let twin = manager.issue_token_pair("1").unwrap();
    let access = manager.decode_token(&pair.access_token).unwrap();
    let refresh = manager.decode_token(&pair.refresh_token).unwrap();
    let exp = access.expires_at();

    // Logout, and the first exchange of the refresh token.
    assert!(store.revoke(access.revocation().unwrap()).await.unwrap());
    assert!(store.revoke(refresh.revocation().unwrap()).await.unwrap());

    // Past `exp`, inside the leeway.
    while unix_now() < exp + 2 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Other revocations, so that a store that prunes expired entries does so now.
    for _ in 0..100 {
        let other = token(&manager, Duration::from_secs(1));
        store.revoke(other.revocation().unwrap()).await.unwrap();
    }

    // The verifier still accepts tokens of that age...
    assert_eq!(
        status(&manager, store, TokenKind::Access, &twin.access_token).await,
        StatusCode::OK,
        "inside the leeway"
    );
    // ...so the revoked ones must still be refused, and the spent refresh token spent.
    assert_eq!(
        status(&manager, store, TokenKind::Access, &pair.access_token).await,
        StatusCode::UNAUTHORIZED,
        "a revoked access token came back inside the leeway"
    );
    assert_eq!(
        status(&manager, store, TokenKind::Refresh, &pair.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "a spent refresh token came back inside the leeway"
    );
    assert!(
        !store.revoke(refresh.revocation().unwrap()).await.unwrap(),
        "a spent refresh token was spent a second time"
    );
    assert!(unix_now() < exp + 5, "the checks ran inside the leeway");
}

/// A token that never expires (`Duration::MAX`: `exp` near `u64::MAX`) can be revoked like any
/// other, and stays revoked.
pub async fn a_token_that_never_expires_can_be_revoked<R>(store: &R)
where
    R: Revocations,
    R::Error: Debug,
{
    let manager = LoginManager::builder("the stores' shared test secret, 32+ bytes")
        .build()
        .unwrap();
    let token = manager.issue_token("1", Duration::MAX).unwrap();
    let claims = manager.decode_token(&token).unwrap();
    let revocation = claims.revocation().unwrap();
    assert!(store.revoke(revocation).await.unwrap(), "revoked");
    assert!(!store.revoke(revocation).await.unwrap(), "already revoked");
    assert!(store.is_revoked(revocation.token_id()).await.unwrap());
    assert_eq!(
        status(&manager, store, TokenKind::Access, &token).await,
        StatusCode::UNAUTHORIZED
    );
}
