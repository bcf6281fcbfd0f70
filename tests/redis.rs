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
    let revocation = once.revocation();
    assert!(
        store.revoke(revocation).await.unwrap(),
        "the first revocation"
    );
    assert!(!store.revoke(revocation).await.unwrap(), "already revoked");
    assert!(store.is_revoked(&revocation).await.unwrap());

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

/// Issue 22 on a real Redis: a spent refresh token that comes back ends its session (RFC 9700
/// section 4.14.2), and "log out everywhere".
#[tokio::test]
async fn redis_ends_sessions_and_logs_users_out_everywhere() {
    let Some(services) = Services::new() else {
        return;
    };
    let store = RedisRevocations::new(services.start_redis(free_port())).unwrap();
    stores::a_spent_refresh_token_that_comes_back_ends_its_session(&store).await;
    stores::logging_out_everywhere_refuses_the_users_earlier_tokens(&store).await;
}

/// Issue 22, performance: the check of a token (its id, its session and its user's cutoff
/// together) is one Redis command per request, `MGET`, counted by Redis itself
/// (`INFO commandstats`), whatever the token carries and whatever is revoked.
#[tokio::test]
async fn redis_checks_a_request_in_one_command() {
    const REQUESTS: u64 = 20;
    let Some(services) = Services::new() else {
        return;
    };
    let url = services.start_redis(free_port());
    let store = RedisRevocations::new(url.as_str()).unwrap();
    let manager = tower_login_manager::LoginManager::new(SECRET).unwrap();
    // Something of each kind revoked, for this user and another.
    for user in ["1", "2"] {
        let pair = manager.issue_token_pair(user).unwrap();
        let other = manager.decode_token(&pair.access_token).unwrap();
        store.revoke(other.revocation()).await.unwrap();
        store.revoke_session(other.revocation()).await.unwrap();
    }
    let before = manager.decode_token(&manager.issue_token_pair("2").unwrap().access_token);
    store
        .revoke_user(before.unwrap().revocation())
        .await
        .unwrap();
    let pair = manager.issue_token_pair("1").unwrap();
    let claims = manager.decode_token(&pair.access_token).unwrap();
    assert!(
        !store.is_revoked(&claims.revocation()).await.unwrap(),
        "warm"
    );

    let mut redis = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut redis)
        .await
        .unwrap();
    for _ in 0..REQUESTS {
        assert_eq!(
            stores::access_status(&manager, &store, &pair.access_token).await,
            http::StatusCode::OK
        );
    }
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut redis)
        .await
        .unwrap();
    // Every command but the test's own `CONFIG RESETSTAT` and `INFO`.
    let counted: Vec<(String, u64)> = stats
        .lines()
        .filter_map(|line| line.strip_prefix("cmdstat_"))
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let calls = rest
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .filter(|(name, _)| name != "info" && !name.starts_with("config"))
        .collect();
    assert_eq!(counted, [("mget".to_owned(), REQUESTS)], "{stats}");
}

/// Of concurrent revocations of one session, from any number of callers, exactly one is `true`;
/// of concurrent cutoffs of one user, the latest stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_revokes_a_session_once_and_keeps_the_latest_cutoff() {
    let Some(services) = Services::new() else {
        return;
    };
    let store = RedisRevocations::new(services.start_redis(free_port())).unwrap();
    let manager = tower_login_manager::LoginManager::new(SECRET).unwrap();
    for round in 0..20 {
        let pair = manager.issue_token_pair("1").unwrap();
        let claims = manager.decode_token(&pair.refresh_token).unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (store, claims) = (store.clone(), claims.clone());
                tokio::spawn(async move { store.revoke_session(claims.revocation()).await })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap().unwrap());
        }
        assert_eq!(winners, 1, "round {round}");
    }
    let now = unix_now();
    let at = |secs: u64| {
        tower_login_manager::LoginManager::builder(SECRET)
            .clock(move || secs)
            .build()
            .unwrap()
    };
    let tasks: Vec<_> = (0..8u64)
        .map(|i| {
            let (store, manager) = (store.clone(), at(now + i));
            tokio::spawn(async move {
                let claims = stores::token(&manager, Duration::from_secs(60));
                store.revoke_user(claims.revocation()).await.unwrap()
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    // A token of user 1 issued at `now + 6` is refused, one issued at `now + 7` is not.
    for (secs, revoked) in [(now + 6, true), (now + 7, false)] {
        let claims = stores::token(&at(secs), Duration::from_secs(60));
        assert_eq!(
            store.is_revoked(&claims.revocation()).await.unwrap(),
            revoked
        );
    }
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
    let jti = claims.revocation().token_id().unwrap();
    assert!(store.revoke(claims.revocation()).await.unwrap());

    let mut connection = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("tlm:revoked:jti:{jti}"))
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
    let manager = tower_login_manager::LoginManager::new(SECRET).unwrap();
    let claims = stores::token(&manager, Duration::from_secs(60));
    let token = claims.revocation();
    assert!(!store.is_revoked(&token).await.unwrap(), "Redis up");
    services.stop_redis();
    for _ in 0..3 {
        assert!(
            store.is_revoked(&token).await.is_err(),
            "Redis down: an error, never a pass"
        );
    }
    // A server is not idle during an outage: the reconnection attempt the last failed request
    // started gets to run (and fails: Redis is still down).
    tokio::time::sleep(Duration::from_millis(200)).await;
    services.start_redis(port); // returns once Redis answers
    let first = store.is_revoked(&token).await;
    assert!(
        first.is_ok(),
        "the first request after Redis is back: {first:?}"
    );
}
