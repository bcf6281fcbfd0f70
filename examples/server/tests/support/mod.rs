//! The harness of the tests that drive the example server over HTTP, as a client would:
//! `tests/server.rs` (one instance on SQLite) and `tests/scale_out.rs` (two on PostgreSQL and
//! Redis), each with `mod support;`. Cargo builds the server binary for them
//! (`CARGO_BIN_EXE_server`).
#![allow(dead_code)]

#[path = "../../../../tests/support/services.rs"]
mod services;
#[allow(unused_imports)] // each test binary uses a part
pub use services::{Services, TempDir, free_port};

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::CONTENT_TYPE;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// The bounds of the waits, which each test sets for itself.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// How long a server may take to answer `/health` after its start.
    pub startup: Duration,
    /// How long one `/health` check may take before the next.
    pub health_check: Duration,
    /// How long a server may take to exit (after SIGTERM, or refusing a bad configuration), and
    /// its log to show what [`Server::wait_for_log`] waits for.
    pub exit: Duration,
    /// How long one request may take (Argon2 in a debug build takes about a second).
    pub request: Duration,
    /// Interval of the bounded polling loops.
    pub poll: Duration,
}

/// The bounds of one instance on SQLite (`tests/server.rs`, `tests/browser.rs`).
pub const TIMING: Timing = Timing {
    // How long a server may take to answer `/health` after its start.
    startup: Duration::from_secs(20),
    health_check: Duration::from_millis(500),
    // How long a server may take to exit after SIGTERM, or to refuse a bad configuration.
    exit: Duration::from_secs(20),
    // How long one request may take (Argon2 in a debug build takes about a second).
    request: Duration::from_secs(30),
    // Interval of the bounded polling loops.
    poll: Duration::from_millis(25),
};

/// How to start one instance of the example server.
#[derive(Clone, Copy, Debug)]
pub struct Launch<'a> {
    /// The instance's name in failure messages.
    pub name: &'static str,
    pub timing: Timing,
    /// `SECRET_KEY`; `None` leaves it unset.
    pub secret: Option<&'a str>,
    pub database_url: &'a str,
    /// More environment variables (`REDIS_URL` is unset unless given here).
    pub env: &'a [(&'a str, &'a str)],
}

/// The example server's executable, built by Cargo for these tests.
pub fn server_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_server"))
}

/// The lines a pipe has delivered so far, and the thread reading it.
pub struct Captured {
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl Captured {
    pub fn new(pipe: impl Read + Send + 'static) -> Self {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Self {
            lines,
            reader: Some(reader),
        }
    }

    pub fn snapshot(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Everything, once the process has exited (the pipe is then closed).
    pub fn join(&mut self) -> String {
        if let Some(reader) = self.reader.take() {
            reader.join().expect("the pipe reader");
        }
        self.snapshot().join("\n")
    }
}

/// A running example server; killed on drop.
pub struct Server {
    pub name: &'static str,
    timing: Timing,
    child: Child,
    addr: SocketAddr,
    stdout: Captured,
    stderr: Captured,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// An answer: status, headers, and the body, which must be JSON.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The status and the body, to compare with [`error`] and the like.
    pub fn pair(self) -> (StatusCode, Value) {
        (self.status, self.body)
    }
}

impl Server {
    /// Starts the server and waits until `/health` answers.
    pub async fn start(launch: &Launch<'_>) -> Self {
        let mut server = Self::spawn(launch);
        server.wait_healthy().await;
        server
    }

    /// [`start`](Self::start), then registers `username`, who is user 1 on a new database.
    pub async fn start_with_user(launch: &Launch<'_>, username: &str, password: &str) -> Self {
        let server = Self::start(launch).await;
        assert_eq!(
            server.register(username, password).await.status,
            StatusCode::CREATED,
            "registering {username}"
        );
        server
    }

