//! [`CachedLoader`]: a short-lived, bounded cache of loaded users in front of any [`UserLoader`].

use std::collections::{HashMap, VecDeque};
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

use crate::error::BoxError;
use crate::loader::UserLoader;

// Hand-written rather than on `moka::future::Cache`, on a benchmark's evidence: a cached user
// answered at hand, through the layer, saves 508 ns (criterion) to 967 ns (interleaved) per
// request over the same cache on moka, whose hit must go through a boxed future (its `get` is
// async): `layer_valid_moka - layer_valid_cached` in `cargo bench --bench decode` (an earlier
// run: 960 and 572 ns). That is 3.6% to 8.8% of a bare axum request here (11 to 14 µs of server
// CPU), above the 2% a hand-written piece must buy. BENCHMARKS.md has the run.

/// A [`UserLoader`] that keeps the users it loads for a short time, so that a hot user does not
/// cost a database query per request.
///
/// - **Bounded:** at most `capacity` users are kept; when it is full, the one cached longest ago
///   makes room. Expired users are never answered, whatever the capacity.
/// - **Short-lived:** a user is answered from the cache for `ttl` after it was loaded, then loaded
///   again.
/// - **One load per id:** requests for a user that is being loaded wait for that load instead of
///   starting their own, so a burst of requests for one user costs one query. If that load fails,
///   every waiting request gets its error (answered 500); if it is cancelled (its request went
///   away), the next waiting request loads instead.
/// - **At hand:** a cached user is answered through [`UserLoader::load_user_now`], so the layer
///   lets the request through from its own `call`, without waiting on a future.
///
/// Users that do not exist (`Ok(None)`) and failed loads are not cached.
///
/// # Staleness
///
/// A change to a user (renamed, disabled, deleted) shows in requests up to `ttl` after it is made,
/// on every instance that had the user cached; [`invalidate`](CachedLoader::invalidate) drops
/// the user from this instance's cache at once. Revoking a token is not delayed: the layer checks
/// [`Revocations`](crate::Revocations) on every request, before the user is loaded or taken from
/// the cache, so a revoked token is refused at once on every instance sharing the revocation
/// store. Choose `ttl` as the time a change to a user may take to be seen: a few seconds keeps a
/// hot user to one query per `ttl` per instance.
///
/// ```
/// use std::time::Duration;
/// use tower_login_manager::{loader_fn, CachedLoader, LoginLayer, LoginManager};
///
/// #[derive(Clone)]
/// struct User { id: String }
///
/// let database = loader_fn(|id: String| async move {
///     // SELECT ... FROM users WHERE id = $1
///     Ok::<_, std::io::Error>(Some(User { id }))
/// });
/// // At most 10,000 users, each for at most 5 seconds after it was loaded.
/// let loader = CachedLoader::new(database, Duration::from_secs(5), 10_000);
/// let manager = LoginManager::new(*b"a secret of at least 32 bytes!!!").unwrap();
/// let layer = LoginLayer::new(manager, loader.clone());
///
/// // After changing user 42 through this instance:
/// loader.invalidate("42");
/// # let _ = layer;
/// ```
///
/// Clones share one cache. Errors reach the layer as a [`BoxError`] whose
/// [`source`](std::error::Error::source) is the inner loader's error.
pub struct CachedLoader<L: UserLoader> {
    inner: L,
    cache: Arc<Cache<L::User>>,
}

impl<L: UserLoader> Clone for CachedLoader<L> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            cache: self.cache.clone(),
        }
    }
}

impl<L: UserLoader + fmt::Debug> fmt::Debug for CachedLoader<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedLoader")
            .field("inner", &self.inner)
            .field("ttl", &self.cache.ttl)
            .field("capacity", &self.cache.capacity)
            .field("len", &self.cache.lock().users.len())
            .finish()
    }
}

impl<L: UserLoader> CachedLoader<L> {
    /// Caches the users `inner` loads, each for `ttl` after it was loaded, at most `capacity` at a
    /// time. With a `ttl` or `capacity` of zero nothing is kept, but concurrent requests for one
    /// user still share one load.
    pub fn new(inner: L, ttl: Duration, capacity: usize) -> Self {
        Self {
            inner,
            cache: Arc::new(Cache {
                ttl,
                capacity,
                state: Mutex::new(State {
                    users: HashMap::new(),
                    loading: HashMap::new(),
                    order: VecDeque::new(),
                    next_seq: 0,
                }),
            }),
        }
    }

    /// Drops the user with this id from the cache (this instance's only), so that the next
    /// request loads it again; a load under way when this is called is not cached either.
    pub fn invalidate(&self, user_id: &str) {
        let mut state = self.cache.lock();
        state.users.remove(user_id);
        state.loading.remove(user_id);
    }

    /// Drops every cached user; the loads under way are not cached either.
    pub fn clear(&self) {
        let mut state = self.cache.lock();
        state.users.clear();
        state.loading.clear();
        state.order.clear();
    }

