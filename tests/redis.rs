//! `RedisRevocations` on a real Redis (started by `scripts/services.sh`): the behaviour every
//! store shares (`tests/support/stores.rs`), "exactly one `true`" for concurrent revocations, and
//! a key's lifetime counted on the manager's clock.
//!
//! Needs redis-server (`bash scripts/services.sh install`): without it the tests are skipped
//! with a message, or fail when the `CI` environment variable is set.
#![cfg(feature = "redis")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tower_login_manager::{RedisRevocations, Revocations};

#[path = "support/services.rs"]
mod services;
mod support;

use services::{Services, free_port};
use support::{SECRET, stores};

/// `RedisRevocations::revoke` on a real Redis: `SET .. NX` answers `true` to exactly one caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_revoke_is_true_for_exactly_one_of_concurrent_calls() {
    // RFC 9700 section 4.14.2: of concurrent uses of one refresh token, exactly one may succeed.
    const TASKS: usize = 16;
    let Some(services) = Services::new() else {
        return;
    };
    let store = RedisRevocations::new(services.start_redis(free_port())).unwrap();
    let manager = tower_login_manager::LoginManager::builder(SECRET)
        .build()
        .unwrap();
    let once = stores::token(&manager, Duration::from_secs(60));
    let revocation = once.revocation().unwrap();
    assert!(
        store.revoke(revocation).await.unwrap(),
        "the first revocation"
    );
    assert!(!store.revoke(revocation).await.unwrap(), "already revoked");
    assert!(store.is_revoked(revocation.token_id()).await.unwrap());

    for round in 0..50 {
        let raced = stores::token(&manager, Duration::from_secs(60));
        let winners = stores::winners(&store, &raced, TASKS).await;
        assert_eq!(winners, 1, "round {round}");
    }
}

/// The behaviour every store shares (`tests/support/stores.rs`), on a real Redis.
#[tokio::test]
async fn redis_behaves_as_every_store_must() {
    let Some(services) = Services::new() else {
        return;
    };
    let store = RedisRevocations::new(services.start_redis(free_port())).unwrap();
    stores::revoked_tokens_stay_refused_through_the_leeway(&store).await;
    stores::a_token_that_never_expires_can_be_revoked(&store).await;
}

/// One clock: the key lives as long as the manager's clock says the token is accepted, not as
/// long as this machine's clock would. A manager an hour behind accepts a 2-hour token for two
/// more hours of real time, so its revocation must last that long.
#[tokio::test]
async fn redis_counts_the_time_left_on_the_managers_clock() {
    let Some(services) = Services::new() else {
        return;
    };
    let url = services.start_redis(free_port());
    let store = RedisRevocations::new(url.as_str()).unwrap();
    let behind = unix_now() - 3600;
    let manager = tower_login_manager::LoginManager::builder(SECRET)
        .clock(move || behind)
        .build()
        .unwrap();
    let token = manager.issue_token("1", Duration::from_secs(7200)).unwrap();
    let claims = manager.decode_token(&token).unwrap();
    let jti = claims.revocation().unwrap().token_id();
    assert!(store.revoke(claims.revocation().unwrap()).await.unwrap());

    let mut connection = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("tlm:revoked:{jti}"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((7190..=7200).contains(&ttl), "TTL {ttl}");
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The type's docs: "the first request after Redis is back is served again". Each failed request
/// starts a reconnection attempt without waiting for it; the one started while Redis was still
/// down must not answer the first request after it is back with its stale refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_request_after_redis_is_back_is_served() {
    let Some(services) = Services::new() else {
        return;
    };
    let port = free_port();
    let store = RedisRevocations::new(services.start_redis(port)).unwrap();
    assert!(!store.is_revoked("jti").await.unwrap(), "Redis up");
    services.stop_redis();
    for _ in 0..3 {
        assert!(
            store.is_revoked("jti").await.is_err(),
            "Redis down: an error, never a pass"
        );
    }
    // A server is not idle during an outage: the reconnection attempt the last failed request
    // started gets to run (and fails: Redis is still down).
    tokio::time::sleep(Duration::from_millis(200)).await;
    services.start_redis(port); // returns once Redis answers
    let first = store.is_revoked("jti").await;
    assert!(
        first.is_ok(),
        "the first request after Redis is back: {first:?}"
    );
}
