//! Where revoked tokens are remembered: Redis when `REDIS_URL` is set (shared by every instance),
//! else this process's memory.

use std::future::Future;
use std::pin::Pin;

use redis::aio::ConnectionManager;
use tower_login_manager::{BoxError, MemoryRevocations, RedisRevocations, Revocation, Revocations};

/// The store chosen at start. One type for both, so that the routes are built once; its futures
/// are boxed (one allocation per check), which the example can afford.
#[derive(Clone, Debug)]
pub enum Store {
    /// One process only: revocations die with it and are not seen by other instances.
    Memory(MemoryRevocations),
    /// Shared by all instances on the same Redis.
    Redis(RedisRevocations),
}

impl Store {
    /// Redis at `REDIS_URL` when it is set, else memory. `RedisRevocations::new` connects on
    /// first use, so a Redis that is down does not stop the start: requests get 503 until it is
    /// back (1 s to connect, 1 s to answer, no retry inside a request).
    pub fn new(redis_url: Option<&str>) -> Result<Self, String> {
        match redis_url {
            None => Ok(Self::Memory(MemoryRevocations::new())),
            Some(url) => RedisRevocations::new(url)
                .map(Self::Redis)
                .map_err(|error| format!("REDIS_URL cannot be used: {error}")),
        }
    }

    /// The Redis connection, to share with the login throttle; `None` in memory.
    pub fn redis_connection(&self) -> Option<ConnectionManager> {
        match self {
            Self::Memory(_) => None,
            Self::Redis(store) => Some(store.connection()),
        }
    }

    /// What to print at start (never the URL: it may hold a password).
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Memory(_) => "in memory (this instance only; set REDIS_URL to share them)",
            Self::Redis(_) => "Redis (from REDIS_URL)",
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

/// Forwards one call to the chosen store, boxing its future.
macro_rules! forward {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Self::Memory($store) => {
                let fut = $call;
                Box::pin(async move { fut.await.map_err(BoxError::from) })
            }
            Self::Redis($store) => {
                let fut = $call;
                Box::pin(async move { fut.await.map_err(BoxError::from) })
            }
        }
    };
}

impl Revocations for Store {
    type Error = BoxError;
    type CheckFuture = BoxFuture<bool>;
    type RevokeFuture = BoxFuture<bool>;

    /// The token's id, its session and its user's cutoff: one lock, or one Redis `MGET`.
    fn is_revoked(&self, token: &Revocation<'_>) -> Self::CheckFuture {
        forward!(self, store => store.is_revoked(token))
    }

    /// Both stores revoke atomically: of the calls with one id, exactly one gets `true`.
    fn revoke(&self, token: Revocation<'_>) -> Self::RevokeFuture {
        forward!(self, store => store.revoke(token))
    }

    fn revoke_session(&self, token: Revocation<'_>) -> Self::RevokeFuture {
        forward!(self, store => store.revoke_session(token))
    }

    fn revoke_user(&self, token: Revocation<'_>) -> Self::RevokeFuture {
        forward!(self, store => store.revoke_user(token))
    }
}