    /// A cached user; else a load under way for this id to wait for; else a new load, led by
    /// the caller.
    fn start(&self, user_id: &str) -> LoadState<L> {
        let mut state = self.cache.lock();
        if let Some(user) = self.cache.cached(&state, user_id, Instant::now()) {
            return LoadState::Done {
                answer: Some(Ok(Some(user))),
            };
        }
        if let Some(slot) = state.loading.get(user_id) {
            return LoadState::Wait {
                loader: self.clone(),
                user_id: user_id.into(),
                slot: slot.clone(),
            };
        }
        let slot = Arc::new(Slot::default());
        state.loading.insert(user_id.into(), slot.clone());
        drop(state);
        // A loader that panics making its future leaves no load for the id's requests to wait
        // on forever: it ends as a leader that went away does, and the panic goes on.
        let fut = catch_unwind(AssertUnwindSafe(|| self.inner.load_user(user_id))).unwrap_or_else(
            |panic| {
                self.cache.finish(user_id, &slot, Outcome::Abandoned);
                resume_unwind(panic)
            },
        );
        LoadState::Lead {
            fut,
            loader: self.clone(),
            user_id: user_id.into(),
            slot,
        }
    }
}

impl<L: UserLoader> UserLoader for CachedLoader<L> {
    type User = L::User;
    type Error = BoxError;
    type Future = CachedLoad<L>;

    fn load_user(&self, user_id: &str) -> CachedLoad<L> {
        CachedLoad {
            state: self.start(user_id),
        }
    }
}

struct Cache<U> {
    ttl: Duration,
    capacity: usize,
    state: Mutex<State<U>>,
}

struct State<U> {
    /// The users kept: at most `capacity`.
    users: HashMap<Box<str>, Cached<U>>,
    /// The loads under way, one per id, which the requests for that id wait for. Not users kept:
    /// there are as many as ids requested at once, whatever the capacity.
    loading: HashMap<Box<str>, Arc<Slot<U>>>,
    /// Cached users in the order they were cached, oldest first, with the `seq` of their entry: an
    /// entry replaced or removed since leaves a stale pair here, skipped when met.
    order: VecDeque<(Box<str>, u64)>,
    next_seq: u64,
}

struct Cached<U> {
    user: U,
    /// When the load that gave `user` ended. Kept rather than an expiry time, which
    /// `loaded + ttl` could overflow (a `ttl` of `Duration::MAX`).
    loaded: Instant,
    seq: u64,
}

impl<U: Clone> Cache<U> {
    fn lock(&self) -> MutexGuard<'_, State<U>> {
        // Nothing here panics while holding the lock; if something did, the map is still whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Loaded less than `ttl` ago.
    fn fresh(&self, cached: &Cached<U>, now: Instant) -> bool {
        now.saturating_duration_since(cached.loaded) < self.ttl
    }

    /// The user with this id, if it is cached and fresh.
    fn cached(&self, state: &State<U>, user_id: &str, now: Instant) -> Option<U> {
        let cached = state.users.get(user_id)?;
        self.fresh(cached, now).then(|| cached.user.clone())
    }

    /// Before a user is cached: drops the users cached longest ago until there is room for one
    /// more.
    fn make_room(&self, state: &mut State<U>, now: Instant) {
        while state.users.len() >= self.capacity {
            let Some((id, seq)) = state.order.pop_front() else {
                return;
            };
            if state.users.get(&id).is_some_and(|cached| cached.seq == seq) {
                state.users.remove(&id);
            }
        }
        // `order` gains a pair for every user cached; when the cache does not fill, nothing else
        // takes them out. Now and then, drop the expired users and the pairs no entry matches.
        if state.order.len() > self.capacity.max(16).saturating_mul(2) {
            let State { users, order, .. } = state;
            users.retain(|_, cached| self.fresh(cached, now));
            order.retain(|(id, seq)| users.get(id).is_some_and(|cached| cached.seq == *seq));
        }
    }

    /// The load led by `slot` ended with `outcome`: cache the user, unless the entry was
    /// invalidated or replaced meanwhile, then wake every request waiting for it.
    fn finish(&self, user_id: &str, slot: &Arc<Slot<U>>, outcome: Outcome<U>) {
        self.record(user_id, slot, &outcome);
        slot.settle(outcome);
    }

    fn record(&self, user_id: &str, slot: &Arc<Slot<U>>, outcome: &Outcome<U>) {
        let mut state = self.lock();
        let ours = state
            .loading
            .get(user_id)
            .is_some_and(|s| Arc::ptr_eq(s, slot));
        if !ours {
            return;
        }
        state.loading.remove(user_id);
        // An entry still here is one that expired before this load started.
        state.users.remove(user_id);
        if let Outcome::Loaded(Some(user)) = outcome
            && !self.ttl.is_zero()
            && self.capacity > 0
        {
            let now = Instant::now();
            self.make_room(&mut state, now);
            let seq = state.next_seq;
            state.next_seq += 1;
            let cached = Cached {
                user: user.clone(),
                loaded: now,
                seq,
            };
            state.users.insert(user_id.into(), cached);
            state.order.push_back((user_id.into(), seq));
        }
    }
}

