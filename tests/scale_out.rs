//! Scale-out: two instances of the example server (`examples/server`, built with `--features
//! redis`) behind no load balancer but the test, on one PostgreSQL database and one Redis, real
//! servers on loopback started with `scripts/services.sh`.
//!
//! Checks that users, tokens and revocations are shared (register on A, log in on B; a token from
//! A works on B; a logout on B is refused on A at once; one refresh token sent to A and B at the
//! same moment is spent once), that a Redis that hangs or goes down turns the protected routes
//! into a quick 503 on both instances, and that they recover by themselves when Redis resumes or
//! is back on the same port. This also runs the example server unchanged against PostgreSQL. A
//! second test holds `RedisRevocations::revoke` itself to "exactly one `true`" on a real Redis.
//!
//! Needs PostgreSQL and redis-server (`bash scripts/services.sh install`): without them the tests
//! are skipped with a message, or fail when the `CI` environment variable is set.
#![cfg(feature = "redis")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hyper::StatusCode;
use serde_json::{Value, json};
use tower_login_manager::{RedisRevocations, Revocations};

#[path = "support/server.rs"]
mod server_support;
#[path = "support/stores.rs"]
mod stores;

use server_support::{Launch, Server, TempDir, Timing, error, free_port};

/// The `SECRET_KEY` both instances share.
const SECRET: &str = "the scale-out test's secret, shared by both instances";
/// How long a script step (starting or stopping PostgreSQL or Redis) may take.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest a protected request may take while Redis is down (the store gives up after about
/// two seconds).
const UNAVAILABLE_WITHIN: Duration = Duration::from_secs(5);
/// How long the instances may take to notice that Redis went away, or came back.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);
const TIMING: Timing = Timing {
    // How long an instance may take to answer `/health` after its start.
    startup: Duration::from_secs(30),
    health_check: Duration::from_secs(1),
    // How long an instance may take to exit after SIGTERM, or its log to say what is expected.
    exit: Duration::from_secs(30),
    // How long one request may take (Argon2 in a debug build takes about a second).
    request: Duration::from_secs(30),
    poll: POLL,
};

const REVOKED: &str = "Token has been revoked";
const UNAVAILABLE: &str = "Service temporarily unavailable. Please try again";

