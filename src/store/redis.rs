//! [`RedisRevocations`]: revoked token ids, sessions and users' cutoffs in Redis, shared by every
//! instance of a service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, IntoConnectionInfo, RedisError};

use super::{Revocation, Revocations, issued_before};

/// The future of every Redis round trip: boxed, because the `redis` crate's futures have no name.
type RedisFuture<T> = Pin<Box<dyn Future<Output = Result<T, RedisError>> + Send + 'static>>;

/// Revoked token ids, sessions and users' cutoffs in Redis, so that a logout on one instance of a
/// service is refused by all of them at once. Requires the `redis` feature and a Tokio runtime.
///
/// Each revocation is one key (prefix `tlm:revoked:` unless [`key_prefix`](Self::key_prefix)
/// says otherwise): `<prefix>jti:<jti>` for a token, `<prefix>sid:<sid>` for a session,
/// `<prefix>user:<user id>` (its value the cutoff, seconds since the Unix epoch) for a user.
///
/// - checking a token is one round trip, whatever it carries: `MGET` of its (up to three) keys,
///   the cutoff compared with the token's `iat` here;
/// - revoking a token is one round trip too, `SET <prefix>jti:<jti> 1 EX <seconds> NX`, where the
///   seconds are those from [`Revocation::verified_at`] to [`Revocation::refused_from`] (at least
///   1): the time the manager's verifier would still accept the token, leeway included, counted
///   on the manager's clock. So Redis drops the key when the token is refused anyway, and the set
///   never holds more than the live revoked tokens. A token that lives longer than Redis can
///   count (over 2^40 seconds, about 35,000 years: `Duration::MAX`, or no `exp`) is kept without
///   expiry, as [`MemoryRevocations`](crate::MemoryRevocations) keeps it. `NX` sets the key only
///   if it is absent, and the reply says whether it did: of the calls with one id, from any
///   number of instances, exactly one gets `true` (see [`Revocations::revoke`]) for as long as
///   the token is accepted;
/// - revoking a session is the same `SET .. NX` on its key, kept until
///   [`Revocation::all_refused_from`];
/// - a user's cutoff is one `EVAL` of a short script that sets the key only if it holds no cutoff
///   or an earlier one (never moving it back), kept until [`Revocation::all_refused_from`].
///
/// The connection is a [`ConnectionManager`]: one multiplexed connection shared by all clones,
/// opened on first use and opened again by itself after Redis went away. So a service whose
/// Redis is down still starts; while Redis is unreachable, every check fails within about two
/// seconds (connection and response timeouts of one second each; a command is sent once more
/// only when the connection was refused, which is immediate) and the
/// [`LoginLayer`](crate::LoginLayer) answers 503 "Service temporarily unavailable" (gRPC
/// `UNAVAILABLE`), never a pass. Each failed request triggers one reconnection attempt. Once
/// Redis is back, requests are served again with no restart: the first one already when Redis
/// had refused connections (stopped, restarting); when it had not answered at all (a network
/// partition), the first one may still get the 503 of an attempt made before it came back.
///
/// Unlike the rest of the crate, the futures here are boxed (one allocation per check, on the
/// revocation path only): the `redis` crate's futures cannot be named.
///
/// Run Redis with persistence (AOF or RDB) if revocations must survive a restart of Redis: one
/// without forgets them, and a logged-out token is accepted again until it expires.
///
/// ```no_run
/// use std::convert::Infallible;
/// use tower_login_manager::{LoginLayer, LoginManager, RedisRevocations, Revocations, loader_fn};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Every issued token carries the id (`jti`) a revocation names.
/// let manager = LoginManager::new(std::env::var("SECRET_KEY")?)?;
/// // Fails only for a malformed URL: nothing is connected yet.
/// let revocations =
///     RedisRevocations::new("redis://127.0.0.1:6379/")?.key_prefix("orders:revoked:");
///
/// let loader = loader_fn(|id: String| async move { Ok::<_, Infallible>(Some(id)) });
/// let layer = LoginLayer::new(manager.clone(), loader).revocations(revocations.clone());
/// # drop(layer);
///
/// // POST /logout (the handler finds the token's `Claims` in the request's extensions):
/// let token = manager.issue_token("1", std::time::Duration::from_secs(3600))?;
/// let claims = manager.decode_token(&token)?;
/// let revocation = claims.revocation();
/// assert!(revocations.revoke(revocation).await?, "revoked by this call");
/// assert!(revocations.is_revoked(&revocation).await?);
/// assert!(!revocations.revoke(revocation).await?, "already revoked");
///
/// // POST /logout-all: every token of this user issued before now, on every instance.
/// revocations.revoke_user(claims.revocation()).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisRevocations {
    connection: ConnectionManager,
    prefix: Arc<str>,
}