    /// Starts the server on a free loopback port, without waiting for it.
    pub fn spawn(launch: &Launch<'_>) -> Self {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut command = Command::new(server_binary());
        command
            .env("HOST", "127.0.0.1")
            .env("PORT", addr.port().to_string())
            .env("DATABASE_URL", launch.database_url)
            .env_remove("REDIS_URL")
            .envs(launch.env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match launch.secret {
            Some(secret) => command.env("SECRET_KEY", secret),
            None => command.env_remove("SECRET_KEY"),
        };
        Self::spawn_command(launch.name, launch.timing, command, addr)
    }

    /// Starts the second service (`--bin verifier`), verifying with the JWK Set at `jwks_url`,
    /// and waits until `/health` answers.
    pub async fn start_verifier(name: &'static str, timing: Timing, jwks_url: &str) -> Self {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut command = Command::new(env!("CARGO_BIN_EXE_verifier"));
        command
            .env("PORT", addr.port().to_string())
            .env("JWKS_URL", jwks_url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut verifier = Self::spawn_command(name, timing, command, addr);
        verifier.wait_healthy().await;
        verifier
    }

    fn spawn_command(
        name: &'static str,
        timing: Timing,
        mut command: Command,
        addr: SocketAddr,
    ) -> Self {
        let mut child = command.spawn().expect("start the example server");
        let stdout = Captured::new(child.stdout.take().unwrap());
        let stderr = Captured::new(child.stderr.take().unwrap());
        Self {
            name,
            timing,
            child,
            addr,
            stdout,
            stderr,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Waits until `/health` answers (bounded by the timing's `startup`).
    pub async fn wait_healthy(&mut self) {
        let Timing {
            startup,
            health_check,
            poll,
            ..
        } = self.timing;
        let deadline = Instant::now() + startup;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let (_, stderr) = self.output();
                panic!(
                    "{}: the server exited ({status}) before it was up:\n{stderr}",
                    self.name
                );
            }
            let req = Request::get(format!("http://{}/health", self.addr))
                .body(Full::default())
                .unwrap();
            if let Ok(Ok(res)) = tokio::time::timeout(health_check, self.client.request(req)).await
                && res.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no answer from /health within {startup:?}:\n{}",
                self.name,
                self.stderr.snapshot().join("\n")
            );
            tokio::time::sleep(poll).await;
        }
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + self.timing.exit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{}: the server did not exit within {:?}",
                self.name,
                self.timing.exit
            );
            std::thread::sleep(self.timing.poll);
        }
    }

    /// Asks the server to stop as `docker stop` or an orchestrator scaling down would (SIGTERM; a
    /// kill elsewhere) and waits.
    pub fn stop(mut self) -> ExitStatus {
        #[cfg(unix)]
        {
            let sent = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status()
                .expect("run kill");
            assert!(sent.success(), "kill -TERM failed");
        }
        #[cfg(not(unix))]
        self.child.kill().expect("kill the server");
        self.wait_exit()
    }

    /// Sends SIGHUP: the server reads `SIGNING_KEYS_FILE` again.
    pub fn hangup(&self) {
        let sent = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -HUP failed");
    }

    /// Stdout and stderr, complete once the process has exited; what there is so far before.
    pub fn output(&mut self) -> (String, String) {
        if self.child.try_wait().unwrap().is_none() {
            return (
                self.stdout.snapshot().join("\n"),
                self.stderr.snapshot().join("\n"),
            );
        }
        (self.stdout.join(), self.stderr.join())
    }

    /// Whether the process is still running.
    pub fn child_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The stderr lines so far.
    pub fn log(&self) -> String {
        self.stderr.snapshot().join("\n")
    }

    /// Polls (bounded) until the stderr lines so far satisfy `done`, and returns them.
    pub async fn wait_for_log(&self, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        self.wait_for_log_within(self.timing.exit, done).await
    }

