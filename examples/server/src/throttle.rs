//! Login throttling: password attempts are counted per username and per client address, in fixed
//! windows. An attempt is counted *before* its password is checked, in one atomic step that also
//! answers the new count, so a burst of concurrent guesses cannot all pass a check made before any
//! of them is counted. Past the limit, `/login` and `/session` answer 429 without checking the
//! password (so the answer's time tells nothing), until the window that the first attempt opened
//! ends. A success takes its attempt back: the username starts afresh, and the address's count
//! goes down by one.
//!
//! With `REDIS_URL` the counts are shared by every instance (and kept in this process while Redis
//! cannot be reached); without, they live in this process, in a bounded cache (the `moka` crate)
//! that keeps every new count, the least recently used making room. Keys are short (usernames are
//! at most 64 characters, longer ones never reach the throttle, and are counted by their TR39
//! skeleton, a few characters per character, so that look-alikes count as one name; IPv6 addresses count per /64, what
//! one host is usually given), so memory stays bounded. The address is counted first, and an
//! address past its limit is refused before its username is counted: a client already refused
//! cannot push other usernames' counts out of the cache.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use redis::aio::ConnectionManager;

/// At most this many usernames and addresses are counted in memory; past it, the cache evicts.
const MAX_COUNTED: u64 = 100_000;

/// How many attempts each key may have in one window.
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

/// The attempts of one key since its window opened.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    attempts: u32,
    ends: Instant,
}

/// What a refused attempt means for the client: try again in this long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

/// `INCR` the key and give it the window as its expiry if it has none (a new key, or one that
/// lost its expiry somehow): one atomic step that answers the new count and the time left.
const COUNT_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
";

/// Takes one attempt back from a key that still exists.
const UNCOUNT_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) and tonumber(redis.call('GET', KEYS[1])) > 0 then
  redis.call('DECR', KEYS[1])
end
return 0
";