/// The prefix of the keys unless [`RedisRevocations::key_prefix`] changes it.
const DEFAULT_KEY_PREFIX: &str = "tlm:revoked:";

impl RedisRevocations {
    /// A store on the Redis server at `url` (`redis://[:password@]host[:port][/db]`, or
    /// `rediss://` with one of the `redis` crate's TLS features): connection timeout 1 s,
    /// response timeout 1 s, and no reconnection retries inside a request (each failed request
    /// starts one new attempt), so that an unreachable Redis costs a request at most about two
    /// seconds before its 503. Nothing is connected until the first check or revocation, so this
    /// succeeds while Redis is down; it fails only for a malformed URL.
    ///
    /// To share this connection with other uses (a login throttle, a cache), take it from
    /// [`connection`](Self::connection); for other settings, build the `ConnectionManager`
    /// yourself and use [`from_connection`](Self::from_connection).
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (the connection manager spawns a task).
    pub fn new(url: impl IntoConnectionInfo) -> Result<Self, RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(0);
        let client = Client::open(url)?;
        Ok(Self::from_connection(
            ConnectionManager::new_lazy_with_config(client, config)?,
        ))
    }

    /// A store on a connection manager you built yourself (and may share with other uses).
    pub fn from_connection(connection: ConnectionManager) -> Self {
        Self {
            connection,
            prefix: Arc::from(DEFAULT_KEY_PREFIX),
        }
    }

    /// The connection this store uses, to share it: a clone of the `ConnectionManager`, which
    /// multiplexes every clone's commands over one connection, and reconnects for all of them.
    pub fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// The prefix of every key, so that several applications can share one Redis database.
    /// Default: `tlm:revoked:`. Instances that
    /// must honour each other's revocations need the same prefix.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    /// `SET <key> 1 [EX <ttl>] NX`: one round trip that revokes a token (or a session) only if it
    /// is not revoked yet.
    fn set_nx(key: String, ttl: Option<u64>) -> redis::Cmd {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(1);
        if let Some(ttl) = ttl {
            cmd.arg("EX").arg(ttl);
        }
        cmd.arg("NX");
        cmd
    }

    /// `MGET` of the keys of the token's id, its session and its user: one round trip.
    fn check_cmd(&self, token: &Revocation<'_>) -> redis::Cmd {
        let mut cmd = redis::cmd("MGET");
        if let Some(jti) = token.token_id() {
            cmd.arg(self.key(Kind::Token, jti));
        }
        if let Some(sid) = token.session_id() {
            cmd.arg(self.key(Kind::Session, sid));
        }
        cmd.arg(self.key(Kind::User, token.user_id()));
        cmd
    }

    /// `EVAL` of [`RAISE_CUTOFF`] on the user's key.
    fn cutoff_cmd(&self, token: Revocation<'_>) -> redis::Cmd {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(RAISE_CUTOFF)
            .arg(1)
            .arg(self.key(Kind::User, token.user_id()))
            .arg(token.verified_at())
            .arg(ttl_secs(token.verified_at(), token.all_refused_from()).unwrap_or(0));
        cmd
    }

    /// The Redis key of a token id, a session or a user.
    fn key(&self, kind: Kind, id: &str) -> String {
        let tag = match kind {
            Kind::Token => "jti:",
            Kind::Session => "sid:",
            Kind::User => "user:",
        };
        let mut key = String::with_capacity(self.prefix.len() + tag.len() + id.len());
        key.push_str(&self.prefix);
        key.push_str(tag);
        key.push_str(id);
        key
    }
}

/// What a key names.
#[derive(Clone, Copy)]
enum Kind {
    Token,
    Session,
    User,
}

/// Sets a user's cutoff (`ARGV[1]`) unless the key holds a cutoff as late or later; expiry
/// `ARGV[2]` seconds (0: none). 1 when it set the key, 0 otherwise. A script runs atomically, so
/// of two instances moving one user's cutoff at once the later cutoff wins.
const RAISE_CUTOFF: &str = "\
local held = tonumber(redis.call('GET', KEYS[1]))
local cutoff = tonumber(ARGV[1])
if held and held >= cutoff then return 0 end
if ARGV[2] == '0' then redis.call('SET', KEYS[1], ARGV[1])
else redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
return 1";

