//! Scale-out: two instances of the example server behind no load balancer but the test, on one PostgreSQL database and one Redis, real
//! servers on loopback started with `scripts/services.sh`.
//!
//! Checks that users, tokens and revocations are shared (register on A, log in on B; a token from
//! A works on B; a logout on B is refused on A at once; one refresh token sent to A and B at the
//! same moment is spent once, and its session ends on both; a spent refresh token that comes back
//! on B while the legitimate refresh runs on A ends the session on both; a password change on B
//! and a `/logout-all` on A end every earlier token of the user on both), that a Redis that hangs or goes down turns the protected routes
//! into a quick 503 on both instances, and that they recover by themselves when Redis resumes or
//! is back on the same port. This also runs the example server unchanged against PostgreSQL. The
//! Redis store itself is tested in the library's `tests/redis.rs`.
//!
//! Needs PostgreSQL and redis-server (`bash scripts/services.sh install`): without them the tests
//! are skipped with a message, or fail when the `CI` environment variable is set.
use std::time::{Duration, Instant};

use hyper::StatusCode;
use serde_json::{Value, json};

mod support;

use support::{Launch, Server, Services, Timing, error, free_port, tokens};

/// The `SECRET_KEY` both instances share.
const SECRET: &str = "the scale-out test's secret, shared by both instances";
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

    // Failed logins are counted for all instances: five on A, and B refuses the sixth with
    // 429, even with the right password, and without checking it.
    assert_eq!(
        a.register("bob", "bob's password").await.status,
        StatusCode::CREATED
    );
    for _ in 0..5 {
        let reply = a.login("bob", "not bob's password").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let reply = b.login("bob", "bob's password").await;
    assert!(reply.headers.contains_key("retry-after"));
    assert_eq!(
        reply.pair(),
        error(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed login attempts. Please try again later"
        )
    );

    // A success takes back its own attempt from the address's count in Redis, and no more: an
    // attacker logging in to an account of their own now and then could otherwise wipe it.
    let redis = redis::Client::open(redis_url.as_str()).unwrap();
    let mut redis = redis.get_multiplexed_async_connection().await.unwrap();
    let address = "tlm:login-attempts:address:127.0.0.1";
    let before: u32 = redis::cmd("GET")
        .arg(address)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(before >= 6, "{before}: bob's six attempts");
    // A token issued by A works on B, and the other way round.
    let (from_a, from_a_refresh) = a.login_pair("ada", "ada's password").await;
    let after: u32 = redis::cmd("GET")
        .arg(address)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(after, before, "counted, then taken back: the failures stay");
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

    // A refresh token spent on A is spent on B too; the new pair works on B, and its refresh
    // token refreshes there. Presented again on B, the spent token ends its session on both.
    let (status, body) = a.post_token("/refresh", &from_a_refresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(b.me(body["token"].as_str().unwrap()).await, ada);
    let (status, body) = b.post_token("/refresh", &refresh_token_of(&body)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        b.post_token("/refresh", &from_a_refresh).await,
        error(StatusCode::UNAUTHORIZED, REVOKED)
    );
    session_is_over(&[&a, &b], &body, "a reuse on B").await;

    // RFC 9700 section 4.14.2: one refresh token sent to A and B at the same moment is spent
    // once; it was presented twice, so the session ends on both instances, the winner's new pair
    // with it. A few rounds, each on a new login.
    let revoked = error(StatusCode::UNAUTHORIZED, REVOKED);
    for round in 0..4 {
        let (_, raced) = a.login_pair("ada", "ada's password").await;
        let (on_a, on_b) = tokio::join!(
            a.post_token("/refresh", &raced),
            b.post_token("/refresh", &raced)
        );
        let winner = match (on_a.0, on_b.0) {
            (StatusCode::OK, _) if on_b == revoked => on_a.1,
            (_, StatusCode::OK) if on_a == revoked => on_b.1,
            _ => panic!(
                "round {round}: A {} {}, B {} {}: not one 200 and one 401",
                on_a.0, on_a.1["message"], on_b.0, on_b.1["message"]
            ),
        };
        session_is_over(&[&a, &b], &winner, &format!("round {round}")).await;
    }

    // Issue 22, the reuse racing the legitimate refresh: R0 gives R1 on A; then the thief's R0 on
    // B and the client's R1 on A at the same moment. The reuse is refused; the client's refresh
    // may still get a pair (when it was checked first), but afterwards the session is over on
    // both instances, whatever the order.
    for round in 0..4 {
        let (_, r0) = a.login_pair("ada", "ada's password").await;
        let (status, first) = a.post_token("/refresh", &r0).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        let r1 = refresh_token_of(&first);
        let (legit, reuse) =
            tokio::join!(a.post_token("/refresh", &r1), b.post_token("/refresh", &r0));
        assert_eq!(reuse, revoked, "round {round}: the reuse");
        let what = format!("reuse round {round}");
        match legit.0 {
            StatusCode::OK => session_is_over(&[&a, &b], &legit.1, &what).await,
            _ => assert_eq!(legit, revoked, "{what}: the client's refresh"),
        }
        session_is_over(&[&a, &b], &first, &what).await;
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

    // Issue 22, log out everywhere: a password change on B ends ada's every other session on
    // both instances, and its new pair works on both; then `/logout-all` on A ends that one too.
    let (phone, phone_refresh) = a.login_pair("ada", "ada's password").await;
    let (laptop, _) = b.login_pair("ada", "ada's password").await;
    // The cutoff refuses tokens issued in an earlier second.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let reply = b
        .change_password(&laptop, "ada's password", "ada's new password")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let (fresh, fresh_refresh) = tokens(&reply);
    for server in [&a, &b] {
        for (token, what) in [
            (&phone, "the phone"),
            (&laptop, "the laptop"),
            (&from_b, "B"),
        ] {
            assert_eq!(server.me(token).await, revoked, "{}: {what}", server.name);
        }
        assert_eq!(
            server.me(&fresh).await,
            ada,
            "{}: the new pair",
            server.name
        );
    }
    assert_eq!(a.post_token("/refresh", &phone_refresh).await, revoked);
    let (status, body) = a.post_token("/refresh", &fresh_refresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (fresh, _) = tokens_of(&body);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(a.post_token("/logout-all", &fresh).await.0, StatusCode::OK);
    for server in [&a, &b] {
        assert_eq!(server.me(&fresh).await, revoked, "{}", server.name);
    }
    let (after, _) = b.login_pair("ada", "ada's new password").await;
    assert_eq!(a.me(&after).await, ada, "a login afterwards");

    for server in [a, b] {
        let name = server.name;
        let status = server.stop();
        assert!(status.success(), "{name}: exit status {status}");
    }
}

/// After a refresh-token reuse: the pair in `answer` (a `/login` or `/refresh` body) is refused
/// on every instance, its access token on `/me` and its refresh token on `/refresh`.
async fn session_is_over(servers: &[&Server], answer: &Value, what: &str) {
    let (access, refresh) = tokens_of(answer);
    let revoked = error(StatusCode::UNAUTHORIZED, REVOKED);
    for server in servers {
        assert_eq!(server.me(&access).await, revoked, "{what}: {}", server.name);
        assert_eq!(
            server.post_token("/refresh", &refresh).await,
            revoked,
            "{what}: {}",
            server.name
        );
    }
}

/// The access and the refresh token of a `/login` or `/refresh` answer's body.
fn tokens_of(body: &Value) -> (String, String) {
    let access = body["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {body}"))
        .to_owned();
    (access, refresh_token_of(body))
}

// ---------------------------------------------------------------------------------------------
// The example server: an instance on the shared database and Redis.

/// Starts an instance and waits until `/health` answers.
/// Found by review: a database that stalls (a lock held, rather than down) kept each login
/// waiting until the server's 20 s request timeout (408), and the attempt, its password never
/// checked, stayed counted: once the stall was over, the user was locked out (429). Every query
/// now ends within 5 s (PostgreSQL's `statement_timeout`), so such a login is a failure of the
/// database (500) and is taken back.
#[tokio::test]
async fn a_stalled_database_answers_at_once_and_locks_no_one_out() {
    use sqlx::Connection;
    let Some(services) = Services::new() else {
        return;
    };
    let database_url = services.start_postgres();
    let server = Server::start(&Launch {
        name: "stalled",
        timing: TIMING,
        secret: Some(SECRET),
        database_url: &database_url,
        env: &[("LOGIN_MAX_FAILURES", "2")],
    })
    .await;
    assert_eq!(
        server.register("ada", "ada's password").await.status,
        StatusCode::CREATED
    );
    let mut lock = sqlx::PgConnection::connect(&database_url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut lock).await.unwrap();
    sqlx::query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .execute(&mut lock)
        .await
        .unwrap();
    // As many as the username's limit, at once: without their attempts taken back, the next
    // login is refused.
    let logins = (0..2).map(|_| async {
        let sent = Instant::now();
        let reply = server.login("ada", "ada's password").await;
        (reply.pair(), sent.elapsed())
    });
    for (reply, took) in futures_util::future::join_all(logins).await {
        assert_eq!(
            reply,
            error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
        );
        assert!(took < Duration::from_secs(10), "answered after {took:?}");
    }
    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    let reply = server.login("ada", "ada's password").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

/// Found by review: the migrations ran on the pool, whose queries end after 5 s, so an instance
/// that started while another held the migration lock (migrating a large table, say) gave up
/// after 5 s and did not start. It waits for the lock.
#[tokio::test]
async fn an_instance_waits_for_another_one_migrating() {
    use sqlx::Connection;
    let Some(services) = Services::new() else {
        return;
    };
    let database_url = services.start_postgres();
    let mut other = sqlx::PgConnection::connect(&database_url).await.unwrap();
    // sqlx's migration lock: `0x3d32ad9e * crc32(database name)`, a session's advisory lock.
    let (database,): (String,) = sqlx::query_as("SELECT current_database()")
        .fetch_one(&mut other)
        .await
        .unwrap();
    let lock = 0x3d32_ad9e_i64 * i64::from(crc32(database.as_bytes()));
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(lock)
        .execute(&mut other)
        .await
        .unwrap();
    let mut server = Server::spawn(&Launch {
        name: "waiting",
        timing: TIMING,
        secret: Some(SECRET),
        database_url: &database_url,
        env: &[],
    });
    tokio::time::sleep(Duration::from_secs(7)).await;
    // Still waiting for the lock (this is sqlx's lock, and the instance has not given up).
    assert!(
        !server.log().contains("listening on"),
        "the instance did not wait for the migration lock:\n{}",
        server.log()
    );
    assert!(
        server.child_running(),
        "the instance gave up waiting:\n{}",
        server.log()
    );
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(lock)
        .execute(&mut other)
        .await
        .unwrap();
    server.wait_healthy().await;
    assert!(server.stop().success());
}

/// CRC-32 (IEEE), as sqlx's migration lock computes it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & 0u32.wrapping_sub(crc & 1));
        }
    }
    !crc
}

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
