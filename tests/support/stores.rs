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
        claims.revocation().token_id().is_some(),
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
                store.revoke(claims.revocation()).await.unwrap()
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
    assert!(store.revoke(access.revocation()).await.unwrap());
    assert!(store.revoke(refresh.revocation()).await.unwrap());

    // Past `exp`, inside the leeway.
    while unix_now() < exp + 2 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Other revocations, so that a store that prunes expired entries does so now.
    for _ in 0..100 {
        let other = token(&manager, Duration::from_secs(1));
        store.revoke(other.revocation()).await.unwrap();
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
        !store.revoke(refresh.revocation()).await.unwrap(),
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
    let revocation = claims.revocation();
    assert!(store.revoke(revocation).await.unwrap(), "revoked");
    assert!(!store.revoke(revocation).await.unwrap(), "already revoked");
    assert!(store.is_revoked(&revocation).await.unwrap());
    assert_eq!(
        status(&manager, store, TokenKind::Access, &token).await,
        StatusCode::UNAUTHORIZED
    );
}

/// A refresh route as a server writes it (RFC 9700 section 4.14.2): the presented refresh token
/// is spent (`revoke` answers `true` once) and the next pair of its session answered, here its
/// refresh token as the body; a token spent already (the same token twice at once) ends its
/// session. What the layer answers before the route runs, it answers.
pub async fn refresh<R>(manager: &LoginManager, store: &R, token: &str) -> (StatusCode, String)
where
    R: Revocations,
    R::Error: Debug,
{
    let loader = loader_fn(|id: String| async move { Ok::<_, Infallible>(Some(id)) });
    let (issuer, spender) = (manager.clone(), store.clone());
    let svc = LoginLayer::new(manager.clone(), loader)
        .token_kind(TokenKind::Refresh)
        .revocations(store.clone())
        .layer(service_fn(move |req: Request<Empty<Bytes>>| {
            let (issuer, spender) = (issuer.clone(), spender.clone());
            async move {
                let claims = req.extensions().get::<Claims>().unwrap().clone();
                let body = if spender.revoke(claims.revocation()).await.unwrap() {
                    issuer.refresh_token_pair(&claims).unwrap().refresh_token
                } else {
                    spender.revoke_session(claims.revocation()).await.unwrap();
                    "spent".to_owned()
                };
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
            }
        }));
    let req = Request::post("/refresh")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Empty::new())
        .unwrap();
    super::read(svc.oneshot(req).await.unwrap())
        .await
        .status_and_body()
}

/// Issue 22, the exact sequence (RFC 9700 section 4.14.2, refresh-token families): login gives
/// R0; refresh with R0 gives R1; refresh with R0 again is refused, and so is R1, whoever holds
/// it: the session that R0 and R1 belong to is over, its access tokens with it. Another session
/// of the same user goes on.
pub async fn a_spent_refresh_token_that_comes_back_ends_its_session<R>(store: &R)
where
    R: Revocations,
    R::Error: Debug,
{
    let manager = LoginManager::new("the stores' shared test secret, 32+ bytes").unwrap();
    let login = manager.issue_token_pair("1").unwrap();
    let other = manager.issue_token_pair("1").unwrap();

    let (code, r1) = refresh(&manager, store, &login.refresh_token).await;
    assert_eq!(code, StatusCode::OK, "R0 gives R1");
    let (code, _) = refresh(&manager, store, &login.refresh_token).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED, "R0 again is refused");
    assert_eq!(
        refresh(&manager, store, &r1).await.0,
        StatusCode::UNAUTHORIZED,
        "R1, issued from the spent R0, is refused: the session is over"
    );
    assert_eq!(
        status(&manager, store, TokenKind::Access, &login.access_token).await,
        StatusCode::UNAUTHORIZED,
        "the session's access token too"
    );

    // The user's other session is untouched.
    assert_eq!(
        status(&manager, store, TokenKind::Access, &other.access_token).await,
        StatusCode::OK
    );
    let (code, next) = refresh(&manager, store, &other.refresh_token).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(refresh(&manager, store, &next).await.0, StatusCode::OK);
}