/// The longest `EX` this store sends: Redis refuses one whose expiry, in milliseconds from now,
/// overflows a signed 64-bit integer (about 9.2e15 seconds); a token accepted longer than this
/// (about 35,000 years) is kept without expiry.
const MAX_EX: u64 = 1 << 40;

/// Seconds the key must live: from when the token was verified until it is refused anyway, on
/// the manager's clock; at least 1 (`EX 0` is an error in Redis). `None`: keep it for ever.
fn ttl_secs(verified_at: u64, refused_from: u64) -> Option<u64> {
    let ttl = refused_from.saturating_sub(verified_at);
    (ttl <= MAX_EX).then_some(ttl.max(1))
}

impl Revocations for RedisRevocations {
    type Error = RedisError;
    type CheckFuture = RedisFuture<bool>;
    type RevokeFuture = RedisFuture<bool>;

    /// `MGET <prefix>jti:<jti> <prefix>sid:<sid> <prefix>user:<user id>` (the keys the token
    /// has): revoked when either of the first two exists, or the token was issued before the
    /// user's cutoff.
    fn is_revoked(&self, token: &Revocation<'_>) -> Self::CheckFuture {
        let mut connection = self.connection.clone();
        let cmd = self.check_cmd(token);
        let issued_at = token.issued_at();
        Box::pin(async move {
            let values: Vec<Option<u64>> = query(&mut connection, &cmd).await?;
            let (cutoff, revoked) = match values.split_last() {
                Some((cutoff, revoked)) => (*cutoff, revoked),
                None => (None, &[][..]),
            };
            Ok(revoked.iter().any(Option::is_some)
                || cutoff.is_some_and(|at| issued_before(issued_at, at)))
        })
    }

    /// `SET <prefix>jti:<jti> 1 EX <refused_from - verified_at, at least 1> NX`: `true` when the
    /// key was set, `false` when it existed (its expiry is left as it was), or the token has no
    /// id.
    fn revoke(&self, token: Revocation<'_>) -> Self::RevokeFuture {
        let Some(jti) = token.token_id() else {
            return Box::pin(std::future::ready(Ok(false)));
        };
        let mut connection = self.connection.clone();
        let ttl = ttl_secs(token.verified_at(), token.refused_from());
        let cmd = Self::set_nx(self.key(Kind::Token, jti), ttl);
        // The reply is `OK` when the key was set and nil when `NX` refused it: `true` and `false`.
        Box::pin(async move { query(&mut connection, &cmd).await })
    }

    /// `SET <prefix>sid:<sid> 1 EX <all_refused_from - verified_at> NX`.
    fn revoke_session(&self, token: Revocation<'_>) -> Self::RevokeFuture {
        let Some(sid) = token.session_id() else {
            return Box::pin(std::future::ready(Ok(false)));
        };
        let mut connection = self.connection.clone();
        let ttl = ttl_secs(token.verified_at(), token.all_refused_from());
        let cmd = Self::set_nx(self.key(Kind::Session, sid), ttl);
        Box::pin(async move { query(&mut connection, &cmd).await })
    }

    /// One `EVAL`: the cutoff is set to [`Revocation::verified_at`] unless it is as late already.
    fn revoke_user(&self, token: Revocation<'_>) -> Self::RevokeFuture {
        let mut connection = self.connection.clone();
        let cmd = self.cutoff_cmd(token);
        Box::pin(async move { query(&mut connection, &cmd).await })
    }
}

/// Sends `cmd`, and once more if the connection was refused. A failed request starts a
/// reconnection attempt without waiting for it, and the connection manager keeps that attempt's
/// outcome for the next request: an attempt made while Redis was down would answer the first
/// request after it is back with a stale refusal. A refused connection sent nothing, so sending
/// again is safe (even `SET .. NX`), and it waits for the fresh attempt the refusal started.
async fn query<T: redis::FromRedisValue>(
    connection: &mut ConnectionManager,
    cmd: &redis::Cmd,
) -> Result<T, RedisError> {
    match cmd.query_async::<T>(connection).await {
        Err(error) if error.is_connection_refusal() => cmd.query_async::<T>(connection).await,
        answer => answer,
    }
}

