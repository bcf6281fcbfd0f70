//! [`CachedLoader`]: a short-lived, bounded cache of loaded users in front of any [`UserLoader`].

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::num::NonZero;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::{DefaultHashBuilder, OptionsBuilder, Weighter};

use crate::error::BoxError;
use crate::loader::UserLoader;

// On quick_cache, the first library whose hit costs within 2% of a request (~8.9 µs of server CPU
// through axum, so 178 ns). `INTERLEAVED_ONLY=1 INTERLEAVED_ROUNDS=2000 cargo bench --bench
// decode`, 2026-12-06, medians of per-round differences over the hand-written cache answering
// through its future: moka +398 ns (4.5%; its `get` polled in place, unboxed: +203 ns, 2.3%),
// quick_cache +32 ns (0.4%; +106 ns, 1.2%, over the hand-written cache answered at hand).

/// A [`UserLoader`] that keeps the users it loads for a short time, so that a hot user does not
/// cost a database query per request.
///
/// - **Bounded:** at most `capacity` users are kept. When the cache is full, [quick_cache]'s
///   policy (a CLOCK-PRO variant, close to S3-FIFO) picks the user that makes room: a user cached
///   once and not asked for since makes room first, the one cached longest ago first; users
///   asked for again while cached, and those cached as the cache filled up, are kept over them,
///   so a burst of one-off users does not push out the hot ones. Expired users are never
///   answered, whatever the capacity.
/// - **Short-lived:** a user is answered from the cache for `ttl` after it was loaded, then loaded
///   again.
/// - **One load per id:** requests for a user that is being loaded wait for that load instead of
///   starting their own, so a burst of requests for one user costs one query. If that load fails,
///   every waiting request gets its error (answered 500); if it is cancelled (its request went
///   away) or panics, the next waiting request loads instead.
/// - **At once:** a cached user is answered by a future that is ready at its first poll, with a
///   clone of the user and no allocation.
///
/// Users that do not exist (`Ok(None)`) and failed loads are not cached.
///
/// [quick_cache]: https://docs.rs/quick_cache
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
    cache: Arc<Users<L::User>>,
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
            .field("len", &self.cache.users.len())
            .finish()
    }
}

impl<L: UserLoader> CachedLoader<L> {
    /// Caches the users `inner` loads, each for `ttl` after it was loaded, at most `capacity` at a
    /// time. With a `ttl` or `capacity` of zero nothing is kept, but concurrent requests for one
    /// user still share one load.
    pub fn new(inner: L, ttl: Duration, capacity: usize) -> Self {
        // quick_cache splits its capacity among shards, rounding each share up: shards that
        // divide the capacity keep the total within it. At least 32 users a shard, as
        // quick_cache itself has it.
        let mut shards = std::thread::available_parallelism()
            .map_or(1, NonZero::get)
            .saturating_mul(4)
            .next_power_of_two();
        while shards > 1 && capacity / shards < 32 {
            shards /= 2;
        }
        let kept = capacity - capacity % shards;
        let options = OptionsBuilder::new()
            .shards(shards)
            .estimated_items_capacity(kept)
            .weight_capacity(kept as u64)
            .build()
            .expect("every option is set");
        Self {
            inner,
            cache: Arc::new(Users {
                users: Cache::with_options(
                    options,
                    OneUser,
                    DefaultHashBuilder::default(),
                    DefaultLifecycle::default(),
                ),
                ttl,
                capacity,
            }),
        }
    }

    /// Drops the user with this id from the cache (this instance's only), so that the next
    /// request loads it again; a load under way when this is called is not cached either.
    pub fn invalidate(&self, user_id: &str) {
        // Removes a load under way too (quick_cache's placeholder): its requests still get its
        // answer, later ones start their own load.
        self.cache.users.remove(user_id);
    }

    /// Drops every cached user; the loads under way are not cached either.
    pub fn clear(&self) {
        self.cache.users.clear();
    }

