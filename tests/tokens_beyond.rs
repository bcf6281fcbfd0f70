//! Beyond the original, token side: access/refresh pairs, revocation, key rotation and the
//! application's own claims.

mod support;

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{Empty, Full};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use support::{InMemory, NOW, SECRET, manager, send, stores, unb64};
use tower::{Layer, ServiceExt, service_fn};
use tower_login_manager::{
    LoginLayer, LoginManager, MemoryRevocations, Revocation, Revocations, TokenError, TokenKind,
    UserLoader, loader_fn,
};

/// Everyone, named by their id, through the future.
fn loader() -> impl UserLoader<User = String> {
    InMemory::new().others(|id| Some(id.to_owned()))
}

fn claims_of(token: &str) -> Value {
    serde_json::from_slice(&unb64(token.split('.').nth(1).unwrap())).unwrap()
}

fn header_of(token: &str) -> Value {
    serde_json::from_slice(&unb64(token.split('.').next().unwrap())).unwrap()
}

const INVALID: &str = r#"{"status":401,"message":"Invalid token. Please register or login"}"#;
const REVOKED: &str = r#"{"status":401,"message":"Token has been revoked"}"#;

/// The defaults of a pair: the access token lives 60 minutes, the refresh token 30 days; `Debug`
/// names the lifetimes and never the tokens.
#[test]
fn token_pairs_default_to_sixty_minutes_and_thirty_days() {
    let m = manager();
    let pair = m.issue_token_pair("5").unwrap();
    assert_eq!(
        (pair.expires_in, pair.refresh_expires_in),
        (3600, 2_592_000)
    );
    assert_eq!(claims_of(&pair.access_token)["exp"], NOW + 3600);
    assert_eq!(claims_of(&pair.refresh_token)["exp"], NOW + 2_592_000);
    assert_eq!(
        format!("{pair:?}"),
        "TokenPair { access_token: \"<redacted>\", refresh_token: \"<redacted>\", \
         expires_in: 3600, refresh_expires_in: 2592000 }"
    );
}

