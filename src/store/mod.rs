//! Revocation stores: refusing tokens before they expire, by their `jti`, their session (`sid`)
//! or their user's cutoff. The trait and the
//! store that holds nothing here; [`MemoryRevocations`] in `memory.rs`, `RedisRevocations` in
//! `redis.rs` (feature `redis`).

use std::convert::Infallible;
use std::future::{Future, Ready, ready};

use crate::error::BoxError;

mod memory;
#[cfg(feature = "redis")]
mod redis;

pub use memory::MemoryRevocations;
#[cfg(feature = "redis")]
pub use redis::RedisRevocations;

/// What a [`Revocations`] store needs to know of one verified token: its id (`jti`), its session
/// (`sid`), its user and when it was issued (`iat`), and until when the verifier would accept it
/// or its session's and user's tokens otherwise. From [`Claims::revocation`](crate::Claims::revocation)
/// (or, for a user's cutoff without a token, [`LoginManager::user_revocation`](crate::LoginManager::user_revocation))
/// only, so that a store is never told to forget a revocation before the verifier stops
/// accepting what it refuses: [`refused_from`](Self::refused_from) is the token's `exp` *plus the
/// manager's leeway* (RFC 7519 section 4.1.4), which a caller handing over `exp` alone would get
/// wrong, and [`all_refused_from`](Self::all_refused_from) counts the manager's longest pair
/// lifetime, which only the manager knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation<'a> {
    pub(crate) jti: Option<&'a str>,
    pub(crate) sid: Option<&'a str>,
    pub(crate) user_id: &'a str,
    pub(crate) issued_at: Option<u64>,
    pub(crate) refused_from: u64,
    pub(crate) all_refused_from: u64,
    pub(crate) verified_at: u64,
}

impl<'a> Revocation<'a> {
    /// The token's id (`jti`), the key of [`Revocations::revoke`]. Every token this crate issues
    /// has one; `None` for a token issued elsewhere without one, which cannot be revoked alone.
    pub fn token_id(&self) -> Option<&'a str> {
        self.jti
    }

    /// The token's session (`sid`), the key of [`Revocations::revoke_session`]: the grant that
    /// [`LoginManager::issue_token_pair`](crate::LoginManager::issue_token_pair) starts and
    /// [`LoginManager::refresh_token_pair`](crate::LoginManager::refresh_token_pair) keeps, in
    /// both tokens of every pair. `None` for a token of no session (from
    /// [`issue_token`](crate::LoginManager::issue_token), or issued elsewhere).
    pub fn session_id(&self) -> Option<&'a str> {
        self.sid
    }

    /// The user the token was issued for, the key of [`Revocations::revoke_user`].
    pub fn user_id(&self) -> &'a str {
        self.user_id
    }

    /// When the token was issued (`iat`), seconds since the Unix epoch, compared with its user's
    /// cutoff; `None` when the token does not say (then any cutoff of its user refuses it).
    pub fn issued_at(&self) -> Option<u64> {
        self.issued_at
    }

    /// From this time on (seconds since the Unix epoch) the verifier refuses the token by itself
    /// as expired, so the store may forget its id: its `exp` plus the leeway (`u64::MAX` when that
    /// overflows: a token that never expires must be remembered for ever).
    pub fn refused_from(&self) -> u64 {
        self.refused_from
    }

    /// From this time on every token of a pair issued until [`verified_at`](Self::verified_at)
    /// is refused by the verifier as expired, so the store may forget a session or a user's
    /// cutoff: `verified_at` plus the manager's longest pair lifetime
    /// ([`access_ttl`](crate::LoginManagerBuilder::access_ttl) or
    /// [`refresh_ttl`](crate::LoginManagerBuilder::refresh_ttl)) plus the leeway. A token from
    /// [`issue_token`](crate::LoginManager::issue_token) that lives longer than both outlives its
    /// user's cutoff: revoke it by its id.
    pub fn all_refused_from(&self) -> u64 {
        self.all_refused_from
    }

    /// The time on the manager's clock when the token was verified, seconds since the Unix epoch:
    /// the "now" that a store counts from, so that one clock decides (a store that needs a
    /// duration, such as Redis's `EX`, keeps the key `refused_from - verified_at` seconds), and
    /// the cutoff that [`Revocations::revoke_user`] sets.
    pub fn verified_at(&self) -> u64 {
        self.verified_at
    }

    /// Whether a user's cutoff refuses this token: tokens issued in a second *before* the cutoff
    /// (`iat < cutoff`), or that do not say when they were issued. A pair issued in the cutoff's
    /// own second stays valid, so that the handler that sets the cutoff (a password change) can
    /// answer a new pair at once; so can a token issued elsewhere in that same second.
    pub(crate) fn before(&self, cutoff: u64) -> bool {
        issued_before(self.issued_at, cutoff)
    }
}

/// See [`Revocation::before`].
pub(crate) fn issued_before(issued_at: Option<u64>, cutoff: u64) -> bool {
    issued_at.is_none_or(|iat| iat < cutoff)
}