impl fmt::Debug for RedisRevocations {
    /// The key prefix only: the connection's settings may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocations")
            .field("key_prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// The time from verification until the verifier refuses the token anyway, leeway included
    /// (RFC 7519 section 4.1.4), on the manager's clock alone.
    #[test]
    fn ttl_is_the_time_left_on_the_managers_clock_and_at_least_one_second() {
        let ttl = |refused_from, verified_at| ttl_secs(verified_at, refused_from);
        assert_eq!(ttl(1_000 + 3_600, 1_000), Some(3_600));
        assert_eq!(ttl(1_001, 1_000), Some(1));
        assert_eq!(ttl(1_000, 1_000), Some(1), "refused from now on");
        assert_eq!(ttl(10, 1_000), Some(1), "already refused");
        assert_eq!(ttl(MAX_EX + 5, 5), Some(MAX_EX), "the longest EX sent");
        assert_eq!(ttl(MAX_EX + 6, 5), None, "longer: no expiry");
        assert_eq!(ttl(u64::MAX, 1_000), None, "a token that never expires");
    }

    #[test]
    fn keys_are_prefixed() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let store = RedisRevocations::new("redis://127.0.0.1:1/").unwrap();
        assert_eq!(store.key(Kind::Token, "abc"), "tlm:revoked:jti:abc");
        let store = store.key_prefix("app:");
        assert_eq!(store.key(Kind::Session, "abc"), "app:sid:abc");
        assert_eq!(store.key(Kind::User, "42"), "app:user:42");
        assert_eq!(
            format!("{store:?}"),
            r#"RedisRevocations { key_prefix: "app:", .. }"#
        );
    }

    fn args(cmd: &redis::Cmd) -> Vec<String> {
        cmd.args_iter()
            .map(|arg| match arg {
                redis::Arg::Simple(bytes) => String::from_utf8(bytes.to_vec()).unwrap(),
                other => panic!("not a plain argument: {other:?}"),
            })
            .collect()
    }

    fn token<'a>(jti: Option<&'a str>, sid: Option<&'a str>, refused_from: u64) -> Revocation<'a> {
        Revocation {
            jti,
            sid,
            user_id: "42",
            issued_at: Some(1_000),
            refused_from,
            all_refused_from: 1_000 + 90,
            verified_at: 1_000,
        }
    }

    /// RFC 9700 section 4.14.2 (a refresh token is spent once): the test and the write are one
    /// atomic command, `SET .. NX`, never `EXISTS` then `SET`; a session's key too. A check is one
    /// `MGET` of the keys the token has.
    #[test]
    fn revoking_is_one_set_nx_with_the_time_left_and_checking_one_mget() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let store = RedisRevocations::new("redis://127.0.0.1:1/")
            .unwrap()
            .key_prefix("app:");
        let set = |kind, id: &str, ttl| args(&RedisRevocations::set_nx(store.key(kind, id), ttl));
        assert_eq!(
            set(Kind::Token, "abc", Some(60)),
            ["SET", "app:jti:abc", "1", "EX", "60", "NX"]
        );
        assert_eq!(
            set(Kind::Session, "s", None),
            ["SET", "app:sid:s", "1", "NX"]
        );
        assert_eq!(
            args(&store.check_cmd(&token(Some("abc"), Some("s"), 1_060))),
            ["MGET", "app:jti:abc", "app:sid:s", "app:user:42"]
        );
        assert_eq!(
            args(&store.check_cmd(&token(None, None, 1_060))),
            ["MGET", "app:user:42"]
        );
        let cutoff = args(&store.cutoff_cmd(token(None, None, 1_060)));
        assert_eq!(cutoff[0], "EVAL");
        assert_eq!(cutoff[2..], ["1", "app:user:42", "1000", "90"]);
    }

    #[test]
    fn a_malformed_url_is_refused() {
        assert!(RedisRevocations::new("http://127.0.0.1/").is_err());
    }

    /// No Redis listens: construction succeeds, and every call fails quickly instead of hanging.
    #[tokio::test]
    async fn a_down_redis_fails_fast_and_construction_does_not() {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let store = RedisRevocations::new(format!("redis://127.0.0.1:{port}/")).unwrap();
        for _ in 0..3 {
            let start = Instant::now();
            assert!(store.is_revoked(&token(Some("j"), None, 60)).await.is_err());
            assert!(store.revoke(token(Some("j"), None, 60)).await.is_err());
            assert!(
                start.elapsed() < Duration::from_secs(4),
                "{:?}",
                start.elapsed()
            );
        }
    }
}