pub async fn access_status<R: Revocations>(
    manager: &LoginManager,
    store: &R,
    token: &str,
) -> StatusCode {
    status(manager, store, TokenKind::Access, token).await
}

/// Issue 22, "log out everywhere": every token of one user issued in an earlier second than the
/// cutoff is refused, whatever its session and kind; a pair issued in the cutoff's own second
/// (the one a password change answers) and other users' tokens are not. A cutoff never moves
/// back; a later one refuses the tokens in between. A token without `iat` is refused by any
/// cutoff of its user.
pub async fn logging_out_everywhere_refuses_the_users_earlier_tokens<R>(store: &R)
where
    R: Revocations,
    R::Error: Debug,
{
    const SECRET: &str = "the stores' shared test secret, 32+ bytes";
    let clock = Arc::new(std::sync::atomic::AtomicU64::new(unix_now()));
    let now = clock.clone();
    let manager = LoginManager::builder(SECRET)
        .clock(move || now.load(std::sync::atomic::Ordering::SeqCst))
        .build()
        .unwrap();
    let tick = || clock.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let phone = manager.issue_token_pair("1").unwrap();
    let laptop = manager.issue_token_pair("1").unwrap();
    let single = manager.issue_token("1", Duration::from_secs(600)).unwrap();
    let bob = manager.issue_token_pair("2").unwrap();
    // Minted elsewhere with the same secret, without `iat` (nor `jti`, nor `sid`).
    let no_iat = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({"user_id": "1", "exp": unix_now() + 600}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        access_status(&manager, store, &no_iat).await,
        StatusCode::OK,
        "no cutoff yet"
    );

    // A second later, "log out of all devices" from the laptop.
    tick();
    let from_laptop = manager.decode_token(&laptop.access_token).unwrap();
    assert!(store.revoke_user(from_laptop.revocation()).await.unwrap());
    // The pair the same request answers, in the cutoff's own second.
    let fresh = manager.issue_token_pair("1").unwrap();

    for (token, what) in [
        (&phone.access_token, "the phone's access token"),
        (&laptop.access_token, "the laptop's access token"),
        (&single, "a token of no session"),
        (&no_iat, "a token without iat"),
    ] {
        assert_eq!(
            access_status(&manager, store, token).await,
            StatusCode::UNAUTHORIZED,
            "{what}"
        );
    }
    assert_eq!(
        status(&manager, store, TokenKind::Refresh, &phone.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "the phone's refresh token"
    );
    assert_eq!(
        access_status(&manager, store, &bob.access_token).await,
        StatusCode::OK,
        "another user"
    );
    assert_eq!(
        access_status(&manager, store, &fresh.access_token).await,
        StatusCode::OK,
        "issued at the cutoff"
    );
    let (code, _) = refresh(&manager, store, &fresh.refresh_token).await;
    assert_eq!(code, StatusCode::OK, "the new pair refreshes");

    // The same cutoff again, or an earlier one, moves nothing.
    assert!(!store.revoke_user(from_laptop.revocation()).await.unwrap());
    clock.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    let earlier = manager.decode_token(&phone.access_token).unwrap();
    assert!(!store.revoke_user(earlier.revocation()).await.unwrap());
    tick();
    assert_eq!(
        access_status(&manager, store, &fresh.access_token).await,
        StatusCode::OK
    );

    // A later cutoff refuses what the earlier one let through.
    tick();
    let later = manager.decode_token(&fresh.access_token).unwrap();
    assert!(store.revoke_user(later.revocation()).await.unwrap());
    assert_eq!(
        access_status(&manager, store, &fresh.access_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        access_status(&manager, store, &bob.access_token).await,
        StatusCode::OK,
        "another user"
    );
}
