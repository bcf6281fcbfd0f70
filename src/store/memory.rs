//! [`MemoryRevocations`]: revoked token ids, sessions and users' cutoffs in this process's memory.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::sync::{Arc, Mutex};

use super::{Revocation, Revocations};

/// Revoked token ids, sessions and users' cutoffs in this process's memory, each kept until the
/// verifier would refuse what it refuses anyway (`exp` plus the leeway; for a session or a
/// cutoff, the longest pair lifetime plus the leeway): entries past that are pruned whenever the
/// store has doubled since the last pruning (at 64 entries first), so it stays within twice what
/// the last pruning left, or 64. Cheap to clone (shared). Each check and each revocation takes
/// one lock: [`revoke`](Revocations::revoke) tests and inserts under it, so exactly one of the
/// calls with an id gets `true`. Entries go by the manager's clock: the store prunes, as it
/// grows, the entries that are past at the [`verified_at`](Revocation::verified_at) time of the
/// token being revoked.
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
/// let revocation = claims.revocation();
/// assert!(revocations.revoke(revocation).await?, "revoked by this call");
/// assert!(revocations.is_revoked(&revocation).await?);
/// // A second revocation of the same token: it was already revoked.
/// assert!(!revocations.revoke(revocation).await?);
///
/// // "Log out everywhere": every token of user 1 issued before now.
/// let other = manager.decode_token(&manager.issue_token_pair("1")?.access_token)?;
/// assert!(!revocations.is_revoked(&other.revocation()).await?);
/// # let manager = LoginManager::builder([7u8; 32]).clock(|| 4_000_000_000).build()?;
/// # let claims = manager.decode_token(&manager.issue_token("1", Duration::from_secs(60))?)?;
/// assert!(revocations.revoke_user(claims.revocation()).await?); // a second later, say
/// assert!(revocations.is_revoked(&other.revocation()).await?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct MemoryRevocations {
    inner: Arc<Mutex<Revoked>>,
}

#[derive(Default)]
struct Revoked {
    /// Each revoked token id and when its token is refused anyway ([`Revocation::refused_from`]).
    tokens: HashMap<String, u64>,
    /// Each revoked session and when its tokens are refused anyway
    /// ([`Revocation::all_refused_from`]).
    sessions: HashMap<String, u64>,
    /// Each user's cutoff, and when the tokens it refuses are refused anyway.
    users: HashMap<String, Cutoff>,
    prune_at: usize,
}

#[derive(Clone, Copy)]
struct Cutoff {
    at: u64,
    until: u64,
}

impl Revoked {
    fn len(&self) -> usize {
        self.tokens.len() + self.sessions.len() + self.users.len()
    }

    /// Amortised pruning: whenever the store doubles, drop the entries whose tokens the verifier
    /// refuses by itself at `now`, on the manager's clock.
    fn grown(&mut self, now: u64) {
        if self.len() >= self.prune_at {
            self.tokens.retain(|_, until| *until > now);
            self.sessions.retain(|_, until| *until > now);
            self.users.retain(|_, cutoff| cutoff.until > now);
            self.prune_at = (self.len() * 2).max(MIN_PRUNE);
        }
    }

    /// Inserts `key` into `map` unless it is there: whether it was new.
    fn insert_new(map: &mut HashMap<String, u64>, key: Option<&str>, until: u64) -> bool {
        let Some(key) = key else {
            return false;
        };
        if map.contains_key(key) {
            return false;
        }
        map.insert(key.to_owned(), until);
        true
    }
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
                prune_at: MIN_PRUNE,
                ..Revoked::default()
            })),
        }
    }

    /// How many entries (revoked ids, revoked sessions, users' cutoffs) are held; expired ones
    /// are dropped as the store grows.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// `true` when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Revoked> {
        // A panic while holding the lock cannot leave the maps inconsistent: keep serving.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Below this many entries the store does not prune.
const MIN_PRUNE: usize = 64;

impl Revocations for MemoryRevocations {
    type Error = Infallible;
    type CheckFuture = Ready<Result<bool, Infallible>>;
    type RevokeFuture = Ready<Result<bool, Infallible>>;

    /// The id, the session and the user's cutoff, under one lock.
    fn is_revoked(&self, token: &Revocation<'_>) -> Self::CheckFuture {
        let revoked = self.lock();
        let held = |map: &HashMap<String, u64>, key: Option<&str>| {
            key.is_some_and(|key| map.contains_key(key))
        };
        let refused = held(&revoked.tokens, token.token_id())
            || held(&revoked.sessions, token.session_id())
            || (!revoked.users.is_empty()
                && revoked
                    .users
                    .get(token.user_id())
                    .is_some_and(|cutoff| token.before(cutoff.at)));
        ready(Ok(refused))
    }

    /// `true` when the id was not held; an id already held keeps its entry. The test and the
    /// insert happen under one lock.
    fn revoke(&self, token: Revocation<'_>) -> Self::RevokeFuture {
        let mut revoked = self.lock();
        let new = Revoked::insert_new(&mut revoked.tokens, token.token_id(), token.refused_from());
        revoked.grown(token.verified_at());
        ready(Ok(new))
    }

    /// `true` when the session was not held, under one lock.
    fn revoke_session(&self, token: Revocation<'_>) -> Self::RevokeFuture {
        let mut revoked = self.lock();
        let new = Revoked::insert_new(
            &mut revoked.sessions,
            token.session_id(),
            token.all_refused_from(),
        );
        revoked.grown(token.verified_at());
        ready(Ok(new))
    }

    /// `true` when the user had no cutoff, or an earlier one; under one lock.
    fn revoke_user(&self, token: Revocation<'_>) -> Self::RevokeFuture {
        let mut revoked = self.lock();
        let cutoff = Cutoff {
            at: token.verified_at(),
            until: token.all_refused_from(),
        };
        let moved = match revoked.users.get_mut(token.user_id()) {
            Some(held) if held.at >= cutoff.at => false,
            Some(held) => {
                *held = cutoff;
                true
            }
            None => {
                revoked.users.insert(token.user_id().to_owned(), cutoff);
                true
            }
        };
        revoked.grown(token.verified_at());
        ready(Ok(moved))
    }
}

impl fmt::Debug for MemoryRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRevocations")
            .field("len", &self.len())
            .finish()
    }
}