/// A refresh handler that finds its token spent refuses it exactly as the layer refuses a
/// revoked token: the same status, body and RFC 6750 challenge.
#[tokio::test]
async fn rejection_response_is_the_layers_own_answer() {
    let m = manager();
    let token = m.issue_token("1", Duration::from_secs(60)).unwrap();
    let store = MemoryRevocations::new();
    let claims = m.decode_token(&token).unwrap();
    store.revoke(claims.revocation()).await.unwrap();
    let layer = LoginLayer::new(m, loader()).revocations(store);
    let svc = layer
        .clone()
        .layer(service_fn(|_: Request<Empty<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }));
    let req = Request::get("/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Empty::new())
        .unwrap();
    let from_layer = support::read(svc.oneshot(req).await.unwrap()).await;
    let from_handler = layer.rejection_response(&tower_login_manager::Rejection::Revoked);
    assert_eq!(from_handler.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(from_handler.status(), from_layer.status);
    assert_eq!(from_handler.headers(), &from_layer.headers);
    assert_eq!(from_handler.body(), &from_layer.body);
    assert_eq!(from_layer.body, REVOKED);
}

#[tokio::test]
async fn token_pairs_are_told_apart_by_their_type_claim() {
    let m = LoginManager::builder(SECRET)
        .clock(|| NOW)
        .refresh_ttl(Duration::from_secs(86_400))
        .build()
        .unwrap();
    let pair = m.issue_token_pair("5").unwrap();
    assert_eq!((pair.expires_in, pair.refresh_expires_in), (3600, 86_400));
    let (access, refresh) = (
        claims_of(&pair.access_token),
        claims_of(&pair.refresh_token),
    );
    assert_eq!(access["type"], "access");
    assert_eq!(refresh["type"], "refresh");
    assert_eq!(access["exp"], NOW + 3600);
    assert_eq!(refresh["exp"], NOW + 86_400);
    // RFC 7519 section 4.1.7: unique ids, 128 bits of base64url.
    let (a, r) = (
        access["jti"].as_str().unwrap(),
        refresh["jti"].as_str().unwrap(),
    );
    assert_ne!(a, r);
    assert_eq!(a.len(), 22);
    assert_eq!(
        m.decode_token(&pair.refresh_token).unwrap().kind(),
        TokenKind::Refresh
    );
    assert!(!format!("{pair:?}").contains(&pair.access_token));

    let api = LoginLayer::new(m.clone(), loader());
    let refresh_route = LoginLayer::new(m.clone(), loader()).token_kind(TokenKind::Refresh);
    assert_eq!(send(&api, &pair.access_token).await.0, StatusCode::OK);
    assert_eq!(send(&api, &pair.refresh_token).await.1, INVALID);
    assert_eq!(
        send(&refresh_route, &pair.refresh_token).await.0,
        StatusCode::OK
    );
    assert_eq!(send(&refresh_route, &pair.access_token).await.1, INVALID);
    // A Flask token (no `type`) is an access token.
    let flask = m.issue_token("5", Duration::from_secs(60)).unwrap();
    assert_eq!(send(&api, &flask).await.0, StatusCode::OK);
    assert_eq!(send(&refresh_route, &flask).await.1, INVALID);
    let bad_type = support::sign_claims(&format!(
        r#"{{"exp":{},"user_id":"1","type":"id"}}"#,
        NOW + 9
    ));
    assert_eq!(
        m.decode_token(&bad_type),
        Err(TokenError::InvalidClaim("type"))
    );
}

#[tokio::test]
async fn revoked_tokens_are_refused_before_the_user_is_loaded() {
    let m = manager();
    let token = m.issue_token("1", Duration::from_secs(60)).unwrap();
    let other = m.issue_token("1", Duration::from_secs(60)).unwrap();
    let store = MemoryRevocations::new();
    let loaded = Arc::new(AtomicBool::new(false));
    let seen = loaded.clone();
    // Not `loader()`: this one records that it ran.
    let loader = loader_fn(move |id: String| {
        seen.store(true, Ordering::SeqCst);
        async move { Ok::<_, Infallible>(Some(id)) }
    });
    let layer = LoginLayer::new(m.clone(), loader).revocations(store.clone());
    assert_eq!(send(&layer, &token).await.0, StatusCode::OK);

    let claims = m.decode_token(&token).unwrap();
    store.revoke(claims.revocation()).await.unwrap();
    loaded.store(false, Ordering::SeqCst);
    assert_eq!(
        send(&layer, &token).await,
        (StatusCode::UNAUTHORIZED, REVOKED.into())
    );
    assert!(
        !loaded.load(Ordering::SeqCst),
        "the loader ran for a revoked token"
    );
    assert_eq!(send(&layer, &other).await.0, StatusCode::OK);
    assert_eq!(store.len(), 1);
}

/// A manager of token ids whose clock the test moves.
fn manager_at(clock: &Arc<AtomicU64>) -> LoginManager {
    let now = clock.clone();
    LoginManager::builder(SECRET)
        .clock(move || now.load(Ordering::SeqCst))
        .build()
        .unwrap()
}

#[test]
fn the_memory_store_drops_ids_of_expired_tokens_as_it_grows() {
    let clock = Arc::new(AtomicU64::new(NOW));
    let m = manager_at(&clock);
    let store = MemoryRevocations::new();
    assert!(store.is_empty());
    let revoke = |ttl: Duration| {
        let claims = stores::token(&m, ttl);
        tokio_test::block_on(store.revoke(claims.revocation())).unwrap();
        claims
    };
    for _ in 0..90 {
        revoke(Duration::from_secs(1));
    }
    for _ in 0..5 {
        // Refused from NOW + 10 on: gone when the store prunes at NOW + 10.
        revoke(Duration::from_secs(10));
    }
    // Pruning goes by the manager's clock: at NOW every token is still accepted.
    assert_eq!(store.len(), 95);
    assert!(!store.is_empty());

    clock.store(NOW + 10, Ordering::SeqCst);
    let live = stores::token(&m, Duration::MAX);
    for _ in 0..32 {
        revoke(Duration::from_secs(5));
    }
    assert_eq!(store.len(), 127, "no prune before the store has doubled");
    tokio_test::block_on(store.revoke(live.revocation())).unwrap();
    assert_eq!(
        store.len(),
        33,
        "the 128th id prunes the 95 refused at NOW + 10"
    );
    assert!(tokio_test::block_on(store.is_revoked(&live.revocation())).unwrap());
    let another = stores::token(&m, Duration::from_secs(60));
    assert!(!tokio_test::block_on(store.is_revoked(&another.revocation())).unwrap());

    // Amortised: the next prune waits until the store has doubled again (66 ids), even though
    // the 32 ids revoked at NOW + 10 are refused anyway from NOW + 15 on.
    clock.store(NOW + 20, Ordering::SeqCst);
    for _ in 0..32 {
        revoke(Duration::from_secs(60));
    }
    assert_eq!(store.len(), 65);
    revoke(Duration::from_secs(60));
    assert_eq!(
        store.len(),
        34,
        "the 66th id prunes the 32 refused at NOW + 15"
    );
    assert_eq!(format!("{store:?}"), "MemoryRevocations { len: 34 }");
}

#[tokio::test]
async fn rfc9700_section4_14_2_memory_revoke_is_true_once_then_false() {
    // RFC 9700 section 4.14.2: a refresh token is spent once, so revoking tells a reuse apart.
    let clock = Arc::new(AtomicU64::new(NOW));
    let m = manager_at(&clock);
    let store = MemoryRevocations::new();
    let token = m.issue_token("1", Duration::from_secs(600)).unwrap();
    let spent = m.decode_token(&token).unwrap();
    assert_eq!(store.revoke(spent.revocation()).await, Ok(true));
    assert_eq!(store.revoke(spent.revocation()).await, Ok(false));
    clock.store(NOW + 60, Ordering::SeqCst);
    let again = m.decode_token(&token).unwrap();
    assert_eq!(
        store.revoke(again.revocation()).await,
        Ok(false),
        "the same token verified again later"
    );
    let other = stores::token(&m, Duration::from_secs(60));
    assert_eq!(store.revoke(other.revocation()).await, Ok(true));
    assert_eq!(store.is_revoked(&spent.revocation()).await, Ok(true));
    assert_eq!(store.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rfc9700_section4_14_2_of_16_concurrent_revocations_exactly_one_wins() {
    // RFC 9700 section 4.14.2: of concurrent uses of one refresh token, exactly one may succeed.
    const TASKS: usize = 16;
    let m = manager();
    let store = MemoryRevocations::new();
    for round in 0..1000 {
        let raced = stores::token(&m, Duration::from_secs(60));
        let winners = stores::winners(&store, &raced, TASKS).await;
        assert_eq!(winners, 1, "round {round}");
    }
}

#[tokio::test]
async fn memory_revoked_tokens_stay_refused_through_the_leeway() {
    stores::revoked_tokens_stay_refused_through_the_leeway(&MemoryRevocations::new()).await;
}

/// Issue 22 item 1, in memory: R0 gives R1; R0 again is refused, and so is R1.
#[tokio::test]
async fn rfc9700_section4_14_2_memory_a_spent_refresh_token_that_comes_back_ends_its_session() {
    stores::a_spent_refresh_token_that_comes_back_ends_its_session(&MemoryRevocations::new()).await;
}

/// Issue 22 item 2, in memory: log out everywhere.
#[tokio::test]
async fn memory_logging_out_everywhere_refuses_the_users_earlier_tokens() {
    stores::logging_out_everywhere_refuses_the_users_earlier_tokens(&MemoryRevocations::new())
        .await;
}

/// Issue 22: a user's cutoff without a token of theirs (an administrator, a password reset):
/// `user_revocation` is now on the manager's clock, kept for the longest pair lifetime plus the
/// leeway, and names no token and no session.
#[tokio::test]
async fn a_users_cutoff_needs_no_token_and_falls_when_it_is_taken() {
    let clock = Arc::new(AtomicU64::new(NOW));
    let m = LoginManager::builder(SECRET)
        .clock({
            let clock = clock.clone();
            move || clock.load(Ordering::SeqCst)
        })
        .leeway(Duration::from_secs(5))
        .build()
        .unwrap();
    let store = MemoryRevocations::new();
    let before = m.issue_token_pair("1").unwrap();
    clock.store(NOW + 1, Ordering::SeqCst);
    let cutoff = m.user_revocation("1");
    assert_eq!(
        (cutoff.token_id(), cutoff.session_id(), cutoff.user_id()),
        (None, None, "1")
    );
    assert_eq!(cutoff.verified_at(), NOW + 1);
    assert_eq!(cutoff.all_refused_from(), NOW + 1 + 30 * 24 * 3600 + 5);
    assert!(!store.revoke(cutoff).await.unwrap(), "names no token");
    assert!(
        !store.revoke_session(cutoff).await.unwrap(),
        "names no session"
    );
    assert!(store.revoke_user(cutoff).await.unwrap());
    let after = m.issue_token_pair("1").unwrap();
    let api = LoginLayer::new(m.clone(), loader()).revocations(store.clone());
    assert_eq!(
        send(&api, &before.access_token).await,
        (StatusCode::UNAUTHORIZED, REVOKED.into())
    );
    assert_eq!(send(&api, &after.access_token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn memory_revokes_a_token_that_never_expires() {
    stores::a_token_that_never_expires_can_be_revoked(&MemoryRevocations::new()).await;
}

/// The review's steps, on a pinned clock: leeway 60 s, a 600 s token revoked at logout, the
/// clock at `exp + 30`, other revocations making the store prune. RFC 7519 section 4.1.4 (the
/// leeway extends `exp`) and RFC 9700 section 4.14.2 (a rotated refresh token is usable once).
#[tokio::test]
async fn rfc9700_section4_14_2_a_revoked_token_is_refused_until_exp_plus_leeway() {
    let clock = Arc::new(AtomicU64::new(NOW));
    let now = clock.clone();
    let m = LoginManager::builder(SECRET)
        .clock(move || now.load(Ordering::SeqCst))
        .leeway(Duration::from_secs(60))
        .access_ttl(Duration::from_secs(600))
        .refresh_ttl(Duration::from_secs(600))
        .build()
        .unwrap();
    let store = MemoryRevocations::new();
    let api = LoginLayer::new(m.clone(), loader()).revocations(store.clone());
    let refresh_route = LoginLayer::new(m.clone(), loader())
        .token_kind(TokenKind::Refresh)
        .revocations(store.clone());

    let pair = m.issue_token_pair("1").unwrap();
    let access = m.decode_token(&pair.access_token).unwrap();
    let refresh = m.decode_token(&pair.refresh_token).unwrap();
    // Logout, and the first exchange of the refresh token: both revoked.
    assert!(store.revoke(access.revocation()).await.unwrap());
    assert!(store.revoke(refresh.revocation()).await.unwrap());

    clock.store(NOW + 600 + 30, Ordering::SeqCst);
    for _ in 0..100 {
        let other = stores::token(&m, Duration::from_secs(1));
        store.revoke(other.revocation()).await.unwrap();
    }
    let fresh = m.issue_token_pair("1").unwrap();
    clock.store(NOW + 600 + 30 + 1, Ordering::SeqCst);
    assert_eq!(send(&api, &fresh.access_token).await.0, StatusCode::OK);
    assert_eq!(
        send(&api, &pair.access_token).await,
        (StatusCode::UNAUTHORIZED, REVOKED.into()),
        "a logged-out token came back inside the leeway"
    );
    assert_eq!(
        send(&refresh_route, &pair.refresh_token).await,
        (StatusCode::UNAUTHORIZED, REVOKED.into()),
        "a spent refresh token came back inside the leeway"
    );
    assert_eq!(
        store.revoke(refresh.revocation()).await,
        Ok(false),
        "a second exchange of the refresh token"
    );
    // At `exp + leeway` the verifier refuses the token by itself: the entry may go.
    clock.store(NOW + 600 + 60, Ordering::SeqCst);
    assert_eq!(m.decode_token(&pair.access_token), Err(TokenError::Expired));
}

#[tokio::test]
async fn no_revocation_holds_nothing_so_every_revoke_is_new() {
    // `()`, the default store, never stores: no id is ever already revoked, none ever refused.
    let store = ();
    let claims = stores::token(&manager(), Duration::from_secs(60));
    assert_eq!(store.revoke(claims.revocation()).await, Ok(true));
    assert_eq!(store.revoke(claims.revocation()).await, Ok(true));
    assert_eq!(store.is_revoked(&claims.revocation()).await, Ok(false));
}

/// A store that is down: 503, never a pass; the error goes to the hook.
#[derive(Clone)]
struct Down(Arc<AtomicBool>);

impl Revocations for Down {
    type Error = io::Error;
    type CheckFuture = Ready<Result<bool, io::Error>>;
    type RevokeFuture = Ready<Result<bool, io::Error>>;
    fn is_revoked(&self, _: &Revocation<'_>) -> Self::CheckFuture {
        ready(if self.0.load(Ordering::SeqCst) {
            Err(io::Error::other("redis: connection refused"))
        } else {
            Ok(false)
        })
    }
    fn revoke(&self, _: Revocation<'_>) -> Self::RevokeFuture {
        ready(Ok(true))
    }
    fn revoke_session(&self, token: Revocation<'_>) -> Self::RevokeFuture {
        self.revoke(token)
    }
    fn revoke_user(&self, token: Revocation<'_>) -> Self::RevokeFuture {
        self.revoke(token)
    }
}

#[tokio::test]
async fn an_unreachable_store_answers_503_and_recovers() {
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let hook = errors.clone();
    let m = manager();
    let token = m.issue_token("1", Duration::from_secs(60)).unwrap();
    let down = Arc::new(AtomicBool::new(true));
    let layer = LoginLayer::new(m, loader())
        .revocations(Down(down.clone()))
        .on_backend_error(move |e| hook.lock().unwrap().push(e.to_string()));
    assert_eq!(
        send(&layer, &token).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"status":503,"message":"Service temporarily unavailable. Please try again"}"#
                .into()
        )
    );
    assert_eq!(*errors.lock().unwrap(), ["redis: connection refused"]);
    down.store(false, Ordering::SeqCst);
    assert_eq!(send(&layer, &token).await.0, StatusCode::OK);
}

#[test]
fn rfc7515_section4_1_4_key_rotation_by_kid() {
    let old_secret = [1u8; 32];
    let new_secret = [2u8; 32];
    let before = LoginManager::builder(old_secret)
        .clock(|| NOW)
        .build()
        .unwrap();
    let old_unnamed = before.issue_token("1", Duration::from_secs(60)).unwrap();
    let old_named = LoginManager::builder(old_secret)
        .clock(|| NOW)
        .key_id("k1")
        .build()
        .unwrap()
        .issue_token("2", Duration::from_secs(60))
        .unwrap();
    assert_eq!(
        header_of(&old_named),
        json!({"alg": "HS256", "typ": "JWT", "kid": "k1"})
    );

    let after = LoginManager::builder(new_secret)
        .clock(|| NOW)
        .key_id("k2")
        .previous_key(Some("k1"), old_secret)
        .build()
        .unwrap();
    let fresh = after.issue_token("3", Duration::from_secs(60)).unwrap();
    assert_eq!(header_of(&fresh)["kid"], "k2");
    for (token, id) in [(&old_unnamed, "1"), (&old_named, "2"), (&fresh, "3")] {
        assert_eq!(after.decode_token(token).unwrap().user_id(), id);
    }
    // Signed with the new key, it is refused by the old manager.
    assert_eq!(before.decode_token(&fresh), Err(TokenError::BadSignature));
    // A kid naming a known key is checked with that key only.
    let forged = support::sign_raw(
        br#"{"alg":"HS256","kid":"k2"}"#,
        format!(r#"{{"exp":{},"user_id":"1"}}"#, NOW + 60).as_bytes(),
        &old_secret,
    );
    assert_eq!(after.decode_token(&forged), Err(TokenError::BadSignature));
    // Once the old key is dropped, its tokens are refused.
    let dropped = LoginManager::builder(new_secret)
        .clock(|| NOW)
        .build()
        .unwrap();
    assert_eq!(
        dropped.decode_token(&old_named),
        Err(TokenError::BadSignature)
    );
    // RFC 7518 section 3.2 applies to former secrets as well.
    assert!(
        LoginManager::builder(new_secret)
            .previous_key(None, [0u8; 16])
            .build()
            .is_err()
    );
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct AppClaims {
    roles: Vec<String>,
    tenant: u32,
}

#[test]
fn the_application_adds_and_reads_its_own_claims() {
    let m = manager();
    let mine = AppClaims {
        roles: vec!["admin".into()],
        tenant: 7,
    };
    let token = m
        .with_claims(&mine)
        .unwrap()
        .issue_token("1", Duration::from_secs(60))
        .unwrap();
    let mut written = claims_of(&token);
    assert!(written.as_object_mut().unwrap().remove("jti").is_some());
    assert_eq!(
        written,
        json!({"exp": NOW + 60, "iat": NOW, "user_id": "1", "roles": ["admin"], "tenant": 7})
    );
    let claims = m.decode_token(&token).unwrap();
    assert_eq!(claims.extra::<AppClaims>().unwrap(), mine);
    // Reserved claims cannot be overridden.
    for reserved in [
        json!({"exp": 1}),
        json!({"user_id": "2"}),
        json!({"jti": "x"}),
        json!({"sid": "x"}),
        json!({"type": "refresh"}),
        json!({"sub": "2"}),
        json!([1]),
    ] {
        assert_eq!(
            m.with_claims(&reserved).map(|_| ()),
            Err(TokenError::InvalidClaim("extra claims")),
            "{reserved}"
        );
    }
    // A token without extra claims reads as an empty object.
    let plain = m
        .decode_token(&m.issue_token("1", Duration::from_secs(60)).unwrap())
        .unwrap();
    assert!(plain.extra::<AppClaims>().is_err());
    assert_eq!(plain.extra::<Value>().unwrap(), json!({}));
    let pair = m.with_claims(&mine).unwrap().issue_token_pair("1").unwrap();
    assert_eq!(
        m.decode_token(&pair.access_token)
            .unwrap()
            .extra::<AppClaims>()
            .unwrap(),
        mine
    );
}

/// The `grpc-status` and `grpc-message` a gRPC call with `token` gets through `layer`.
async fn grpc_status<R: Revocations>(
    layer: &LoginLayer<impl UserLoader<User = String>, R>,
    token: &str,
) -> (String, String) {
    let svc = layer.layer(service_fn(|_: Request<Empty<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    }));
    let req = Request::post("/pkg.Service/Method")
        .header(header::CONTENT_TYPE, "application/grpc")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Empty::new())
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "a trailers-only gRPC answer");
    let h = res.headers();
    let text = |name: &str| h[name].to_str().unwrap().to_owned();
    (text("grpc-status"), text("grpc-message"))
}

/// gRPC status semantics: a store that cannot answer is UNAVAILABLE (14), a revoked token
/// UNAUTHENTICATED (16).
#[tokio::test]
async fn grpc_clients_get_unavailable_when_the_store_is_down_and_unauthenticated_when_revoked() {
    let m = manager();
    let token = m.issue_token("1", Duration::from_secs(60)).unwrap();
    let down =
        LoginLayer::new(m.clone(), loader()).revocations(Down(Arc::new(AtomicBool::new(true))));
    assert_eq!(
        grpc_status(&down, &token).await,
        (
            "14".into(),
            "Service temporarily unavailable. Please try again".into()
        )
    );
    let store = MemoryRevocations::new();
    let claims = m.decode_token(&token).unwrap();
    store.revoke(claims.revocation()).await.unwrap();
    let revoked = LoginLayer::new(m.clone(), loader()).revocations(store);
    assert_eq!(
        grpc_status(&revoked, &token).await,
        ("16".into(), "Token has been revoked".into())
    );
}

/// RFC 7519 section 4.1.7: token ids are unique across instances and restarts, so 128 random
/// bits: every one of the 16 bytes varies, and no two ids of many repeat.
#[test]
fn token_ids_are_128_random_bits() {
    let m = LoginManager::builder(SECRET).build().unwrap();
    let ids: Vec<Vec<u8>> = (0..256)
        .map(|_| {
            let token = m.issue_token("1", Duration::from_secs(60)).unwrap();
            unb64(claims_of(&token)["jti"].as_str().unwrap())
        })
        .collect();
    assert!(ids.iter().all(|id| id.len() == 16));
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "a token id repeated");
    for i in 0..16 {
        let values: std::collections::HashSet<u8> = ids.iter().map(|id| id[i]).collect();
        // A random byte takes one value 256 times in a row with probability 2^-2040.
        assert!(values.len() > 1, "byte {i} of the token id never changes");
    }
}