/// A store of revocations, checked by the layer after the token is verified and before the user
/// is loaded: single tokens (by `jti`, RFC 7519 section 4.1.7), sessions (by `sid`: every token of
/// a pair and of the pairs refreshed from it) and users (every token issued before a cutoff: "log
/// out everywhere", a password change). A revoked token is answered with 401 "Token has been
/// revoked"; a store that fails is answered with 503 (gRPC `UNAVAILABLE`), never by letting the
/// request through. [`MemoryRevocations`] serves one process; several instances need a shared
/// store.
///
/// Everything is revoked with what [`Claims::revocation`](crate::Claims::revocation) gives: the
/// store keeps each entry for as long as the verifier would accept what it refuses, leeway
/// included.
///
/// [`revoke`](Revocations::revoke) also tells whether the id was already revoked, in the same
/// atomic step, so that a token can be spent exactly once: a refresh handler that rotates refresh
/// tokens (RFC 9700 section 4.14.2) issues a new pair only when `revoke` answers `true`. Checking
/// [`is_revoked`](Revocations::is_revoked) first and revoking after is not enough: two requests
/// with the same token can both pass the check.
///
/// **Refresh-token families** (RFC 9700 section 4.14.2): a spent refresh token that comes back
/// means that two parties hold it, and the server cannot tell which one is legitimate. A layer
/// set to [`TokenKind::Refresh`](crate::TokenKind::Refresh) that refuses a revoked refresh token
/// of a session therefore revokes that session ([`revoke_session`](Revocations::revoke_session)):
/// the refresh token issued from the spent one is refused too, whoever holds it. A refresh handler
/// whose `revoke` answers `false` (the same token, twice at once) does the same.
pub trait Revocations: Clone + Send + Sync + 'static {
    /// Why the store could not answer.
    type Error: Into<BoxError>;
    /// The future of [`Revocations::is_revoked`].
    type CheckFuture: Future<Output = Result<bool, Self::Error>> + Send;
    /// The future of the revocations: whether this call revoked anything.
    type RevokeFuture: Future<Output = Result<bool, Self::Error>> + Send;

    /// Whether the token is refused: its id is revoked, or its session is, or its user's cutoff
    /// is later than its `iat` ([`Revocation::issued_at`]: `iat < cutoff`; a token without `iat`
    /// is refused by any cutoff of its user). One store operation (one lock, one round trip),
    /// however many of the three the token has: the layer calls it for every token.
    fn is_revoked(&self, token: &Revocation<'_>) -> Self::CheckFuture;

    /// Revokes a token: keeps its id at least until [`Revocation::refused_from`], when the
    /// verifier refuses the token as expired anyway and the entry can go. Counting time from
    /// [`Revocation::verified_at`] (the manager's clock), never from a clock of the store's own.
    ///
    /// `Ok(true)` when this call revoked the id, `Ok(false)` when it was already revoked (its
    /// entry is left as it was), or when the token has no id. The test and the revocation are one
    /// atomic step: of any number of calls with the same id, concurrent or not, exactly one gets
    /// `true` for as long as the token is accepted. An implementation must keep this with one
    /// store operation (an insert that reports whether the key was new, Redis `SET .. NX`), never
    /// `is_revoked` followed by a write. On `Err` the id may or may not have been revoked (a reply
    /// lost after the write): treat it as a failure, never as `true`.
    fn revoke(&self, token: Revocation<'_>) -> Self::RevokeFuture;

    /// Revokes the token's session ([`Revocation::session_id`]): every token of it, issued before
    /// or after, is refused. Kept until [`Revocation::all_refused_from`]. `Ok(true)` when this
    /// call revoked it, `Ok(false)` when it was already revoked or the token has no session; as
    /// atomic as [`revoke`](Revocations::revoke).
    fn revoke_session(&self, token: Revocation<'_>) -> Self::RevokeFuture;

    /// Sets the cutoff of the token's user ([`Revocation::user_id`]) to
    /// [`Revocation::verified_at`]: every token of that user issued in an earlier second is
    /// refused ("log out everywhere"; a password change), whatever its session. Kept until
    /// [`Revocation::all_refused_from`]. A later cutoff replaces an earlier one, never the other
    /// way round, in one atomic step. `Ok(true)` when this call moved the cutoff, `Ok(false)` when
    /// it was already as late.
    fn revoke_user(&self, token: Revocation<'_>) -> Self::RevokeFuture;
}

/// No revocation, the default of [`LoginLayer`](crate::LoginLayer): `()` holds nothing, and no
/// token is ever revoked.
///
/// [`is_revoked`](Revocations::is_revoked) is always `false`, and so every revocation is
/// `Ok(true)` (nothing is ever already revoked) and is remembered nowhere. It therefore gives no
/// single-use guarantee and logs no one out: a handler that must detect reuse (refresh-token
/// rotation) or end sessions needs a real store.
impl Revocations for () {
    type Error = Infallible;
    type CheckFuture = Ready<Result<bool, Infallible>>;
    type RevokeFuture = Ready<Result<bool, Infallible>>;

    fn is_revoked(&self, _: &Revocation<'_>) -> Self::CheckFuture {
        ready(Ok(false))
    }

    /// Always `Ok(true)`, and nothing is stored.
    fn revoke(&self, _: Revocation<'_>) -> Self::RevokeFuture {
        ready(Ok(true))
    }

    /// Always `Ok(true)`, and nothing is stored.
    fn revoke_session(&self, _: Revocation<'_>) -> Self::RevokeFuture {
        ready(Ok(true))
    }

    /// Always `Ok(true)`, and nothing is stored.
    fn revoke_user(&self, _: Revocation<'_>) -> Self::RevokeFuture {
        ready(Ok(true))
    }
}