impl Throttle {
    /// Counts in Redis when there is a connection to it (`REDIS_URL`), and in memory.
    pub fn new(limits: Limits, redis: Option<ConnectionManager>) -> Self {
        Self {
            limits,
            memory: Cache::builder()
                .max_capacity(MAX_COUNTED)
                // A full cache keeps every new count (the least recently used makes room): the
                // default policy may refuse a new key, and a refused key is an attempt not
                // counted.
                .eviction_policy(EvictionPolicy::lru())
                // Every update restarts an entry's time to live, so an entry may outlive its
                // window by up to one window; its `ends` decides, and a stale window is ignored.
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

    /// Counts an attempt for `username` from `address`, before its password is checked: `Err`
    /// when either has gone past its limit in the current window. `None`: a username no account
    /// can have, counted for the address only. The [`Attempt`] must then be told how it ended.
    pub async fn attempt(
        &self,
        username: Option<&str>,
        address: IpAddr,
    ) -> Result<Attempt, RetryAfter> {
        // The address first: a client already refused adds no count for a username, so that it
        // cannot push other usernames' counts out of the cache.
        let (attempts, left) = self.count(&address_key(address)).await;
        if attempts > self.limits.per_address {
            return Err(RetryAfter(left));
        }
        if let Some(username) = username {
            let (attempts, left) = self.count(&user_key(username)).await;
            if attempts > self.limits.per_username {
                return Err(RetryAfter(left));
            }
        }
        Ok(Attempt {
            throttle: self.clone(),
            username: username.map(str::to_owned),
            address,
        })
    }

    /// Drops the count of `key`.
    async fn forget(&self, key: &str) {
        self.memory.invalidate(key);
        if let Some(connection) = &self.redis {
            let mut connection = connection.clone();
            let result = redis::cmd("DEL")
                .arg(key)
                .query_async::<()>(&mut connection)
                .await;
            if let Err(error) = result {
                eprintln!("warning: taking back login attempts in Redis failed: {error}");
            }
        }
    }

    /// One attempt fewer for `key`, if it has any in its window.
    async fn take_back(&self, key: &str) {
        self.memory
            .entry(key.to_owned())
            .and_compute_with(|entry| match entry {
                Some(entry) => {
                    let w = entry.into_value();
                    moka::ops::compute::Op::Put(Window {
                        attempts: w.attempts.saturating_sub(1),
                        ends: w.ends,
                    })
                }
                None => moka::ops::compute::Op::Nop,
            });
        if let Some(connection) = &self.redis {
            let mut connection = connection.clone();
            let result = redis::Script::new(UNCOUNT_SCRIPT)
                .key(key)
                .invoke_async::<()>(&mut connection)
                .await;
            if let Err(error) = result {
                eprintln!("warning: taking back a login attempt in Redis failed: {error}");
            }
        }
    }

    /// One more attempt for `key`: the count in its window, and the time the window has left.
    async fn count(&self, key: &str) -> (u32, Duration) {
        if let Some(connection) = &self.redis {
            let mut connection = connection.clone();
            let window_ms = u64::try_from(self.limits.window.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            let counted: Result<(u32, i64), _> = redis::Script::new(COUNT_SCRIPT)
                .key(key)
                .arg(window_ms)
                .invoke_async(&mut connection)
                .await;
            match counted {
                Ok((attempts, left_ms)) => {
                    return (
                        attempts,
                        Duration::from_millis(left_ms.max(1).unsigned_abs()),
                    );
                }
                Err(error) => eprintln!(
                    "warning: counting a login attempt in Redis failed: {error}; counting in \
                     this instance's memory"
                ),
            }
        }
        let now = Instant::now();
        let window = self
            .memory
            .entry(key.to_owned())
            .and_upsert_with(|current| match current.map(|entry| entry.into_value()) {
                Some(w) if w.ends > now => Window {
                    attempts: w.attempts.saturating_add(1),
                    ends: w.ends,
                },
                _ => Window {
                    attempts: 1,
                    ends: now + self.limits.window,
                },
            })
            .into_value();
        (window.attempts, window.ends.saturating_duration_since(now))
    }
}

/// A login attempt, counted: say how it ended. One dropped unsaid stays counted, as a wrong
/// password: a client that hangs up before its answer gets no attempt back, though its password
/// is still checked (the hash runs on), or it could make the server hash without limit.
#[derive(Debug)]
#[must_use = "say how the attempt ended"]
pub struct Attempt {
    throttle: Throttle,
    username: Option<String>,
    address: IpAddr,
}

impl Attempt {
    /// The password was right: the username starts afresh, and the address's count goes down by
    /// one (so that the users behind one address are not throttled for logging in).
    pub async fn succeeded(self) {
        if let Some(username) = &self.username {
            self.throttle.forget(&user_key(username)).await;
        }
        self.throttle.take_back(&address_key(self.address)).await;
    }

    /// The password was wrong: the attempt stays counted.
    pub fn failed(self) {}

    /// No password was checked (the database failed): no guess, so taken back from both counts,
    /// and an outage locks no one out once it is over.
    pub async fn unchecked(self) {
        if let Some(username) = &self.username {
            self.throttle.take_back(&user_key(username)).await;
        }
        self.throttle.take_back(&address_key(self.address)).await;
    }
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// Keys never hold the password, and a username cannot pass for an address.
fn user_key(username: &str) -> String {
    format!("tlm:login-attempts:user:{username}")
}

/// IPv6 addresses count per /64: a host usually has a whole /64, and could otherwise try from as
/// many addresses as it likes.
fn address_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => format!("tlm:login-attempts:address:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("tlm:login-attempts:address:{v4}"),
            None => {
                let s = v6.segments();
                format!(
                    "tlm:login-attempts:address:{:x}:{:x}:{:x}:{:x}::/64",
                    s[0], s[1], s[2], s[3]
                )
            }
        },
    }
}

/// The seconds of a `Retry-After` header (RFC 9110 section 10.2.3): whole, rounded up, at least 1.
pub fn retry_after_secs(wait: RetryAfter) -> u64 {
    let RetryAfter(wait) = wait;
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

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

    /// An attempt with a wrong password.
    async fn guess(
        throttle: &Throttle,
        username: Option<&str>,
        address: IpAddr,
    ) -> Result<(), RetryAfter> {
        throttle
            .attempt(username, address)
            .await
            .map(Attempt::failed)
    }

    /// Found by review: an attempt dropped unsaid (its client hung up before the answer) was
    /// taken back, while its password was still checked, so a client that hangs up at once
    /// could make the server hash without limit. It stays counted.
    #[tokio::test]
    async fn an_attempt_dropped_unsaid_stays_counted() {
        let throttle = memory();
        for _ in 0..LIMITS.per_username {
            drop(throttle.attempt(Some("ada"), HOME).await);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(guess(&throttle, Some("ada"), HOME).await.is_err());
    }

    #[tokio::test]
    async fn a_username_is_blocked_past_its_attempts_and_a_success_resets_it() {
        let throttle = memory();
        for _ in 0..2 {
            assert_eq!(guess(&throttle, Some("ada"), HOME).await, Ok(()));
        }
        // The third attempt succeeds: it is taken back, and ada starts afresh.
        let attempt = throttle.attempt(Some("ada"), HOME).await;
        attempt.expect("the third attempt").succeeded().await;
        for _ in 0..3 {
            let elsewhere = "10.0.0.1".parse().unwrap();
            assert_eq!(guess(&throttle, Some("ada"), elsewhere).await, Ok(()));
        }
        let Err(RetryAfter(wait)) = guess(&throttle, Some("ada"), HOME).await else {
            panic!("refused past three attempts");
        };
        assert!(
            wait > Duration::from_secs(55) && wait <= LIMITS.window,
            "{wait:?}"
        );
        // Others are not.
        assert_eq!(
            guess(&throttle, Some("bob"), "10.0.0.3".parse().unwrap()).await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn an_address_is_blocked_past_its_attempts_whatever_the_usernames() {
        let throttle = memory();
        for i in 0..5 {
            assert_eq!(
                guess(&throttle, Some(&format!("user{i}")), HOME).await,
                Ok(())
            );
        }
        assert!(guess(&throttle, Some("someone-new"), HOME).await.is_err());
        let other = "10.0.0.2".parse().unwrap();
        assert_eq!(guess(&throttle, Some("someone-new"), other).await, Ok(()));
    }

    /// A success takes back its own attempt only: the address's failures stay counted, so an
    /// attacker cannot wipe them by logging in to an account of their own now and then.
    #[tokio::test]
    async fn a_success_takes_back_one_attempt_from_the_address_not_all() {
        let throttle = memory();
        for i in 0..4 {
            let victim = format!("victim{i}");
            assert_eq!(guess(&throttle, Some(&victim), HOME).await, Ok(()));
        }
        let attempt = throttle.attempt(Some("mallory"), HOME).await;
        attempt.expect("mallory's attempt").succeeded().await;
        // 4 failures left counted: one more attempt (the 5th) passes, the 6th is refused.
        assert_eq!(guess(&throttle, Some("victim4"), HOME).await, Ok(()));
        assert!(
            guess(&throttle, Some("victim5"), HOME).await.is_err(),
            "a success wiped the address's failed attempts"
        );
    }

    /// The burst a check-then-count design lets through: every concurrent guess is counted
    /// before any password is checked, so exactly the limit gets through.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_attempts_cannot_exceed_the_limit() {
        let throttle = Arc::new(memory());
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let throttle = throttle.clone();
                let address = IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 0, i));
                tokio::spawn(async move { guess(&throttle, Some("ada"), address).await })
            })
            .collect();
        let mut allowed = 0;
        for task in tasks {
            allowed += u32::from(task.await.unwrap().is_ok());
        }
        assert_eq!(allowed, LIMITS.per_username);
    }

