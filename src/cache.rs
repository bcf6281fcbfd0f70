//! [`CachedLoader`]: a short-lived, bounded cache of loaded users in front of any [`UserLoader`].
//!
//! [`moka::future::Cache`] does the keeping, the expiry, the eviction and the sharing of one load
//! among concurrent requests; this module adds what a login layer needs on top: the inner
//! loader's error shared with every waiting request, users that do not exist left out, and
//! [`invalidate`](CachedLoader::invalidate) covering a load under way as well.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

// moka, not a hand-written cache: the layer's waiting path costs +84 to +100 ns over the at-hand
// path (interleaved, `cargo bench --bench decode`, `layer_valid_waiting` against `layer_valid`),
// under 2% of an ~11 µs request, so the hand-written cache's synchronous hit did not earn its 465
// lines.
use moka::future::Cache;

use crate::error::BoxError;
use crate::loader::UserLoader;

/// The longest time to live moka takes (it panics beyond 1000 years); a longer `ttl` is cut to it.
const MAX_TTL: Duration = Duration::from_secs(1_000 * 365 * 24 * 60 * 60);

/// A [`UserLoader`] that keeps the users it loads for a short time, so that a hot user does not
/// cost a database query per request. Built on [`moka::future::Cache`] (the `cache` feature).
///
/// - **Short-lived:** a user is answered from the cache for `ttl` after it was loaded, then loaded
///   again. Expired users are never answered.
/// - **Bounded:** at most `capacity` users are kept. When the cache is full, moka's policy
///   decides what stays: a newly loaded user is kept only if it has been asked for more often
///   than the least recently used cached user, which then makes room (TinyLFU admission, LRU
///   eviction). A user asked for once may so not be kept at all while the cache is full of users
///   asked for more often; it is still answered, and loaded again next time.
/// - **One load per id:** requests for a user that is being loaded wait for that load instead of
///   starting their own, so a burst of requests for one user costs one query. If that load fails,
///   every waiting request gets its error (answered 500); if it is cancelled (its request went
///   away), a waiting request loads instead.
/// - **Through the future:** a cached user is answered by the [`load_user`](UserLoader::load_user)
///   future, without a load; [`load_user_now`](UserLoader::load_user_now) is always `None`, as
///   moka's cache has no synchronous lookup.
///
/// Users that do not exist (`Ok(None)`) and failed loads are not cached. With a `ttl` or
/// `capacity` of zero nothing is kept, but concurrent requests for one user still share one load.
///
/// # Staleness
///
/// A change to a user (renamed, disabled, deleted) shows in requests up to `ttl` after it is made,
/// on every instance that had the user cached; [`invalidate`](CachedLoader::invalidate) drops
/// the user from this instance's cache at once, and a load under way then is handed to its
/// requests but not cached. Revoking a token is not delayed: the layer checks
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
/// # tokio_test::block_on(async {
/// // After changing user 42 through this instance:
/// loader.invalidate("42").await;
/// # });
/// # let _ = layer;
/// ```
///
/// Clones share one cache. Errors reach the layer as a [`BoxError`] whose
/// [`source`](std::error::Error::source) is the inner loader's error.
pub struct CachedLoader<L: UserLoader> {
    shared: Arc<Shared<L>>,
}

struct Shared<L: UserLoader> {
    inner: L,
    users: Cache<String, L::User>,
    /// Bumped by every `invalidate` and `clear`. moka caches what a load under way returns even
    /// if the id was invalidated meanwhile; a load that sees the epoch move between its start and
    /// its end hands the user to its requests without caching it. Conservative: an invalidation
    /// of any other id, or `clear`, also keeps it out.
    epoch: AtomicU64,
    /// `false` with a `ttl` or a `capacity` of zero: loads are shared, never kept.
    keep: bool,
    ttl: Duration,
    capacity: usize,
}

impl<L: UserLoader> Clone for CachedLoader<L> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<L: UserLoader + fmt::Debug> fmt::Debug for CachedLoader<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedLoader")
            .field("inner", &self.shared.inner)
            .field("ttl", &self.shared.ttl)
            .field("capacity", &self.shared.capacity)
            .field("len", &self.shared.users.entry_count())
            .finish()
    }
}

