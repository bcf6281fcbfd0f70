//! Revocation: refusing tokens before they expire, by their `jti`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::{Future, Ready, ready};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::BoxError;

/// A store of revoked token ids (`jti`, RFC 7519 section 4.1.7), checked by the layer after the
/// token is verified and before the user is loaded. A revoked token is answered with 401 "Token
/// has been revoked"; a store that fails is answered with 503 (gRPC `UNAVAILABLE`), never by
/// letting the request through.
///
/// Tokens without a `jti` cannot be revoked and are not checked: turn on
/// [`token_ids`](crate::LoginManagerBuilder::token_ids) (token pairs always carry one).
/// [`MemoryRevocations`] serves one process; several instances need a shared store.
///
/// [`revoke`](Revocations::revoke) also tells whether the id was already revoked, in the same
/// atomic step, so that a token can be spent exactly once: a refresh handler that rotates refresh
/// tokens (RFC 9700 section 4.14.2) issues a new pair only when `revoke` answers `true`. Checking
/// [`is_revoked`](Revocations::is_revoked) first and revoking after is not enough: two requests
/// with the same token can both pass the check.
pub trait Revocations: Clone + Send + Sync + 'static {
    /// Why the store could not answer.
    type Error: Into<BoxError>;
    /// The future of [`Revocations::is_revoked`].
    type CheckFuture: Future<Output = Result<bool, Self::Error>> + Send;
    /// The future of [`Revocations::revoke`]: whether this call revoked the id.
    type RevokeFuture: Future<Output = Result<bool, Self::Error>> + Send;

    /// Whether the token with this id has been revoked.
    fn is_revoked(&self, jti: &str) -> Self::CheckFuture;

    /// The answer of [`is_revoked`](Revocations::is_revoked), if the store has it at hand without
    /// waiting (in this process's memory); `None` otherwise, the default. With `Some`, the layer
    /// goes on at once instead of waiting for a future. It must agree with `is_revoked` and must
    /// not block.
    fn is_revoked_now(&self, jti: &str) -> Option<Result<bool, Self::Error>> {
        let _ = jti;
        None
    }

    /// Revokes the token with this id until `expires_at` (seconds since the Unix epoch, the
    /// token's `exp`), after which the token is refused as expired anyway and the entry can go.
    ///
    /// `Ok(true)` when this call revoked the id, `Ok(false)` when it was already revoked (its
    /// entry is left as it was). The test and the revocation are one atomic step: of any number
    /// of calls with the same id, concurrent or not, exactly one gets `true` (until the entry
    /// goes after `expires_at`). An implementation must keep this with one store operation (an
    /// insert that reports whether the key was new, Redis `SET .. NX`), never `is_revoked`
    /// followed by a write. On `Err` the id may or may not have been revoked (a reply lost after
    /// the write): treat it as a failure, never as `true`.
    fn revoke(&self, jti: &str, expires_at: u64) -> Self::RevokeFuture;
}

/// No revocation: the default of [`LoginLayer`](crate::LoginLayer). Never consulted.
///
/// It holds nothing: [`is_revoked`](Revocations::is_revoked) is always `false`, and so
/// [`revoke`](Revocations::revoke) is always `Ok(true)` (no id is ever already revoked) and is
/// remembered nowhere. It therefore gives no single-use guarantee: a handler that must detect
/// reuse (refresh-token rotation) needs a real store.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRevocation;

impl Revocations for NoRevocation {
    type Error = Infallible;
    type CheckFuture = Ready<Result<bool, Infallible>>;
    type RevokeFuture = Ready<Result<bool, Infallible>>;

    fn is_revoked(&self, _: &str) -> Self::CheckFuture {
        ready(Ok(false))
    }

    fn is_revoked_now(&self, _: &str) -> Option<Result<bool, Infallible>> {
        Some(Ok(false))
    }

    /// Always `Ok(true)`, and nothing is stored.
    fn revoke(&self, _: &str, _: u64) -> Self::RevokeFuture {
        ready(Ok(true))
    }
}

/// Revoked token ids in this process's memory, each kept until its token would have expired:
/// the set never grows past the live tokens. Cheap to clone (shared). [`revoke`](
/// Revocations::revoke) tests and inserts under one lock, so exactly one of the calls with an id
/// gets `true`.
///
/// ```
/// use std::time::Duration;
/// use tower_login_manager::{LoginManager, MemoryRevocations, Revocations};
///
/// # tokio_test::block_on(async {
/// let manager = LoginManager::builder([7u8; 32]).token_ids(true).build()?;
/// let revocations = MemoryRevocations::new();
/// let claims = manager.decode_token(&manager.issue_token("1", Duration::from_secs(60))?)?;
///
/// // POST /logout: revoke the presented token until it expires.
/// let jti = claims.token_id().expect("token_ids(true)");
/// assert!(revocations.revoke(jti, claims.expires_at().unwrap()).await?, "revoked by this call");
/// assert!(revocations.is_revoked(jti).await?);
/// // A second revocation of the same token: it was already revoked.
/// assert!(!revocations.revoke(jti, claims.expires_at().unwrap()).await?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct MemoryRevocations {
    inner: Arc<Mutex<Revoked>>,
    clock: Arc<dyn Fn() -> u64 + Send + Sync>,
}

struct Revoked {
    until: HashMap<String, u64>,
    prune_at: usize,
}

impl Default for MemoryRevocations {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRevocations {
    /// An empty store, judging expiry by the system clock.
    pub fn new() -> Self {
        Self::with_clock(now)
    }

    /// An empty store judging expiry by `clock` (seconds since the Unix epoch): give it the
    /// clock of the [`LoginManager`](crate::LoginManager) when that one is pinned.
    pub fn with_clock(clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Revoked {
                until: HashMap::new(),
                prune_at: MIN_PRUNE,
            })),
            clock: Arc::new(clock),
        }
    }

    /// How many revoked ids are held (expired ones are dropped as the store grows).
    pub fn len(&self) -> usize {
        self.lock().until.len()
    }

    /// `true` when no id is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn holds(&self, jti: &str) -> bool {
        self.lock().until.contains_key(jti)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Revoked> {
        // A panic while holding the lock cannot leave the map inconsistent: keep serving.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Below this many ids the store does not prune.
const MIN_PRUNE: usize = 64;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Revocations for MemoryRevocations {
    type Error = Infallible;
    type CheckFuture = Ready<Result<bool, Infallible>>;
    type RevokeFuture = Ready<Result<bool, Infallible>>;

    fn is_revoked(&self, jti: &str) -> Self::CheckFuture {
        ready(Ok(self.holds(jti)))
    }

    fn is_revoked_now(&self, jti: &str) -> Option<Result<bool, Infallible>> {
        Some(Ok(self.holds(jti)))
    }

    /// `true` when the id was not held; an id already held keeps its entry. The test and the
    /// insert happen under one lock.
    fn revoke(&self, jti: &str, expires_at: u64) -> Self::RevokeFuture {
        let mut revoked = self.lock();
        if revoked.until.contains_key(jti) {
            return ready(Ok(false));
        }
        revoked.until.insert(jti.to_owned(), expires_at);
        // Amortised pruning: whenever the map doubles, drop the ids of expired tokens.
        if revoked.until.len() >= revoked.prune_at {
            let now = (self.clock)();
            revoked.until.retain(|_, until| *until > now);
            revoked.prune_at = (revoked.until.len() * 2).max(MIN_PRUNE);
        }
        ready(Ok(true))
    }
}

impl fmt::Debug for MemoryRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRevocations")
            .field("len", &self.len())
            .finish()
    }
}
