//! [`MemoryRevocations`]: revoked token ids in this process's memory.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::sync::{Arc, Mutex};

use super::{Revocation, Revocations};

/// Revoked token ids in this process's memory, each kept until the verifier would refuse its
/// token anyway (`exp` plus the leeway): the ids of refused tokens are pruned whenever the set
/// has doubled since the last pruning (at 64 ids first), so it stays within twice what the last
/// pruning left, or 64. Cheap to clone (shared). [`revoke`](Revocations::revoke) tests and
/// inserts under one lock, so exactly one of the calls with an id gets `true`. Entries go by the
/// manager's clock: the store prunes, as it grows, the ids whose tokens are refused at the
/// [`verified_at`](Revocation::verified_at) time of the token being revoked.
///
/// ```
/// use std::time::Duration;
/// use tower_login_manager::{LoginManager, MemoryRevocations, Revocations};
///
/// # tokio_test::block_on(async {
/// let manager = LoginManager::new([7u8; 32])?;
/// let revocations = MemoryRevocations::new();
/// let claims = manager.decode_token(&manager.issue_token("1", Duration::from_secs(60))?)?;
///
/// // POST /logout: revoke the presented token for as long as it would be accepted.
/// let revocation = claims.revocation().expect("issued tokens carry a jti");
/// assert!(revocations.revoke(revocation).await?, "revoked by this call");
/// assert!(revocations.is_revoked(revocation.token_id()).await?);
/// // A second revocation of the same token: it was already revoked.
/// assert!(!revocations.revoke(revocation).await?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct MemoryRevocations {
    inner: Arc<Mutex<Revoked>>,
}

struct Revoked {
    /// Each revoked id and when its token is refused anyway ([`Revocation::refused_from`]).
    until: HashMap<String, u64>,
    prune_at: usize,
}

impl Default for MemoryRevocations {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRevocations {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Revoked {
                until: HashMap::new(),
                prune_at: MIN_PRUNE,
            })),
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

impl Revocations for MemoryRevocations {
    type Error = Infallible;
    type CheckFuture = Ready<Result<bool, Infallible>>;
    type RevokeFuture = Ready<Result<bool, Infallible>>;

    fn is_revoked(&self, jti: &str) -> Self::CheckFuture {
        ready(Ok(self.holds(jti)))
    }

    /// `true` when the id was not held; an id already held keeps its entry. The test and the
    /// insert happen under one lock.
    fn revoke(&self, token: Revocation<'_>) -> Self::RevokeFuture {
        let mut revoked = self.lock();
        if revoked.until.contains_key(token.token_id()) {
            return ready(Ok(false));
        }
        revoked
            .until
            .insert(token.token_id().to_owned(), token.refused_from());
        // Amortised pruning: whenever the map doubles, drop the ids of tokens the verifier
        // refuses by itself now, on the manager's clock.
        if revoked.until.len() >= revoked.prune_at {
            let now = token.verified_at();
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