#[tokio::test]
async fn two_instances_share_users_tokens_and_revocations_through_postgres_and_redis() {
    let Some(services) = Services::new() else {
        return;
    };
    let database_url = services.start_postgres();
    let redis_port = free_port();
    let redis_url = services.start_redis(redis_port);
    assert!(database_url.starts_with("postgres://"), "{database_url}");

    // One after the other, so that the second finds the migrations applied (sqlx would also
    // serialise them with an advisory lock).
    let a = start("A", &database_url, &redis_url).await;
    let b = start("B", &database_url, &redis_url).await;
    for server in [&a, &b] {
        wait_for_line(server, "revoked tokens: Redis (from REDIS_URL)").await;
        wait_for_line(server, "database: PostgreSQL (from DATABASE_URL)").await;
    }
    let ada = (StatusCode::OK, json!({ "id": 1, "username": "ada" }));

    // A user registered on A logs in on B.
    let reply = a.register("ada", "ada's password").await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::CREATED, json!({ "id": 1, "username": "ada" }))
    );
    let (from_b, from_b_refresh) = b.login_pair("ada", "ada's password").await;

    // A token issued by A works on B, and the other way round.
    let (from_a, from_a_refresh) = a.login_pair("ada", "ada's password").await;
    assert_eq!(b.me(&from_a).await, ada, "A's token on B");
    assert_eq!(a.me(&from_b).await, ada, "B's token on A");

    // A logout on B is refused on A at once (and on B).
    assert_eq!(
        b.post_token("/logout", &from_a).await,
        (
            StatusCode::OK,
            json!({ "status": 200, "message": "Logged out" })
        )
    );
    assert_eq!(
        a.me(&from_a).await,
        error(StatusCode::UNAUTHORIZED, REVOKED)
    );
    assert_eq!(
        b.me(&from_a).await,
        error(StatusCode::UNAUTHORIZED, REVOKED)
    );
    assert_eq!(a.me(&from_b).await, ada, "only that token");

    // A refresh token spent on A is spent on B too.
    let (status, body) = a.post_token("/refresh", &from_a_refresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        b.post_token("/refresh", &from_a_refresh).await,
        error(StatusCode::UNAUTHORIZED, REVOKED)
    );
    assert_eq!(b.me(body["token"].as_str().unwrap()).await, ada);

    // RFC 9700 section 4.14.2: one refresh token sent to A and B at the same moment is spent
    // once; a few rounds, each on the winner's new refresh token.
    let mut raced = refresh_token_of(&body);
    for round in 0..4 {
        let (on_a, on_b) = tokio::join!(
            a.post_token("/refresh", &raced),
            b.post_token("/refresh", &raced)
        );
        let revoked = error(StatusCode::UNAUTHORIZED, REVOKED);
        let winner = match (on_a.0, on_b.0) {
            (StatusCode::OK, _) if on_b == revoked => on_a.1,
            (_, StatusCode::OK) if on_a == revoked => on_b.1,
            _ => panic!(
                "round {round}: A {} {}, B {} {}: not one 200 and one 401",
                on_a.0, on_a.1["message"], on_b.0, on_b.1["message"]
            ),
        };
        raced = refresh_token_of(&winner);
    }

    // Redis hangs (SIGSTOP: connections are accepted, nothing is answered): 503 after the
    // response timeout, not a hung request; answers again once Redis resumes.
    services.signal_redis("STOP");
    for server in [&a, &b] {
        quick_503_on_me(server, &from_b, "while Redis hangs").await;
    }
    services.signal_redis("CONT");
    for server in [&a, &b] {
        wait_until_me(server, &from_b, ada.clone()).await;
    }

    // Redis goes down: protected routes answer 503 on both instances (never a pass, never 401),
    // quickly; what needs no Redis goes on.
    services.stop_redis();
    for server in [&a, &b] {
        wait_until_me(
            server,
            &from_b,
            error(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
        )
        .await;
        for _ in 0..3 {
            quick_503_on_me(server, &from_b, "while Redis is down").await;
        }
        assert_eq!(
            server.post_token("/refresh", &from_b_refresh).await,
            error(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
            "{}: /refresh while Redis is down",
            server.name
        );
        assert_eq!(
            server.get("/health", None).await.pair(),
            (StatusCode::OK, json!({ "status": "ok" }))
        );
    }
    let (during_outage, _) = a.login_pair("ada", "ada's password").await;

    // Redis is back on the same port: both instances recover without a restart.
    services.start_redis(redis_port);
    for server in [&a, &b] {
        wait_until_me(server, &from_b, ada.clone()).await;
        assert_eq!(server.me(&during_outage).await, ada, "{}", server.name);
    }

    // And revocations are shared again. (This Redis keeps nothing on disk, so the revocations
    // from before the outage are forgotten: run Redis with persistence in production.)
    assert_eq!(a.post_token("/logout", &from_b).await.0, StatusCode::OK);
    assert_eq!(
        b.me(&from_b).await,
        error(StatusCode::UNAUTHORIZED, REVOKED)
    );

    for server in [a, b] {
        let name = server.name;
        let status = server.stop();
        assert!(status.success(), "{name}: exit status {status}");
    }
}

/// `RedisRevocations::revoke` on a real Redis: `SET .. NX` answers `true` to exactly one caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_revoke_is_true_for_exactly_one_of_concurrent_calls() {
    // RFC 9700 section 4.14.2: of concurrent uses of one refresh token, exactly one may succeed.
    const TASKS: usize = 16;
    let Some(services) = Services::new() else {
        return;
    };
    let store = RedisRevocations::new(services.start_redis(free_port())).unwrap();
    let manager = tower_login_manager::LoginManager::builder(SECRET)
        .token_ids(true)
        .build()
        .unwrap();
    let once = stores::token(&manager, Duration::from_secs(60));
    let revocation = once.revocation().unwrap();
    assert!(
        store.revoke(revocation).await.unwrap(),
        "the first revocation"
    );
    assert!(!store.revoke(revocation).await.unwrap(), "already revoked");
    assert!(store.is_revoked(revocation.token_id()).await.unwrap());

    for round in 0..50 {
        let raced = stores::token(&manager, Duration::from_secs(60));
        let winners = stores::winners(&store, &raced, TASKS).await;
        assert_eq!(winners, 1, "round {round}");
    }
}

/// The behaviour every store shares (`tests/support/stores.rs`), on a real Redis.
#[tokio::test]
async fn redis_behaves_as_every_store_must() {
    let Some(services) = Services::new() else {
        return;
    };
    let store = RedisRevocations::new(services.start_redis(free_port())).unwrap();
    stores::revoked_tokens_stay_refused_through_the_leeway(&store).await;
    stores::a_token_that_never_expires_can_be_revoked(&store).await;
}