impl<L: UserLoader> CachedLoader<L> {
    /// Caches the users `inner` loads, each for `ttl` after it was loaded (at most 1000 years), at
    /// most `capacity` at a time. With a `ttl` or `capacity` of zero nothing is kept, but
    /// concurrent requests for one user still share one load.
    pub fn new(inner: L, ttl: Duration, capacity: usize) -> Self {
        let users = Cache::builder()
            .max_capacity(u64::try_from(capacity).unwrap_or(u64::MAX))
            .time_to_live(ttl.min(MAX_TTL))
            .build();
        Self {
            shared: Arc::new(Shared {
                inner,
                users,
                epoch: AtomicU64::new(0),
                keep: !ttl.is_zero() && capacity > 0,
                ttl,
                capacity,
            }),
        }
    }

    /// Drops the user with this id from the cache (this instance's only), so that the next
    /// request loads it again; a load under way when this is called is not cached either.
    pub async fn invalidate(&self, user_id: &str) {
        // First the epoch, then the entry: see `Shared::load`.
        self.shared.epoch.fetch_add(1, Ordering::SeqCst);
        self.shared.users.invalidate(user_id).await;
    }

    /// Drops every cached user; loads under way are not cached either.
    pub fn clear(&self) {
        self.shared.epoch.fetch_add(1, Ordering::SeqCst);
        self.shared.users.invalidate_all();
    }
}

impl<L: UserLoader> UserLoader for CachedLoader<L> {
    type User = L::User;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Option<L::User>, BoxError>> + Send>>;

    fn load_user(&self, user_id: &str) -> Self::Future {
        let shared = self.shared.clone();
        let user_id = user_id.to_owned();
        Box::pin(async move { shared.load(&user_id).await })
    }
}

/// Why a load gives no user to cache: moka caches only `Ok`, and hands the same `Arc<Miss>` to
/// every request that waited for the load.
enum Miss<U> {
    /// The user, to answer but not to keep (an invalidation while it loaded, or nothing is kept).
    Uncached(U),
    NotFound,
    Failed(Arc<dyn Error + Send + Sync>),
}

impl<L: UserLoader> Shared<L> {
    async fn load(&self, user_id: &str) -> Result<Option<L::User>, BoxError> {
        // The epoch at the start of the load this request leads, if it leads one.
        let mut led = None;
        let load = async {
            let epoch = self.epoch.load(Ordering::SeqCst);
            led = Some(epoch);
            match self.inner.load_user(user_id).await {
                Ok(Some(user)) if self.keep && self.epoch.load(Ordering::SeqCst) == epoch => {
                    Ok(user)
                }
                Ok(Some(user)) => Err(Miss::Uncached(user)),
                Ok(None) => Err(Miss::NotFound),
                Err(e) => Err(Miss::Failed(Arc::from(e.into()))),
            }
        };
        let result = self.users.try_get_with_by_ref(user_id, load).await;
        match result {
            Ok(user) => {
                if let Some(epoch) = led {
                    self.cached(user_id, epoch).await;
                }
                Ok(Some(user))
            }
            Err(miss) => match &*miss {
                Miss::Uncached(user) => Ok(Some(user.clone())),
                Miss::NotFound => Ok(None),
                Miss::Failed(e) => Err(Box::new(SharedError(e.clone()))),
            },
        }
    }

    /// After this request's load, begun at `epoch`, was cached.
    async fn cached(&self, user_id: &str, epoch: u64) {
        if self.epoch.load(Ordering::SeqCst) != epoch {
            // An invalidation came between the load's last look at the epoch and moka's insertion,
            // too late for the load to see it and maybe before the entry it should have dropped:
            // drop it now. (The requests that waited for this load still get the user: they
            // began before the invalidation.)
            self.users.invalidate(user_id).await;
        } else {
            // moka evicts in its maintenance, run on its own only now and then: run it now, so
            // that the cache holds at most `capacity` users between loads.
            self.users.run_pending_tasks().await;
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