    /// The load of a user that is not cached: waits for the load under way for this id, or
    /// leads a new one. Boxed: quick_cache's wait for a load (`get_value_or_guard_async`) is an
    /// `async fn`, whose future has no name, and borrows the cache; only a miss pays for it.
    fn miss(&self, user_id: &str) -> Pin<Box<dyn Future<Output = Answer<L::User>> + Send>> {
        let (inner, cache, id) = (self.inner.clone(), self.cache.clone(), user_id.to_owned());
        Box::pin(async move {
            let users = &cache.users;
            // An expired user would be answered by the lookup below.
            users.remove_if(id.as_str(), |entry| !cache.fresh(entry, Instant::now()));
            let guard = match users.get_value_or_guard_async(id.as_str()).await {
                Ok(entry) => return entry.answer(),
                Err(guard) => guard,
            };
            let (entry, answer) = match inner.load_user(&id).await {
                Ok(Some(user)) if cache.keeps() => {
                    let loaded = Instant::now();
                    (Entry::User(user.clone(), loaded), Ok(Some(user)))
                }
                Ok(user) => (Entry::Passed(Ok(user.clone())), Ok(user)),
                Err(e) => {
                    let shared: Arc<dyn Error + Send + Sync> = Arc::from(e.into());
                    let answer: BoxError = Box::new(SharedError(shared.clone()));
                    (Entry::Passed(Err(shared)), Err(answer))
                }
            };
            // The waiting requests get `entry` from the guard, even if the load was invalidated
            // meanwhile (then it is not cached: `insert` fails). An outcome that is not kept is
            // taken out as soon as it is in.
            let passed = matches!(entry, Entry::Passed(_));
            if guard.insert(entry).is_ok() && passed {
                users.remove_if(id.as_str(), |entry| matches!(entry, Entry::Passed(_)));
            }
            answer
        })
    }
}

impl<L: UserLoader> UserLoader for CachedLoader<L> {
    type User = L::User;
    type Error = BoxError;
    type Future = CachedLoad<L>;

    fn load_user(&self, user_id: &str) -> CachedLoad<L> {
        let state = match self.cache.users.get(user_id) {
            Some(Entry::User(user, loaded)) if self.cache.fresh_user(loaded, Instant::now()) => {
                State::Hit(Some(user))
            }
            _ => State::Miss(self.miss(user_id)),
        };
        CachedLoad { state }
    }
}

type Answer<U> = Result<Option<U>, BoxError>;

struct Users<U> {
    users: Cache<String, Entry<U>, OneUser>,
    ttl: Duration,
    capacity: usize,
}

impl<U> Users<U> {
    /// Whether loaded users are kept at all.
    fn keeps(&self) -> bool {
        !self.ttl.is_zero() && self.capacity > 0
    }

    /// Loaded less than `ttl` ago. (From when it was loaded rather than an expiry time, which
    /// `loaded + ttl` could overflow: a `ttl` of `Duration::MAX`.)
    fn fresh_user(&self, loaded: Instant, now: Instant) -> bool {
        now.saturating_duration_since(loaded) < self.ttl
    }

    fn fresh(&self, entry: &Entry<U>, now: Instant) -> bool {
        match entry {
            Entry::User(_, loaded) => self.fresh_user(*loaded, now),
            Entry::Passed(_) => true,
        }
    }
}

/// What the cache holds for an id.
#[derive(Clone)]
enum Entry<U> {
    /// A user, kept, and when its load ended.
    User(U, Instant),
    /// The outcome of a load that is not kept (a failure, nobody, or any user when nothing is
    /// kept), passed to the requests that waited for it through quick_cache's guard, then taken
    /// out. Weighs nothing, so that it never makes a user room.
    Passed(Result<Option<U>, Arc<dyn Error + Send + Sync>>),
}

impl<U: Clone> Entry<U> {
    /// What a request that waited for this load gets.
    fn answer(self) -> Answer<U> {
        match self {
            Entry::User(user, _) => Ok(Some(user)),
            Entry::Passed(Ok(user)) => Ok(user),
            Entry::Passed(Err(e)) => Err(Box::new(SharedError(e))),
        }
    }
}

/// A user weighs one against the capacity; an outcome passed on weighs nothing.
#[derive(Clone, Copy)]
struct OneUser;

impl<U> Weighter<String, Entry<U>> for OneUser {
    fn weight(&self, _: &String, entry: &Entry<U>) -> u64 {
        match entry {
            Entry::User(..) => 1,
            Entry::Passed(_) => 0,
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

/// The future of [`CachedLoader::load_user`]: a cached user, ready at once, or the load of a user
/// that is not cached.
pub struct CachedLoad<L: UserLoader> {
    state: State<L::User>,
}

enum State<U> {
    Hit(Option<U>),
    Miss(Pin<Box<dyn Future<Output = Answer<U>> + Send>>),
}

// Nothing in it is pinned: the user is moved out, the load is boxed.
impl<L: UserLoader> Unpin for CachedLoad<L> {}

impl<L: UserLoader> fmt::Debug for CachedLoad<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Hit(_) => "cached",
            State::Miss(_) => "loading",
        };
        f.debug_tuple("CachedLoad").field(&state).finish()
    }
}

impl<L: UserLoader> Future for CachedLoad<L> {
    type Output = Answer<L::User>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().state {
            State::Hit(user) => {
                let user = user.take().expect("CachedLoad polled after completion");
                Poll::Ready(Ok(Some(user)))
            }
            State::Miss(load) => load.as_mut().poll(cx),
        }
    }
}