/// One clock: the key lives as long as the manager's clock says the token is accepted, not as
/// long as this machine's clock would. A manager an hour behind accepts a 2-hour token for two
/// more hours of real time, so its revocation must last that long.
#[tokio::test]
async fn redis_counts_the_time_left_on_the_managers_clock() {
    let Some(services) = Services::new() else {
        return;
    };
    let url = services.start_redis(free_port());
    let store = RedisRevocations::new(url.as_str()).unwrap();
    let behind = unix_now() - 3600;
    let manager = tower_login_manager::LoginManager::builder(SECRET)
        .clock(move || behind)
        .token_ids(true)
        .build()
        .unwrap();
    let token = manager.issue_token("1", Duration::from_secs(7200)).unwrap();
    let claims = manager.decode_token(&token).unwrap();
    let jti = claims.revocation().unwrap().token_id();
    assert!(store.revoke(claims.revocation().unwrap()).await.unwrap());

    let mut connection = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("tlm:revoked:{jti}"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((7190..=7200).contains(&ttl), "TTL {ttl}");
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL and Redis, through scripts/services.sh.

/// A scratch directory owned by PostgreSQL and Redis; both are stopped and the directory removed
/// on drop (and the script's watchdogs stop them if this process dies first).
struct Services {
    dir: TempDir,
}

impl Services {
    /// `None` (the test is skipped) when PostgreSQL or Redis is not installed, unless `CI` is set:
    /// then the test fails.
    fn new() -> Option<Self> {
        let check = Command::new("bash")
            .arg(script())
            .arg("check")
            .output()
            .expect("run bash scripts/services.sh check");
        if !check.status.success() {
            let why = String::from_utf8_lossy(&check.stderr);
            let ci = std::env::var_os("CI").is_some_and(|ci| !ci.is_empty());
            assert!(
                !ci,
                "PostgreSQL and redis-server are needed ({}); CI must install them first with \
                 `bash scripts/services.sh install`",
                why.trim()
            );
            eprintln!(
                "SKIPPED: the scale-out test needs PostgreSQL and redis-server ({}); install them \
                 with `bash scripts/services.sh install`",
                why.trim()
            );
            return None;
        }
        Some(Self {
            dir: TempDir::new("scale-out"),
        })
    }

    /// A fresh PostgreSQL cluster on a free port; its `DATABASE_URL`.
    fn start_postgres(&self) -> String {
        self.url("start-postgres", &[], "DATABASE_URL=")
    }

    /// Redis on `port`; its `REDIS_URL`.
    fn start_redis(&self, port: u16) -> String {
        self.url("start-redis", &[&port.to_string()], "REDIS_URL=")
    }

    /// Sends `SIGSTOP`, `SIGCONT`, .. to Redis.
    fn signal_redis(&self, signal: &str) {
        let pid = std::fs::read_to_string(self.dir.path().join("redis.pid")).expect("redis.pid");
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), pid.trim()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} {pid}");
    }

    fn stop_redis(&self) {
        self.run(&["stop-redis"]);
    }

    fn url(&self, command: &str, args: &[&str], prefix: &str) -> String {
        let mut all = vec![command];
        all.extend_from_slice(args);
        let stdout = self.run(&all);
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("scripts/services.sh {command} printed no {prefix}"))
            .to_owned()
    }

    /// `bash scripts/services.sh <command> <dir> <args..>`, bounded; its standard output.
    fn run(&self, args: &[&str]) -> String {
        let mut command = Command::new("bash");
        command
            .arg(script())
            .arg(args[0])
            .arg(self.dir.path())
            .args(&args[1..])
            .env("OWNER_PID", std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = command.spawn().expect("run bash scripts/services.sh");
        // A thread waits, so that a hung script fails the test instead of hanging it.
        let (done, wait) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(child.wait_with_output());
        });
        let output = wait
            .recv_timeout(SCRIPT_TIMEOUT)
            .unwrap_or_else(|_| {
                panic!("scripts/services.sh {args:?}: no end in {SCRIPT_TIMEOUT:?}")
            })
            .expect("scripts/services.sh runs");
        assert!(
            output.status.success(),
            "scripts/services.sh {args:?} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
        // Then `dir` is removed.
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/services.sh")
}

// ---------------------------------------------------------------------------------------------
// The example server: an instance on the shared database and Redis.

/// Starts an instance (built with `--features redis`) and waits until `/health` answers.
async fn start(name: &'static str, database_url: &str, redis_url: &str) -> Server {
    Server::start(&Launch {
        name,
        timing: TIMING,
        secret: Some(SECRET),
        database_url,
        env: &[("REDIS_URL", redis_url)],
    })
    .await
}

/// The refresh token of a `/login` or `/refresh` answer's body.
fn refresh_token_of(body: &Value) -> String {
    body["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh_token in {body}"))
        .to_owned()
}

/// Polls (bounded) until a line of the instance's log contains `text`.
async fn wait_for_line(server: &Server, text: &str) {
    server
        .wait_for_log(|lines| lines.iter().any(|l| l.contains(text)))
        .await;
}

/// `/me` answers the exact 503 (`when`: while what happens to Redis), within
/// [`UNAVAILABLE_WITHIN`].
async fn quick_503_on_me(server: &Server, token: &str, when: &str) {
    let start = Instant::now();
    assert_eq!(
        server.me(token).await,
        error(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
        "{}: /me {when}",
        server.name
    );
    let took = start.elapsed();
    assert!(took < UNAVAILABLE_WITHIN, "{}: took {took:?}", server.name);
}

/// Polls `/me` (bounded) until it answers `want`. Each answer on the way must be a 200 or the
/// exact 503: nothing else (no 401, no 500) is acceptable while Redis comes and goes.
async fn wait_until_me(server: &Server, token: &str, want: (StatusCode, Value)) {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let got = server.me(token).await;
        if got == want {
            return;
        }
        assert!(
            got.0 == StatusCode::OK || got == error(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
            "{}: unexpected answer {got:?}",
            server.name
        );
        assert!(
            Instant::now() < deadline,
            "{}: /me still answers {got:?} after {SETTLE_TIMEOUT:?}, not {want:?}:\n{}",
            server.name,
            server.log()
        );
        tokio::time::sleep(POLL).await;
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
