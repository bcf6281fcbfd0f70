//! `CachedLoader`: bounded, short-lived, one load per id under concurrent requests, and revocation
//! still at once through the layer.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Empty;
use tokio::sync::Semaphore;
use tower::{Layer, ServiceExt, service_fn};
use tower_login_manager::{
    BoxError, CachedLoader, LoginLayer, LoginManager, MemoryRevocations, Revocations, UserLoader,
    loader_fn,
};

#[derive(Clone, Debug, PartialEq)]
struct User(String);

/// What the store behind the cache does for an id.
#[derive(Clone, Copy)]
enum Store {
    Found,
    NotFound,
    Fails,
    /// Only these ids are found; the others do not exist.
    Only(&'static [&'static str]),
    /// Only these ids are found; loading the others fails.
    FailsBut(&'static [&'static str]),
}

/// A store that counts its loads and holds each one until `gate` lets it finish.
/// (Not the shared in-memory loader of `tests/support/`: what is tested here is the waiting.)
struct Backend {
    loads: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
    /// While set (by `at_hand`), loads are not counted and never end.
    probing: Arc<AtomicBool>,
}

impl Backend {
    fn new() -> Self {
        Self {
            loads: Arc::default(),
            gate: Arc::new(Semaphore::new(Semaphore::MAX_PERMITS)),
            probing: Arc::default(),
        }
    }

    /// Loads wait at the gate until `open` is called.
    fn gated() -> Self {
        Self {
            loads: Arc::default(),
            gate: Arc::new(Semaphore::new(0)),
            probing: Arc::default(),
        }
    }

    fn open(&self) {
        self.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    }

    fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }

    fn loader(&self, store: Store) -> impl UserLoader<User = User, Error = io::Error> {
        let loads = self.loads.clone();
        let gate = self.gate.clone();
        let probing = self.probing.clone();
        loader_fn(move |id: String| {
            let probing = probing.load(Ordering::SeqCst);
            if !probing {
                loads.fetch_add(1, Ordering::SeqCst);
            }
            let gate = gate.clone();
            async move {
                if probing {
                    std::future::pending::<()>().await;
                }
                let _permit = gate.acquire().await.expect("the gate is never closed");
                match store {
                    Store::Found => Ok(Some(User(id))),
                    Store::Only(found) | Store::FailsBut(found) if found.contains(&&*id) => {
                        Ok(Some(User(id)))
                    }
                    Store::NotFound | Store::Only(_) => Ok(None),
                    Store::Fails | Store::FailsBut(_) => Err(io::Error::other("database is down")),
                }
            }
        })
    }

    /// Whether `loader` has `user_id` at hand: its future answers the user at the first poll,
    /// without a load. Looking leaves the cache as it was: on a miss, the load it starts is not
    /// counted, never ends, and is dropped (as a request that went away).
    fn at_hand(&self, loader: &impl UserLoader<User = User>, user_id: &str) -> bool {
        self.probing.store(true, Ordering::SeqCst);
        let answer = poll_once(&mut Box::pin(loader.load_user(user_id)));
        self.probing.store(false, Ordering::SeqCst);
        match answer {
            Poll::Ready(Ok(Some(user))) => {
                assert_eq!(user, User(user_id.into()), "the user asked for");
                true
            }
            Poll::Pending => false,
            Poll::Ready(Ok(None)) => panic!("a cached {user_id} answered as nobody"),
            Poll::Ready(Err(_)) => panic!("a cached {user_id} answered with an error"),
        }
    }

    fn cached(
        &self,
        store: Store,
        ttl: Duration,
        capacity: usize,
    ) -> CachedLoader<impl UserLoader<User = User, Error = io::Error>> {
        CachedLoader::new(self.loader(store), ttl, capacity)
    }
}

const LONG: Duration = Duration::from_secs(600);

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    std::pin::Pin::new(fut).poll(&mut Context::from_waker(Waker::noop()))
}

