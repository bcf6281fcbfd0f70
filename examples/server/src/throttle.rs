//! Login throttling: failed password attempts are counted per username and per client address,
//! in fixed windows. Past the limit, `/login` and `/session` answer 429 without checking the
//! password (so the answer's time tells nothing), until the window that the first failure opened
//! ends. A success resets the username's count. With `REDIS_URL` the counts are shared by every
//! instance (and kept in this process while Redis cannot be reached); without, they live in this
//! process, in a bounded cache (the `moka` crate), so a flood of distinct usernames cannot grow
//! memory without end.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use moka::sync::Cache;
use redis::aio::ConnectionManager;

/// At most this many usernames and addresses are counted in memory; past it, the cache evicts.
const MAX_COUNTED: u64 = 100_000;

/// How many failures each key may have in one window.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub per_username: u32,
    pub per_address: u32,
    pub window: Duration,
}

/// The counts: in this process, and in Redis when `REDIS_URL` is set. While Redis cannot be
/// reached, the counts of this process stand in for it (each instance then counts alone), so that
/// logins neither stop working nor go unthrottled during an outage.
#[derive(Clone)]
pub struct Throttle {
    limits: Limits,
    memory: Cache<String, Window>,
    redis: Option<ConnectionManager>,
}

/// The failures of one key since its window opened.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    failures: u32,
    ends: Instant,
}

/// What a failed check means for the client: try again in this long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl Throttle {
    /// Counts in Redis when there is a connection to it (`REDIS_URL`), and in memory.
    pub fn new(limits: Limits, redis: Option<ConnectionManager>) -> Self {
        Self {
            limits,
            memory: Cache::builder()
                .max_capacity(MAX_COUNTED)
                // An entry outlives its window by nothing: the last write is at most the
                // window's end, and a stale window is ignored anyway.
                .time_to_live(limits.window)
                .build(),
            redis,
        }
    }

    pub fn describe(&self) -> &'static str {
        match self.redis {
            None => "in memory (this instance only; set REDIS_URL to share them)",
            Some(_) => "Redis (from REDIS_URL; in memory while it cannot be reached)",
        }
    }

    /// `Some` when `username` or `address` has used up its failures for now.
    pub async fn check(&self, username: &str, address: IpAddr) -> Option<RetryAfter> {
        let keys = [
            (user_key(username), self.limits.per_username),
            (address_key(address), self.limits.per_address),
        ];
        if let Some(connection) = &self.redis {
            match redis_check(connection.clone(), &keys).await {
                Ok(wait) => return wait,
                Err(error) => eprintln!("warning: {error}; counting in this instance's memory"),
            }
        }
        let now = Instant::now();
        keys.iter()
            .filter_map(|(key, limit)| {
                self.memory
                    .get(key)
                    .filter(|w| w.failures >= *limit && w.ends > now)
                    .map(|w| w.ends - now)
            })
            .max()
            .map(RetryAfter)
    }

    /// Counts one failure for `username` and for `address`.
    pub async fn failed(&self, username: &str, address: IpAddr) {
        let keys = [user_key(username), address_key(address)];
        if let Some(connection) = &self.redis {
            match redis_failed(connection.clone(), &keys, self.limits.window).await {
                Ok(()) => return,
                Err(error) => eprintln!("warning: {error}; counting in this instance's memory"),
            }
        }
        let now = Instant::now();
        for key in keys {
            self.memory.entry(key).and_upsert_with(|current| {
                match current.map(|entry| entry.into_value()) {
                    Some(w) if w.ends > now => Window {
                        failures: w.failures.saturating_add(1),
                        ends: w.ends,
                    },
                    _ => Window {
                        failures: 1,
                        ends: now + self.limits.window,
                    },
                }
            });
        }
    }

    /// A successful login: the username starts afresh (the address does not), in Redis and in
    /// memory.
    pub async fn succeeded(&self, username: &str) {
        let key = user_key(username);
        self.memory.invalidate(&key);
        if let Some(connection) = &self.redis {
            let mut connection = connection.clone();
            if let Err(error) = redis::cmd("DEL")
                .arg(&key)
                .query_async::<()>(&mut connection)
                .await
            {
                eprintln!("warning: resetting login failures in Redis failed: {error}");
            }
        }
    }
}