/// Where the requests waiting for one load find its outcome.
struct Slot<U> {
    inner: Mutex<SlotState<U>>,
}

impl<U> Default for Slot<U> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(SlotState {
                outcome: None,
                waiters: Vec::new(),
            }),
        }
    }
}

struct SlotState<U> {
    outcome: Option<Outcome<U>>,
    waiters: Vec<Waker>,
}

enum Outcome<U> {
    Loaded(Option<U>),
    Failed(Arc<dyn Error + Send + Sync>),
    /// The leading request went away before its load ended.
    Abandoned,
}

impl<U> Slot<U> {
    fn lock(&self) -> MutexGuard<'_, SlotState<U>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the outcome and wakes every request waiting for it.
    fn settle(&self, outcome: Outcome<U>) {
        let waiters = {
            let mut slot = self.lock();
            slot.outcome = Some(outcome);
            std::mem::take(&mut slot.waiters)
        };
        for waker in waiters {
            waker.wake();
        }
    }
}

/// The error every request that waited for a failed load gets: the inner loader's error, shared.
struct SharedError(Arc<dyn Error + Send + Sync>);

impl fmt::Debug for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "loading the user failed: {}", self.0)
    }
}

impl Error for SharedError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.0)
    }
}

/// What a request that waited gets from `outcome`; `None`: the leader went away.
fn waiter_answer<U: Clone>(outcome: &Outcome<U>) -> Option<Result<Option<U>, BoxError>> {
    match outcome {
        Outcome::Loaded(user) => Some(Ok(user.clone())),
        Outcome::Failed(e) => Some(Err(Box::new(SharedError(e.clone())))),
        Outcome::Abandoned => None,
    }
}

pin_project! {
    /// The future of [`CachedLoader::load_user`]: a cached user, the inner loader's load, or
    /// waiting for a load another request started.
    pub struct CachedLoad<L: UserLoader> {
        #[pin]
        state: LoadState<L>,
    }

    impl<L: UserLoader> PinnedDrop for CachedLoad<L> {
        fn drop(this: Pin<&mut Self>) {
            // A leader that goes away before its load ends hands the load to the next waiter.
            let state = this.project().state.project();
            if let LoadStateProj::Lead { loader, user_id, slot, .. } = state {
                loader.cache.finish(user_id, slot, Outcome::Abandoned);
            }
        }
    }
}

pin_project! {
    #[project = LoadStateProj]
    enum LoadState<L: UserLoader> {
        Done { answer: Option<Result<Option<L::User>, BoxError>> },
        Lead {
            #[pin]
            fut: L::Future,
            loader: CachedLoader<L>,
            user_id: Box<str>,
            slot: Arc<Slot<L::User>>,
        },
        Wait {
            loader: CachedLoader<L>,
            user_id: Box<str>,
            slot: Arc<Slot<L::User>>,
        },
    }
}

impl<L: UserLoader> fmt::Debug for CachedLoad<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            LoadState::Done { .. } => "done",
            LoadState::Lead { .. } => "loading",
            LoadState::Wait { .. } => "waiting for a load under way",
        };
        f.debug_tuple("CachedLoad").field(&state).finish()
    }
}

impl<L: UserLoader> Future for CachedLoad<L> {
    type Output = Result<Option<L::User>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                LoadStateProj::Done { answer } => {
                    return Poll::Ready(answer.take().expect("CachedLoad polled after completion"));
                }
                LoadStateProj::Lead {
                    fut,
                    loader,
                    user_id,
                    slot,
                } => {
                    let result = std::task::ready!(fut.poll(cx));
                    let (outcome, answer) = match result {
                        Ok(user) => (Outcome::Loaded(user.clone()), Ok(user)),
                        Err(e) => {
                            let shared: Arc<dyn Error + Send + Sync> = Arc::from(e.into());
                            let answer: BoxError = Box::new(SharedError(shared.clone()));
                            (Outcome::Failed(shared), Err(answer))
                        }
                    };
                    loader.cache.finish(user_id, slot, outcome);
                    // Settled: leaving this state must not count as going away.
                    state.set(LoadState::Done {
                        answer: Some(answer),
                    });
                }
                LoadStateProj::Wait {
                    loader,
                    user_id,
                    slot,
                } => {
                    let answer = {
                        let mut s = slot.lock();
                        match &s.outcome {
                            Some(outcome) => waiter_answer(outcome),
                            None => {
                                if !s.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                                    s.waiters.push(cx.waker().clone());
                                }
                                return Poll::Pending;
                            }
                        }
                    };
                    let next = match answer {
                        Some(answer) => LoadState::Done {
                            answer: Some(answer),
                        },
                        // The leader went away: load again, or wait for whoever does.
                        None => loader.start(user_id),
                    };
                    state.set(next);
                }
            }
        }
    }
}