#[tokio::test]
async fn a_cached_user_is_answered_without_a_load_and_at_hand() {
    let backend = Backend::new();
    let loader = backend.cached(Store::Found, LONG, 100);
    assert!(!backend.at_hand(&loader, "1"), "nothing cached yet");

    let user = loader.load_user("1").await.unwrap();
    assert_eq!(user, Some(User("1".into())));
    assert_eq!(loader.load_user("1").await.unwrap(), user);
    assert!(backend.at_hand(&loader, "1"), "at hand once cached");
    assert_eq!(backend.loads(), 1);

    // Clones share the cache; other ids are loaded on their own.
    assert_eq!(loader.clone().load_user("1").await.unwrap(), user);
    assert_eq!(loader.load_user("2").await.unwrap(), Some(User("2".into())));
    assert_eq!(backend.loads(), 2);
}

#[tokio::test]
async fn a_user_is_loaded_again_once_its_ttl_is_over() {
    let backend = Backend::new();
    let loader = backend.cached(Store::Found, Duration::from_millis(50), 100);
    loader.load_user("1").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !backend.at_hand(&loader, "1"),
        "expired users are never answered"
    );
    loader.load_user("1").await.unwrap();
    assert_eq!(backend.loads(), 2);
}

#[tokio::test]
async fn the_longest_ttl_keeps_a_user_without_overflowing_the_clock() {
    let backend = Backend::new();
    let loader = backend.cached(Store::Found, Duration::MAX, 100);
    loader.load_user("1").await.unwrap();
    assert!(backend.at_hand(&loader, "1"));
    loader.load_user("1").await.unwrap();
    assert_eq!(backend.loads(), 1);
}

#[tokio::test]
async fn a_zero_ttl_or_capacity_keeps_nothing() {
    for (ttl, capacity) in [(Duration::ZERO, 100), (LONG, 0)] {
        let backend = Backend::new();
        let loader = backend.cached(Store::Found, ttl, capacity);
        loader.load_user("1").await.unwrap();
        loader.load_user("1").await.unwrap();
        assert!(!backend.at_hand(&loader, "1"));
        assert_eq!(backend.loads(), 2);
    }
}

