//! Where revoked tokens are remembered: Redis when `REDIS_URL` is set (shared by every instance),
//! else this process's memory.

use std::future::Future;
use std::pin::Pin;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tower_login_manager::{BoxError, MemoryRevocations, Revocation, Revocations};

/// The one connection to `REDIS_URL`, shared by the revocation store and the login throttle, so
/// that both recover together when Redis comes back. Connected on first use, so a Redis that is
/// down does not stop the start: requests get 503 until it is back. The settings of
/// `RedisRevocations::new`: 1 s to connect, 1 s to answer, no retry inside a request (each failed
/// request starts one new attempt).
pub fn redis_connection(url: &str) -> Result<ConnectionManager, String> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(std::time::Duration::from_secs(1)))
        .set_response_timeout(Some(std::time::Duration::from_secs(1)))
        .set_number_of_retries(0);
    redis::Client::open(url)
        .and_then(|client| ConnectionManager::new_lazy_with_config(client, config))
        .map_err(|error| format!("REDIS_URL cannot be used: {error}"))
}

/// The store chosen at start. One type for both, so that the routes are built once; its futures
/// are boxed (one allocation per check), which the example can afford.
#[derive(Clone, Debug)]
pub enum Store {
    /// One process only: revocations die with it and are not seen by other instances.
    Memory(MemoryRevocations),
    /// Shared by all instances on the same Redis.
    Redis(tower_login_manager::RedisRevocations),
}

impl Store {
    /// Redis when there is a connection to it (`REDIS_URL`), else memory.
    pub fn new(redis: Option<ConnectionManager>) -> Self {
        match redis {
            None => Self::Memory(MemoryRevocations::new()),
            Some(connection) => Self::Redis(
                tower_login_manager::RedisRevocations::from_connection(connection),
            ),
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

impl Revocations for Store {
    type Error = BoxError;
    type CheckFuture = BoxFuture<bool>;
    type RevokeFuture = BoxFuture<bool>;

    fn is_revoked(&self, jti: &str) -> Self::CheckFuture {
        match self {
            Self::Memory(store) => {
                let check = store.is_revoked(jti);
                Box::pin(async move { check.await.map_err(BoxError::from) })
            }
            Self::Redis(store) => {
                let check = store.is_revoked(jti);
                Box::pin(async move { check.await.map_err(BoxError::from) })
            }
        }
    }

    /// Both stores revoke atomically: of the calls with one id, exactly one gets `true`.
    fn revoke(&self, token: Revocation<'_>) -> Self::RevokeFuture {
        match self {
            Self::Memory(store) => {
                let revoke = store.revoke(token);
                Box::pin(async move { revoke.await.map_err(BoxError::from) })
            }
            Self::Redis(store) => {
                let revoke = store.revoke(token);
                Box::pin(async move { revoke.await.map_err(BoxError::from) })
            }
        }
    }
}
