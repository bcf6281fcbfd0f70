//! Revocation stores: refusing tokens before they expire, by their `jti`. The trait and the
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

/// What a [`Revocations`] store must remember to refuse one token: its id (`jti`), and until when
/// the verifier would accept it otherwise. From [`Claims::revocation`](crate::Claims::revocation)
/// only, so that a store is never told to forget a token before the verifier stops accepting it:
/// [`refused_from`](Self::refused_from) is the token's `exp` *plus the manager's leeway* (RFC 7519
/// section 4.1.4), which a caller handing over `exp` alone would get wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation<'a> {
    jti: &'a str,
    refused_from: u64,
    verified_at: u64,
}

impl<'a> Revocation<'a> {
    pub(crate) fn new(jti: &'a str, refused_from: u64, verified_at: u64) -> Self {
        Self {
            jti,
            refused_from,
            verified_at,
        }
    }

    /// The token's id, the key to remember.
    pub fn token_id(&self) -> &'a str {
        self.jti
    }

    /// From this time on (seconds since the Unix epoch) the verifier refuses the token by itself
    /// as expired, so the store may forget it: its `exp` plus the leeway (`u64::MAX` when that
    /// overflows: a token that never expires must be remembered for ever).
    pub fn refused_from(&self) -> u64 {
        self.refused_from
    }

    /// The time on the manager's clock when the token was verified, seconds since the Unix epoch:
    /// the "now" that a store counts from, so that one clock decides (a store that needs a
    /// duration, such as Redis's `EX`, keeps the key `refused_from - verified_at` seconds).
    pub fn verified_at(&self) -> u64 {
        self.verified_at
    }
}

/// A store of revoked token ids (`jti`, RFC 7519 section 4.1.7), checked by the layer after the
/// token is verified and before the user is loaded. A revoked token is answered with 401 "Token
/// has been revoked"; a store that fails is answered with 503 (gRPC `UNAVAILABLE`), never by
/// letting the request through.
///
/// Tokens without a `jti` cannot be revoked and are not checked: every token this crate issues
/// carries one, but a token minted elsewhere (the Flask original, PyJWT) may not.
/// [`MemoryRevocations`] serves one process; several instances need a shared store.
///
/// A token is revoked with what [`Claims::revocation`](crate::Claims::revocation) gives: the
/// store keeps the id for as long as the verifier would accept the token, leeway included.
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

    /// Revokes a token: keeps its id at least until [`Revocation::refused_from`], when the
    /// verifier refuses the token as expired anyway and the entry can go. Counting time from
    /// [`Revocation::verified_at`] (the manager's clock), never from a clock of the store's own.
    ///
    /// `Ok(true)` when this call revoked the id, `Ok(false)` when it was already revoked (its
    /// entry is left as it was). The test and the revocation are one atomic step: of any number
    /// of calls with the same id, concurrent or not, exactly one gets `true` for as long as the
    /// token is accepted. An implementation must keep this with one store operation (an insert
    /// that reports whether the key was new, Redis `SET .. NX`), never `is_revoked` followed by a
    /// write. On `Err` the id may or may not have been revoked (a reply lost after the write):
    /// treat it as a failure, never as `true`.
    fn revoke(&self, token: Revocation<'_>) -> Self::RevokeFuture;
}

/// No revocation, the default of [`LoginLayer`](crate::LoginLayer): `()` holds nothing, and no
/// token is ever revoked.
///
/// [`is_revoked`](Revocations::is_revoked) is always `false`, and so
/// [`revoke`](Revocations::revoke) is always `Ok(true)` (no id is ever already revoked) and is
/// remembered nowhere. It therefore gives no single-use guarantee: a handler that must detect
/// reuse (refresh-token rotation) needs a real store.
impl Revocations for () {
    type Error = Infallible;
    type CheckFuture = Ready<Result<bool, Infallible>>;
    type RevokeFuture = Ready<Result<bool, Infallible>>;

    fn is_revoked(&self, _: &str) -> Self::CheckFuture {
        ready(Ok(false))
    }

    /// Always `Ok(true)`, and nothing is stored.
    fn revoke(&self, _: Revocation<'_>) -> Self::RevokeFuture {
        ready(Ok(true))
    }
}