/// `n` requests for `user_id` at once, while the store holds its loads: each is waiting, on the
/// one load or on the gate, before the gate opens. Their answers.
async fn at_once<L: UserLoader<Error = BoxError>>(
    backend: &Backend,
    loader: &L,
    user_id: &'static str,
    n: usize,
) -> Vec<Result<Option<L::User>, BoxError>> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let loader = loader.clone();
            tokio::spawn(async move { loader.load_user(user_id).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(backend.loads(), 1, "one load for {n} requests");
    backend.open();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

/// The answer of a request that waited for another's load: it is not left hanging.
async fn not_left_hanging<T>(waiter: tokio::task::JoinHandle<T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the waiting request is not left hanging")
        .unwrap()
}

#[tokio::test]
async fn concurrent_requests_for_one_user_share_one_load() {
    let backend = Backend::gated();
    let loader = backend.cached(Store::Found, LONG, 100);
    for answer in at_once(&backend, &loader, "7", 32).await {
        assert_eq!(answer.unwrap(), Some(User("7".into())));
    }
    assert_eq!(backend.loads(), 1);
}

#[tokio::test]
async fn a_failed_load_fails_every_waiter_once_and_is_not_cached() {
    let backend = Backend::gated();
    let loader = backend.cached(Store::Fails, LONG, 100);
    for answer in at_once(&backend, &loader, "1", 8).await {
        let error = answer.expect_err("the load failed");
        let source = error.source().expect("the store's error is the source");
        assert_eq!(source.to_string(), "database is down");
        assert!(error.to_string().contains("database is down"));
    }
    assert_eq!(backend.loads(), 1);
    // The next request tries again.
    assert!(loader.load_user("1").await.is_err());
    assert_eq!(backend.loads(), 2);
}

#[tokio::test]
async fn users_that_do_not_exist_are_not_cached() {
    let backend = Backend::new();
    let loader = backend.cached(Store::NotFound, LONG, 100);
    assert_eq!(loader.load_user("1").await.unwrap(), None);
    assert_eq!(loader.load_user("1").await.unwrap(), None);
    assert!(!backend.at_hand(&loader, "1"));
    assert_eq!(backend.loads(), 2);
}

#[tokio::test]
async fn concurrent_requests_for_a_user_that_does_not_exist_share_one_load() {
    let backend = Backend::gated();
    let loader = backend.cached(Store::NotFound, LONG, 100);
    for answer in at_once(&backend, &loader, "1", 8).await {
        assert_eq!(answer.unwrap(), None);
    }
    assert_eq!(backend.loads(), 1);
}

/// What a load that is not kept leaves (nobody, a failure) takes no room from cached users, and
/// is not answered again.
#[tokio::test]
async fn loads_not_kept_make_no_room_in_a_full_cache() {
    for store in [Store::Only(&["a", "c"]), Store::FailsBut(&["a", "c"])] {
        let backend = Backend::new();
        let loader = backend.cached(store, LONG, 2);
        // Full: `a` held as the cache filled, `c` the newest, the first to make room.
        for id in ["a", "c"] {
            loader.load_user(id).await.unwrap();
        }
        for _ in 0..3 {
            assert!(!matches!(loader.load_user("b").await, Ok(Some(_))));
        }
        assert_eq!(backend.loads(), 5, "b is loaded each time");
        assert!(backend.at_hand(&loader, "a"), "a is still cached");
        assert!(backend.at_hand(&loader, "c"), "c is still cached");
    }
}

/// A load whose future panics, while other requests wait for it, leaves none of them waiting
/// forever: the next one loads instead.
#[tokio::test]
async fn a_load_that_panics_hands_the_load_to_a_waiting_request() {
    let gate = Arc::new(Semaphore::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let loader = CachedLoader::new(
        loader_fn({
            let (gate, calls) = (gate.clone(), calls.clone());
            move |id: String| {
                let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
                let gate = gate.clone();
                async move {
                    let _permit = gate.acquire().await.expect("the gate is never closed");
                    assert!(!first, "the first load panics");
                    Ok::<_, io::Error>(Some(User(id)))
                }
            }
        }),
        LONG,
        10,
    );
    let load = |loader: &CachedLoader<_>| {
        let loader = loader.clone();
        tokio::spawn(async move { loader.load_user("a").await })
    };
    let leader = load(&loader);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let waiter = load(&loader);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the second request waits");

    gate.add_permits(10);
    assert!(leader.await.unwrap_err().is_panic());
    let user = not_left_hanging(waiter).await.unwrap();
    assert_eq!(user, Some(User("a".into())));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn when_the_leading_request_goes_away_a_waiting_one_loads() {
    let backend = Backend::gated();
    let loader = backend.cached(Store::Found, LONG, 100);
    let mut leader = Box::pin(loader.load_user("1"));
    assert!(poll_once(&mut leader).is_pending());
    let waiter = tokio::spawn({
        let loader = loader.clone();
        async move { loader.load_user("1").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        backend.loads(),
        1,
        "the second request waits for the first load"
    );

    drop(leader);
    backend.open();
    let user = not_left_hanging(waiter).await.unwrap();
    assert_eq!(user, Some(User("1".into())));
    assert_eq!(backend.loads(), 2);
    assert!(backend.at_hand(&loader, "1"));
}

#[tokio::test]
async fn a_leader_dropped_before_its_first_poll_leaves_no_entry_behind() {
    let backend = Backend::new();
    let loader = backend.cached(Store::Found, LONG, 100);
    drop(loader.load_user("1"));
    let load = tokio::time::timeout(Duration::from_secs(10), loader.load_user("1"));
    let user = load.await.expect("no request waits for the dropped one");
    assert_eq!(user.unwrap(), Some(User("1".into())));
    assert_eq!(backend.loads(), 1, "the dropped request started no load");
}

/// Who makes room is quick_cache's policy (see `CachedLoader`): a user cached once and not asked
/// for since goes first, the one cached longest ago first; users asked for again are kept.
#[tokio::test]
async fn the_cache_holds_at_most_capacity_users_and_keeps_those_asked_for_again() {
    let backend = Backend::new();
    let loader = backend.cached(Store::Found, LONG, 2);
    for id in ["a", "b", "c"] {
        loader.load_user(id).await.unwrap();
    }
    assert!(
        backend.at_hand(&loader, "a"),
        "cached while the cache filled"
    );
    assert!(
        !backend.at_hand(&loader, "b"),
        "not asked for again: made room"
    );
    assert!(backend.at_hand(&loader, "c"), "the newest");

    let backend = Backend::new();
    let loader = backend.cached(Store::Found, LONG, 2);
    for id in ["a", "b", "b", "c"] {
        loader.load_user(id).await.unwrap();
    }
    assert_eq!(backend.loads(), 3, "the second request for b was a hit");
    assert!(
        !backend.at_hand(&loader, "a"),
        "not asked for again: made room"
    );
    assert!(backend.at_hand(&loader, "b"), "asked for again: kept");
    assert!(backend.at_hand(&loader, "c"), "the newest");

    // Many more users than the capacity, each asked for once, over and over: still bounded,
    // still answering, and the user asked for again is still kept.
    let backend = Backend::new();
    let loader = backend.cached(Store::Found, LONG, 2);
    for id in ["a", "b", "b"] {
        loader.load_user(id).await.unwrap();
    }
    let others: Vec<String> = (0..50)
        .flat_map(|round| (0..10).map(move |id| format!("{round}-{id}")))
        .collect();
    for id in &others {
        assert!(loader.load_user(id).await.unwrap().is_some());
    }
    assert!(backend.at_hand(&loader, "b"), "asked for again: kept");
    assert!(!backend.at_hand(&loader, "a"));
    let cached = others
        .iter()
        .map(String::as_str)
        .chain(["a", "b"])
        .filter(|id| backend.at_hand(&loader, id))
        .count();
    assert_eq!(cached, 2);
}

/// A capacity large enough for quick_cache to split among shards (101: two shards of at least 32)
/// still bounds the whole cache, each shard filled.
#[tokio::test]
async fn a_capacity_split_among_shards_still_bounds_the_cache() {
    let backend = Backend::new();
    let loader = backend.cached(Store::Found, LONG, 101);
    let ids: Vec<String> = (0..1000).map(|id| id.to_string()).collect();
    for id in &ids {
        loader.load_user(id).await.unwrap();
    }
    let cached = ids.iter().filter(|id| backend.at_hand(&loader, id)).count();
    assert!(
        (90..=101).contains(&cached),
        "{cached} cached, capacity 101"
    );
}

/// Loads under way when the cache is full are not users kept: when they end, the cache still
/// holds at most `capacity` users (the bound once held only when a load started).
#[tokio::test]
async fn loads_that_end_together_still_leave_at_most_capacity_users() {
    let backend = Backend::gated();
    let loader = backend.cached(Store::Found, LONG, 1);
    let mut loads: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|id| Box::pin(loader.load_user(id)))
        .collect();
    for load in &mut loads {
        assert!(poll_once(load).is_pending());
    }
    backend.open();
    for load in loads {
        assert!(load.await.unwrap().is_some());
    }
    let cached: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .filter(|id| backend.at_hand(&loader, id))
        .collect();
    assert_eq!(
        cached,
        ["a"],
        "capacity 1: the user cached first stays; the later ones, not asked for again, make room"
    );
}

/// A loader that panics while making its future (before any future exists to go away) leaves no
/// load behind for later requests to wait on forever: the next request for the id loads it.
#[tokio::test]
async fn a_loader_that_panics_making_its_future_leaves_no_load_to_wait_for() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let loader = CachedLoader::new(
        loader_fn(move |id: String| {
            assert!(
                counted.fetch_add(1, Ordering::SeqCst) > 0,
                "the first load panics"
            );
            async move { Ok::<_, io::Error>(Some(User(id))) }
        }),
        LONG,
        10,
    );
    let first = tokio::spawn({
        let loader = loader.clone();
        async move { loader.load_user("a").await }
    });
    assert!(first.await.unwrap_err().is_panic());
    let second = tokio::time::timeout(Duration::from_secs(10), loader.load_user("a"))
        .await
        .expect("the next request is not left waiting for the load that panicked");
    assert_eq!(second.unwrap(), Some(User("a".into())));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn invalidate_drops_a_cached_user_and_a_load_under_way() {
    let backend = Backend::new();
    let loader = backend.cached(Store::Found, LONG, 100);
    loader.load_user("1").await.unwrap();
    loader.invalidate("1");
    assert!(!backend.at_hand(&loader, "1"));

    let gated = Backend::gated();
    let loader = gated.cached(Store::Found, LONG, 100);
    let mut load = Box::pin(loader.load_user("1"));
    assert!(poll_once(&mut load).is_pending());
    loader.invalidate("1");
    gated.open();
    assert_eq!(load.await.unwrap(), Some(User("1".into())));
    assert!(
        !gated.at_hand(&loader, "1"),
        "a user loaded before it was invalidated is not cached"
    );

    loader.load_user("1").await.unwrap();
    loader.clear();
    assert!(!gated.at_hand(&loader, "1"));
}

fn request(token: &str) -> Request<Empty<Bytes>> {
    Request::get("/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Empty::new())
        .unwrap()
}

#[tokio::test]
async fn through_the_layer_a_hot_user_costs_one_load_and_revocation_is_still_immediate() {
    let manager = LoginManager::new("a secret of at least thirty-two bytes").unwrap();
    let token = manager.issue_token("1", LONG).unwrap();
    let claims = manager.decode_token(&token).unwrap();
    let backend = Backend::new();
    let revocations = MemoryRevocations::new();
    let layer = LoginLayer::new(manager, backend.cached(Store::Found, LONG, 100))
        .revocations(revocations.clone());
    let svc = layer.layer(service_fn(|req: Request<Empty<Bytes>>| async move {
        let user = req.extensions().get::<User>().cloned();
        Ok::<_, io::Error>(Response::new(format!("{user:?}")))
    }));
    let status = || async { svc.clone().oneshot(request(&token)).await.unwrap().status() };

    for _ in 0..5 {
        assert_eq!(status().await, StatusCode::OK);
    }
    assert_eq!(backend.loads(), 1);

    // Revoking the token's `jti` (RFC 7519 section 4.1.7): refused at once, its user still cached.
    let revocation = claims.revocation();
    assert!(revocations.revoke(revocation).await.unwrap());
    assert_eq!(status().await, StatusCode::UNAUTHORIZED);
    assert_eq!(backend.loads(), 1);
}

// The cache's future is `Send` for every loader (the trait asks as much of the loader's own), so a
// multi-threaded server can spawn the requests that wait for it: checked when this file compiles.
const _: () = {
    fn assert_send<T: Send>() {}
    #[allow(dead_code)]
    fn cached_load_is_send<L: UserLoader>() {
        assert_send::<tower_login_manager::CachedLoad<L>>();
    }
};

/// A store whose loads take a random few hundred microseconds and answer the user with the
/// number of the load, so that a stale answer can be told from a fresh one.
fn slow_store(
    loads: Arc<AtomicUsize>,
) -> impl UserLoader<User = (String, usize), Error = io::Error> {
    loader_fn(move |id: String| {
        let n = loads.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(Duration::from_micros(100 + (n as u64 * 7919) % 900)).await;
            Ok(Some((id, n)))
        }
    })
}

/// Many tasks on several threads load, cancel (time out), invalidate and clear at random: every
/// load that completes answers the id it asked for, none hangs, and afterwards every id loads.
#[test]
fn under_random_concurrent_loads_cancellations_and_invalidations_nothing_hangs_or_mixes_up() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    #[derive(Clone, Debug)]
    enum Op {
        Load(u8),
        LoadWithin(u8, u16),
        Invalidate(u8),
        Clear,
    }
    let op = prop_oneof![
        6 => (0..4u8).prop_map(Op::Load),
        3 => (0..4u8, 0..600u16).prop_map(|(id, us)| Op::LoadWithin(id, us)),
        1 => (0..4u8).prop_map(Op::Invalidate),
        1 => Just(Op::Clear),
    ];
    let tasks = proptest::collection::vec(proptest::collection::vec(op, 1..40), 2..8);
    let params = (
        tasks,
        0..3usize,
        prop_oneof![Just(0u64), Just(1), Just(600_000)],
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    // A hang costs the whole timeout in every shrinking step: few of them.
    let mut runner = TestRunner::new(Config {
        cases: 64,
        max_shrink_iters: 4,
        ..Config::default()
    });
    runner
        .run(&params, |(tasks, capacity, ttl_ms)| {
            runtime.block_on(async {
                let loads = Arc::new(AtomicUsize::new(0));
                let loader = CachedLoader::new(
                    slow_store(loads.clone()),
                    Duration::from_millis(ttl_ms),
                    capacity,
                );
                let handles: Vec<_> = tasks
                    .into_iter()
                    .map(|ops| {
                        let loader = loader.clone();
                        tokio::spawn(async move {
                            for op in ops {
                                match op {
                                    Op::Load(id) => {
                                        let id = id.to_string();
                                        let (got, _) = loader.load_user(&id).await?.unwrap();
                                        assert_eq!(got, id);
                                    }
                                    Op::LoadWithin(id, us) => {
                                        let id = id.to_string();
                                        let within = Duration::from_micros(us.into());
                                        let load = loader.load_user(&id);
                                        if let Ok(user) = tokio::time::timeout(within, load).await {
                                            assert_eq!(user?.unwrap().0, id);
                                        }
                                    }
                                    Op::Invalidate(id) => loader.invalidate(&id.to_string()),
                                    Op::Clear => loader.clear(),
                                }
                            }
                            Ok::<_, BoxError>(())
                        })
                    })
                    .collect();
                let all = async {
                    for handle in handles {
                        handle.await.unwrap().unwrap();
                    }
                    for id in 0..4u8 {
                        let id = id.to_string();
                        assert_eq!(loader.load_user(&id).await.unwrap().unwrap().0, id);
                    }
                };
                tokio::time::timeout(Duration::from_secs(10), all)
                    .await
                    .expect("no load hangs");
            });
            Ok(())
        })
        .unwrap();
}

/// `clear` documents that "the loads under way are not cached either", as `invalidate` does for
/// one id: a user loaded before the cache was cleared must not land in it afterwards.
#[tokio::test]
async fn clear_drops_a_load_under_way_too() {
    let gated = Backend::gated();
    let loader = gated.cached(Store::Found, LONG, 100);
    let mut load = Box::pin(loader.load_user("1"));
    assert!(poll_once(&mut load).is_pending());
    loader.clear();
    gated.open();
    assert_eq!(load.await.unwrap(), Some(User("1".into())));
    assert!(
        !gated.at_hand(&loader, "1"),
        "a user loaded before clear() is not cached"
    );
}