    #[tokio::test]
    async fn the_window_ends() {
        let throttle = Throttle::new(
            Limits {
                // Long enough for four attempts on a loaded machine.
                window: Duration::from_secs(2),
                ..LIMITS
            },
            None,
        );
        for _ in 0..3 {
            assert_eq!(guess(&throttle, Some("ada"), HOME).await, Ok(()));
        }
        let Err(RetryAfter(wait)) = guess(&throttle, Some("ada"), HOME).await else {
            panic!("the fourth attempt in the window is refused");
        };
        tokio::time::sleep(wait + Duration::from_millis(50)).await;
        assert_eq!(guess(&throttle, Some("ada"), HOME).await, Ok(()));
    }

    /// The `n`th of a flood's addresses, each its own (from 10.0.0.0).
    fn flood_address(n: u64) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n as u32))
    }

    /// A flood of usernames from as many addresses: more keys than the cache holds.
    async fn flood(throttle: &Throttle) {
        for i in 0..(MAX_COUNTED + 20_000) {
            let _ = guess(throttle, Some(&format!("user{i}")), flood_address(i)).await;
        }
        throttle.memory.run_pending_tasks();
    }

    #[tokio::test]
    async fn a_flood_of_usernames_stays_bounded() {
        let throttle = memory();
        flood(&throttle).await;
        let entries = throttle.memory.entry_count();
        assert!(entries <= MAX_COUNTED, "{entries} entries");
    }

    /// A full cache still counts a username under attack: a new key is always kept (the oldest
    /// makes room), never refused by the cache's admission policy, which lost its count.
    #[tokio::test]
    async fn after_a_flood_a_username_is_still_refused_past_its_attempts() {
        let throttle = memory();
        flood(&throttle).await;
        let mut let_through = 0;
        for i in 0..10 {
            let fresh = flood_address(MAX_COUNTED + 20_000 + i);
            if guess(&throttle, Some("ada"), fresh).await.is_ok() {
                let_through += 1;
            }
            throttle.memory.run_pending_tasks();
        }
        assert_eq!(let_through, LIMITS.per_username);
    }

    /// An address past its limit is refused before its username is counted: a client already
    /// refused cannot add keys to push another username's count out of the cache.
    #[tokio::test]
    async fn a_refused_address_cannot_push_a_usernames_count_out() {
        let throttle = memory();
        for i in 0..3 {
            let elsewhere = flood_address(MAX_COUNTED * 2 + i);
            assert_eq!(guess(&throttle, Some("ada"), elsewhere).await, Ok(()));
        }
        let flooder = "10.9.9.9".parse().unwrap();
        for i in 0..(MAX_COUNTED + 20_000) {
            let _ = guess(&throttle, Some(&format!("u{i}")), flooder).await;
        }
        throttle.memory.run_pending_tasks();
        let fresh = flood_address(MAX_COUNTED * 3);
        assert!(
            guess(&throttle, Some("ada"), fresh).await.is_err(),
            "ada's fourth attempt in the window"
        );
    }

    #[test]
    fn ipv6_addresses_count_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(
            address_key(mapped),
            address_key("10.0.0.1".parse().unwrap())
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
