//! Scale-out: two instances of the example server (`examples/server`, built with `--features
//! redis`) behind no load balancer but the test, on one PostgreSQL database and one Redis, real
//! servers on loopback started with `scripts/services.sh`.
//!
//! Checks that users, tokens and revocations are shared (register on A, log in on B; a token from
//! A works on B; a logout on B is refused on A at once), that a Redis that hangs or goes down
//! turns the protected routes into a quick 503 on both instances, and that they recover by
//! themselves when Redis resumes or is back on the same port. This also runs the example server
//! unchanged against PostgreSQL.
//!
//! Needs PostgreSQL and redis-server (`bash scripts/services.sh install`): without them the test
//! is skipped with a message, or fails when the `CI` environment variable is set.
#![cfg(feature = "redis")]

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// The `SECRET_KEY` both instances share.
const SECRET: &str = "the scale-out test's secret, shared by both instances";
/// How long an instance may take to answer `/health` after its start.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one request may take (Argon2 in a debug build takes about a second).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a script step (starting or stopping PostgreSQL or Redis) may take.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest a protected request may take while Redis is down (the store gives up after about
/// two seconds).
const UNAVAILABLE_WITHIN: Duration = Duration::from_secs(5);
/// How long the instances may take to notice that Redis went away, or came back.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);

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
    let a = Server::start("A", &database_url, &redis_url).await;
    let b = Server::start("B", &database_url, &redis_url).await;
    for server in [&a, &b] {
        server
            .wait_for_log("revoked tokens: Redis (from REDIS_URL)")
            .await;
        server
            .wait_for_log("database: PostgreSQL (from DATABASE_URL)")
            .await;
    }
    let ada = (StatusCode::OK, json!({ "id": 1, "username": "ada" }));

    // A user registered on A logs in on B.
    let reply = a.register("ada", "ada's password").await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::CREATED, json!({ "id": 1, "username": "ada" }))
    );
    let (from_b, from_b_refresh) = b.login("ada", "ada's password").await;

    // A token issued by A works on B, and the other way round.
    let (from_a, from_a_refresh) = a.login("ada", "ada's password").await;
    assert_eq!(b.me(&from_a).await, ada, "A's token on B");
    assert_eq!(a.me(&from_b).await, ada, "B's token on A");

    // A logout on B is refused on A at once (and on B).
    assert_eq!(
        b.post("/logout", &from_a).await,
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
    let (status, body) = a.post("/refresh", &from_a_refresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        b.post("/refresh", &from_a_refresh).await,
        error(StatusCode::UNAUTHORIZED, REVOKED)
    );
    assert_eq!(b.me(body["token"].as_str().unwrap()).await, ada);

    // Redis hangs (SIGSTOP: connections are accepted, nothing is answered): 503 after the
    // response timeout, not a hung request; answers again once Redis resumes.
    services.signal_redis("STOP");
    for server in [&a, &b] {
        let start = Instant::now();
        assert_eq!(
            server.me(&from_b).await,
            error(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
            "{}: /me while Redis hangs",
            server.name
        );
        let took = start.elapsed();
        assert!(took < UNAVAILABLE_WITHIN, "{}: took {took:?}", server.name);
    }
    services.signal_redis("CONT");
    for server in [&a, &b] {
        server.wait_until_me(&from_b, ada.clone()).await;
    }

    // Redis goes down: protected routes answer 503 on both instances (never a pass, never 401),
    // quickly; what needs no Redis goes on.
    services.stop_redis();
    for server in [&a, &b] {
        server
            .wait_until_me(&from_b, error(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE))
            .await;
        for _ in 0..3 {
            let start = Instant::now();
            assert_eq!(
                server.me(&from_b).await,
                error(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
                "{}: /me while Redis is down",
                server.name
            );
            let took = start.elapsed();
            assert!(took < UNAVAILABLE_WITHIN, "{}: took {took:?}", server.name);
        }
        assert_eq!(
            server.post("/refresh", &from_b_refresh).await,
            error(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
            "{}: /refresh while Redis is down",
            server.name
        );
        assert_eq!(
            server.get("/health", None).await,
            (StatusCode::OK, json!({ "status": "ok" }))
        );
    }
    let (during_outage, _) = a.login("ada", "ada's password").await;

    // Redis is back on the same port: both instances recover without a restart.
    services.start_redis(redis_port);
    for server in [&a, &b] {
        server.wait_until_me(&from_b, ada.clone()).await;
        assert_eq!(server.me(&during_outage).await, ada, "{}", server.name);
    }

    // And revocations are shared again. (This Redis keeps nothing on disk, so the revocations
    // from before the outage are forgotten: run Redis with persistence in production.)
    assert_eq!(a.post("/logout", &from_b).await.0, StatusCode::OK);
    assert_eq!(
        b.me(&from_b).await,
        error(StatusCode::UNAUTHORIZED, REVOKED)
    );

    for server in [a, b] {
        server.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL and Redis, through scripts/services.sh.

/// A scratch directory owned by PostgreSQL and Redis; both are stopped and the directory removed
/// on drop (and the script's watchdogs stop them if this process dies first).
struct Services {
    dir: PathBuf,
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
        let dir = std::env::temp_dir().join(format!(
            "tower-login-manager-scale-out-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        Some(Self { dir })
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
        let pid = std::fs::read_to_string(self.dir.join("redis.pid")).expect("redis.pid");
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
            .arg(&self.dir)
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
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/services.sh")
}

fn free_port() -> u16 {
    let probe = TcpListener::bind("127.0.0.1:0").expect("a free port");
    probe.local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------------
// The example server.

/// The example binary with `--features redis` (and this test's other features, so that the
/// library is not compiled again), built once per run.
fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary is in target/<profile>/deps");
        let mut features = vec!["redis"];
        if cfg!(feature = "axum") {
            features.push("axum");
        }
        if cfg!(feature = "tracing") {
            features.push("tracing");
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args([
                "build",
                "--example",
                "server",
                "--features",
                &features.join(","),
            ])
            .args(["--message-format", "json-render-diagnostics"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        match profile_dir.file_name().and_then(|name| name.to_str()) {
            Some("debug") | None => {}
            Some("release") => {
                build.arg("--release");
            }
            Some(profile) => {
                build.args(["--profile", profile]);
            }
        }
        let output = build.output().expect("cargo runs");
        assert!(
            output.status.success(),
            "cargo build --example server --features redis failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let binary = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|message| message["target"]["name"] == "server")
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the server executable");
        assert!(binary.exists(), "{} was not built", binary.display());
        binary
    })
}

/// A running instance; killed on drop.
struct Server {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<Vec<String>>>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Server {
    async fn start(name: &'static str, database_url: &str, redis_url: &str) -> Self {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut child = Command::new(server_binary())
            .env("HOST", "127.0.0.1")
            .env("PORT", addr.port().to_string())
            .env("SECRET_KEY", SECRET)
            .env("DATABASE_URL", database_url)
            .env("REDIS_URL", redis_url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the example server");
        let stderr = capture(child.stderr.take().unwrap());
        let server = Self {
            name,
            child,
            addr,
            stderr,
            client: Client::builder(TokioExecutor::new()).build_http(),
        };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let req = Request::get(format!("http://{}/health", self.addr))
                .body(Full::default())
                .unwrap();
            if let Ok(Ok(res)) = tokio::time::timeout(POLL * 10, self.client.request(req)).await
                && res.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no answer from /health within {STARTUP_TIMEOUT:?}:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    async fn wait_for_log(&self, text: &str) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while !self.stderr.lock().unwrap().iter().any(|l| l.contains(text)) {
            assert!(
                Instant::now() < deadline,
                "{}: the log never said {text:?}:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Polls `/me` (bounded) until it answers `want`. Each answer on the way must be a 200 or
    /// the exact 503: nothing else (no 401, no 500) is acceptable while Redis comes and goes.
    async fn wait_until_me(&self, token: &str, want: (StatusCode, Value)) {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let got = self.me(token).await;
            if got == want {
                return;
            }
            assert!(
                got.0 == StatusCode::OK
                    || got == error(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
                "{}: unexpected answer {got:?}",
                self.name
            );
            assert!(
                Instant::now() < deadline,
                "{}: /me still answers {got:?} after {SETTLE_TIMEOUT:?}, not {want:?}:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        authorization: Option<&str>,
        body: String,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("http://{}{path}", self.addr));
        if let Some(authorization) = authorization {
            req = req.header("authorization", authorization);
        }
        let req = req.body(Full::new(Bytes::from(body))).unwrap();
        let res = tokio::time::timeout(REQUEST_TIMEOUT, self.client.request(req))
            .await
            .unwrap_or_else(|_| panic!("{}: {method} {path}: no answer", self.name))
            .unwrap_or_else(|error| panic!("{}: {method} {path}: {error}", self.name));
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.expect("the response body").to_bytes();
        assert_eq!(
            parts.headers.get(CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(&b"application/json"[..]),
            "{}: {method} {path}: content type",
            self.name
        );
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "{}: {method} {path}: the body is not JSON: {:?}",
                self.name,
                String::from_utf8_lossy(&bytes)
            )
        });
        (parts.status, body)
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let authorization = token.map(|token| format!("Bearer {token}"));
        self.request(Method::GET, path, authorization.as_deref(), String::new())
            .await
    }

    async fn me(&self, token: &str) -> (StatusCode, Value) {
        self.get("/me", Some(token)).await
    }

    async fn post(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.request(
            Method::POST,
            path,
            Some(&format!("Bearer {token}")),
            String::new(),
        )
        .await
    }

    async fn register(&self, username: &str, password: &str) -> Reply {
        let body = json!({ "username": username, "password": password }).to_string();
        let (status, body) = self.request(Method::POST, "/register", None, body).await;
        Reply { status, body }
    }

    /// Logs in; the access and the refresh token.
    async fn login(&self, username: &str, password: &str) -> (String, String) {
        let body = json!({ "username": username, "password": password }).to_string();
        let (status, body) = self.request(Method::POST, "/login", None, body).await;
        assert_eq!(status, StatusCode::OK, "{}: login: {body}", self.name);
        let token = |name: &str| body[name].as_str().expect("a token").to_owned();
        (token("token"), token("refresh_token"))
    }

    /// SIGTERM, as an orchestrator would scale down; a clean exit within a bound.
    fn stop(mut self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{}: exit status {status}", self.name);
                return;
            }
            assert!(Instant::now() < deadline, "{}: did not exit", self.name);
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Reply {
    status: StatusCode,
    body: Value,
}

/// The lines of `pipe`, collected by a thread.
fn capture(pipe: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

fn error(status: StatusCode, message: &str) -> (StatusCode, Value) {
    (
        status,
        json!({ "status": status.as_u16(), "message": message }),
    )
}