    /// [`wait_for_log`](Self::wait_for_log), bounded by `within`.
    pub async fn wait_for_log_within(
        &self,
        within: Duration,
        done: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let lines = self.stderr.snapshot();
            if done(&lines) {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "{}: the log never showed what was expected:\n{}",
                self.name,
                lines.join("\n")
            );
            tokio::time::sleep(self.timing.poll).await;
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &str,
    ) -> Reply {
        let headers: Vec<(&str, &str)> = [
            ("content-type", content_type),
            ("authorization", authorization),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect();
        self.request_with(method, path, &headers, body).await
    }

    /// A request with these headers (each may repeat); the answer must be JSON.
    pub async fn request_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let name = self.name;
        let timeout = self.timing.request;
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("http://{}{path}", self.addr));
        for (header, value) in headers {
            req = req.header(*header, *value);
        }
        let req = req.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
        let res = tokio::time::timeout(timeout, self.client.request(req))
            .await
            .unwrap_or_else(|_| panic!("{name}: {method} {path}: no answer within {timeout:?}"))
            .unwrap_or_else(|error| panic!("{name}: {method} {path}: {error}"));
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.expect("the response body").to_bytes();
        assert_eq!(
            parts.headers.get(CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(&b"application/json"[..]),
            "{name}: {method} {path}: content type"
        );
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "{name}: {method} {path}: the body is not JSON: {:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// `GET path` as text: status, headers, body (for the page and its script).
    pub async fn get_text(&self, path: &str) -> (StatusCode, HeaderMap, String) {
        let req = Request::get(format!("http://{}{path}", self.addr))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let res = tokio::time::timeout(self.timing.request, self.client.request(req))
            .await
            .expect("an answer in time")
            .expect("an answer");
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.expect("the response body").to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8(bytes.to_vec()).expect("UTF-8"),
        )
    }

    /// The address the server listens on, `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `request`, bytes as they are (for headers a client library will not send), on a new
    /// connection, and everything the server sends back until it closes the connection.
    pub async fn raw(&self, request: &[u8]) -> Vec<u8> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (name, timeout) = (self.name, self.timing.request);
        let mut socket = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        socket.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(timeout, socket.read_to_end(&mut answer))
            .await
            .unwrap_or_else(|_| panic!("{name}: no answer to a raw request within {timeout:?}"))
            .unwrap();
        answer
    }

    pub async fn get(&self, path: &str, authorization: Option<&str>) -> Reply {
        self.request(Method::GET, path, None, authorization, "")
            .await
    }

    pub async fn post(&self, path: &str, authorization: Option<&str>) -> Reply {
        self.request(Method::POST, path, None, authorization, "")
            .await
    }

    /// `GET /me` with `token`: the status and the body.
    pub async fn me(&self, token: &str) -> (StatusCode, Value) {
        self.get("/me", Some(&bearer(token))).await.pair()
    }

    /// `POST path` with `token` (`/logout`, `/refresh`): the status and the body.
    pub async fn post_token(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.post(path, Some(&bearer(token))).await.pair()
    }

    /// `DELETE /refresh` with the refresh token `token`, which ends its session: the status and
    /// the body.
    pub async fn end_session(&self, token: &str) -> (StatusCode, Value) {
        let auth = bearer(token);
        self.request(Method::DELETE, "/refresh", None, Some(&auth), "")
            .await
            .pair()
    }

    /// `POST /password` with the access token `token`: a password change.
    pub async fn change_password(&self, token: &str, old: &str, new: &str) -> Reply {
        let body = json!({ "old_password": old, "new_password": new }).to_string();
        let auth = bearer(token);
        self.request(
            Method::POST,
            "/password",
            Some("application/json"),
            Some(&auth),
            &body,
        )
        .await
    }

    pub async fn post_credentials(&self, path: &str, username: &str, password: &str) -> Reply {
        let body = json!({ "username": username, "password": password }).to_string();
        self.request(Method::POST, path, Some("application/json"), None, &body)
            .await
    }

    pub async fn register(&self, username: &str, password: &str) -> Reply {
        self.post_credentials("/register", username, password).await
    }

    pub async fn login(&self, username: &str, password: &str) -> Reply {
        self.post_credentials("/login", username, password).await
    }

    /// Logs in and returns the access and the refresh token.
    pub async fn login_pair(&self, username: &str, password: &str) -> (String, String) {
        let reply = self.login(username, password).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{}: login: {}\n{}",
            self.name,
            reply.body,
            self.log()
        );
        tokens(&reply)
    }

    /// Logs in and returns the access token.
    pub async fn login_token(&self, username: &str, password: &str) -> String {
        self.login_pair(username, password).await.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The access and refresh token of a `/login` or `/refresh` answer.
pub fn tokens(reply: &Reply) -> (String, String) {
    let token = |name: &str| {
        reply.body[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {}", reply.body))
            .to_owned()
    };
    (token("token"), token("refresh_token"))
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The JSON error body of the login layer and the routes.
pub fn error(status: StatusCode, message: &str) -> (StatusCode, Value) {
    (
        status,
        json!({ "status": status.as_u16(), "message": message }),
    )
}