/// The longest wait among the two `keys` (each with its limit), read from Redis in one round
/// trip.
async fn redis_check(
    mut connection: ConnectionManager,
    keys: &[(String, u32); 2],
) -> Result<Option<RetryAfter>, String> {
    let [(user, user_limit), (address, address_limit)] = keys;
    let (user_failures, user_ttl, address_failures, address_ttl): (
        Option<u32>,
        i64,
        Option<u32>,
        i64,
    ) = redis::pipe()
        .get(user)
        .pttl(user)
        .get(address)
        .pttl(address)
        .query_async(&mut connection)
        .await
        .map_err(|error| format!("reading login failures from Redis failed: {error}"))?;
    let blocked = |failures: Option<u32>, ttl_ms: i64, limit: u32| {
        (failures.unwrap_or(0) >= limit && ttl_ms > 0)
            .then(|| Duration::from_millis(ttl_ms.unsigned_abs()))
    };
    Ok(blocked(user_failures, user_ttl, *user_limit)
        .into_iter()
        .chain(blocked(address_failures, address_ttl, *address_limit))
        .max()
        .map(RetryAfter))
}

/// One failure for each of `keys`: the first opens the key's window (`SET .. EX .. NX`), later
/// ones count in it (`INCR` keeps the expiry); one transaction, so no key is left without expiry.
async fn redis_failed(
    mut connection: ConnectionManager,
    keys: &[String],
    window: Duration,
) -> Result<(), String> {
    let mut pipe = redis::pipe();
    pipe.atomic();
    for key in keys {
        pipe.cmd("SET")
            .arg(key)
            .arg(0)
            .arg("EX")
            .arg(window.as_secs().max(1))
            .arg("NX")
            .ignore()
            .incr(key, 1)
            .ignore();
    }
    pipe.query_async::<()>(&mut connection)
        .await
        .map_err(|error| format!("counting a login failure in Redis failed: {error}"))
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// Keys never hold the password, and a username cannot pass for an address.
fn user_key(username: &str) -> String {
    format!("tlm:login-failures:user:{username}")
}

fn address_key(address: IpAddr) -> String {
    format!("tlm:login-failures:address:{address}")
}

/// The seconds of a `Retry-After` header (RFC 9110 section 10.2.3): whole, rounded up, at least 1.
pub fn retry_after_secs(wait: RetryAfter) -> u64 {
    let RetryAfter(wait) = wait;
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        per_username: 3,
        per_address: 5,
        window: Duration::from_secs(60),
    };

    fn memory() -> Throttle {
        Throttle::new(LIMITS, None)
    }

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[tokio::test]
    async fn a_username_is_blocked_after_its_failures_and_a_success_resets_it() {
        let throttle = memory();
        for _ in 0..2 {
            throttle.failed("ada", HOME).await;
            assert_eq!(throttle.check("ada", HOME).await, None);
        }
        throttle.succeeded("ada").await;
        for _ in 0..3 {
            assert_eq!(throttle.check("ada", HOME).await, None);
            throttle.failed("ada", "10.0.0.1".parse().unwrap()).await;
        }
        let Some(RetryAfter(wait)) = throttle.check("ada", HOME).await else {
            panic!("blocked after three failures");
        };
        assert!(
            wait > Duration::from_secs(55) && wait <= LIMITS.window,
            "{wait:?}"
        );
        // Others are not.
        assert_eq!(throttle.check("bob", HOME).await, None);
    }

    #[tokio::test]
    async fn an_address_is_blocked_after_its_failures_whatever_the_usernames() {
        let throttle = memory();
        for i in 0..5 {
            throttle.failed(&format!("user{i}"), HOME).await;
        }
        assert!(throttle.check("someone-new", HOME).await.is_some());
        assert_eq!(
            throttle
                .check("someone-new", "10.0.0.2".parse().unwrap())
                .await,
            None
        );
    }

    #[tokio::test]
    async fn the_window_ends() {
        let throttle = Throttle::new(
            Limits {
                window: Duration::from_millis(200),
                ..LIMITS
            },
            None,
        );
        for _ in 0..3 {
            throttle.failed("ada", HOME).await;
        }
        assert!(throttle.check("ada", HOME).await.is_some());
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(throttle.check("ada", HOME).await, None);
    }

    #[tokio::test]
    async fn a_flood_of_usernames_stays_bounded() {
        let throttle = memory();
        let counts = &throttle.memory;
        for i in 0..(MAX_COUNTED + 20_000) {
            throttle
                .failed(&format!("user{i}"), "10.9.9.9".parse().unwrap())
                .await;
        }
        counts.run_pending_tasks();
        assert!(
            counts.entry_count() <= MAX_COUNTED,
            "{} entries",
            counts.entry_count()
        );
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        assert_eq!(retry_after_secs(RetryAfter(Duration::from_millis(1))), 1);
        assert_eq!(
            retry_after_secs(RetryAfter(Duration::from_millis(1_001))),
            2
        );
        assert_eq!(retry_after_secs(RetryAfter(Duration::from_secs(900))), 900);
    }
}
