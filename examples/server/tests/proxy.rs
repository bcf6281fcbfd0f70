//! The example server behind a real reverse proxy: Debian's nginx, started by this test on a
//! loopback port with a configuration it writes in a scratch directory (`daemon off`, its log and
//! pid file there too), stopped when the test ends. Clients are told apart by their loopback
//! source address (127.0.0.11, 127.0.0.12, ...), which nginx adds to `X-Forwarded-For` (or
//! `Forwarded`) as it would a client's on the internet; nginx itself reaches the server from
//! 127.0.0.1. `bash scripts/install-test-deps.sh` installs nginx.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use support::{Launch, Server, TIMING, TempDir, free_port};

const SECRET: &str = "the proxy test's secret, at least 32 bytes long";
const PASSWORD: &str = "ada's password behind the proxy";

/// The attacker, the user, and a client that reaches the server without the proxy.
const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11));
const USER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 12));
const DIRECT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 13));

/// How long nginx may take to listen, and to stop.
const NGINX_WAIT: Duration = Duration::from_secs(10);

/// Which header nginx writes for the server.
#[derive(Clone, Copy, Debug)]
enum Writes {
    /// `X-Forwarded-For: <what the client sent>, <client address>` (`$proxy_add_x_forwarded_for`).
    XForwardedFor,
    /// `Forwarded: <what the client sent>, for=<client address>` (RFC 7239); the client's own
    /// `X-Forwarded-For` passes through untouched.
    Forwarded,
}

/// nginx in front of `upstream`, as the test's own process; stopped on drop.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Nginx {
    fn start(dir: &Path, upstream: SocketAddr, writes: Writes) -> Self {
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .map(Path::new)
            .find(|path| path.exists())
            .expect("nginx is not installed: run `bash scripts/install-test-deps.sh`");
        let dir = dir.join("nginx");
        std::fs::create_dir_all(&dir).unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let forwarding = match writes {
            Writes::XForwardedFor => {
                "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;".to_owned()
            }
            Writes::Forwarded => "proxy_set_header Forwarded $forwarded_chain;".to_owned(),
        };
        let d = dir.display();
        let config = format!(
            "daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    map $http_forwarded $forwarded_chain {{
        '' 'for=$remote_addr';
        default '$http_forwarded, for=$remote_addr';
    }}
    server {{
        listen {addr};
        location / {{
            proxy_pass http://{upstream};
            {forwarding}
        }}
    }}
}}
"
        );
        let config_path = dir.join("nginx.conf");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(nginx)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&config_path)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut nginx = Self { child, addr, dir };
        nginx.wait_listening();
        nginx
    }

    /// Bounded wait until nginx accepts connections.
    fn wait_listening(&mut self) {
        let deadline = Instant::now() + NGINX_WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("nginx exited ({status}):\n{}", self.log());
            }
            if std::net::TcpStream::connect(self.addr).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen within {NGINX_WAIT:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `POST /login` to `to` from the loopback address `from`, with more headers: the status.
async fn login_from(
    from: IpAddr,
    to: SocketAddr,
    username: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> StatusCode {
    let mut connector = HttpConnector::new();
    connector.set_local_address(Some(from));
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let body = json!({ "username": username, "password": password }).to_string();
    let mut req =
        Request::post(format!("http://{to}/login")).header("content-type", "application/json");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(Full::new(Bytes::from(body))).unwrap();
    let res = tokio::time::timeout(TIMING.request, client.request(req))
        .await
        .unwrap_or_else(|_| panic!("no answer from {to} within {:?}", TIMING.request))
        .unwrap_or_else(|error| panic!("POST {to}/login from {from}: {error}"));
    let status = res.status();
    let _ = res.into_body().collect().await;
    status
}

/// The server, with ada registered.
async fn start(dir: &TempDir, env: &[(&str, &str)]) -> Server {
    let launch = Launch {
        name: "proxied",
        timing: TIMING,
        secret: Some(SECRET),
        database_url: &dir.database_url(),
        env,
    };
    Server::start_with_user(&launch, "ada", PASSWORD).await
}

/// `n` failed logins from `from` through `to`, each for another username (so that no username
/// reaches its own limit), sending `headers`.
async fn fail(n: usize, from: IpAddr, to: SocketAddr, headers: &[(&str, &str)]) {
    for i in 0..n {
        let status = login_from(from, to, &format!("victim{i}"), "guess", headers).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "failed login {i} from {from}"
        );
    }
}

/// The sequence: behind nginx, 20 failed logins from one client, then a correct login
/// from another. Without `TRUSTED_PROXIES` every client had nginx's address, and the second got
/// 429; with it, each client is counted by its own address. The attacker is still refused past
/// its limit, whatever it sends in `X-Forwarded-For` (nginx appends the address it sees).
#[tokio::test]
async fn behind_a_trusted_proxy_one_client_cannot_lock_out_another() {
    let dir = TempDir::new("proxy-test");
    let server = start(&dir, &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let nginx = Nginx::start(dir.path(), server.addr(), Writes::XForwardedFor);
    let spoof = [("x-forwarded-for", "127.0.0.99")];
    lock_out_attempt(&nginx, 20, &spoof).await;
}

/// `failures` failed logins from the attacker through `nginx`, half of them sending `spoof`;
/// then the attacker is refused (429), with or without `spoof`, and the user is not.
async fn lock_out_attempt(nginx: &Nginx, failures: usize, spoof: &[(&str, &str)]) {
    fail(failures / 2, ATTACKER, nginx.addr, &[]).await;
    fail(failures - failures / 2, ATTACKER, nginx.addr, spoof).await;
    for headers in [&[][..], spoof] {
        let status = login_from(ATTACKER, nginx.addr, "ada", PASSWORD, headers).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{headers:?}");
    }
    let status = login_from(USER, nginx.addr, "ada", PASSWORD, &[]).await;
    assert_eq!(status, StatusCode::OK, "{}", nginx.log());
}

/// Without the setting, forwarded headers are ignored as before: every client behind nginx
/// shares nginx's count, and a client cannot pick its address by sending the header itself.
#[tokio::test]
async fn without_trusted_proxies_forwarded_headers_are_ignored() {
    let dir = TempDir::new("proxy-test");
    let server = start(&dir, &[("LOGIN_MAX_FAILURES_PER_ADDRESS", "3")]).await;
    let nginx = Nginx::start(dir.path(), server.addr(), Writes::XForwardedFor);
    fail(3, ATTACKER, nginx.addr, &[]).await;
    let status = login_from(USER, nginx.addr, "ada", PASSWORD, &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "one count for all");

    for (i, spoof) in ["10.0.0.1", "10.0.0.2", "10.0.0.3"].into_iter().enumerate() {
        let headers = [("x-forwarded-for", spoof), ("forwarded", "for=10.9.9.9")];
        let status = login_from(DIRECT, server.addr(), &format!("v{i}"), "guess", &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let headers = [("x-forwarded-for", "10.0.0.4")];
    let status = login_from(DIRECT, server.addr(), "ada", PASSWORD, &headers).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "counted as {DIRECT}");
}

/// With the setting, a client that is not a trusted proxy is still counted by its own address,
/// whatever forwarded headers it sends.
#[tokio::test]
async fn a_client_that_is_not_a_trusted_proxy_cannot_pick_its_address() {
    let dir = TempDir::new("proxy-test");
    let server = start(
        &dir,
        &[
            ("TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"),
            ("LOGIN_MAX_FAILURES_PER_ADDRESS", "3"),
        ],
    )
    .await;
    for (i, spoof) in ["10.0.0.1", "127.0.0.1", "203.0.113.7"]
        .into_iter()
        .enumerate()
    {
        let headers = [("x-forwarded-for", spoof)];
        let status = login_from(DIRECT, server.addr(), &format!("v{i}"), "guess", &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let headers = [("x-forwarded-for", "203.0.113.8")];
    let status = login_from(DIRECT, server.addr(), "ada", PASSWORD, &headers).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

/// The same behind a proxy that writes RFC 7239's `Forwarded` (`FORWARDED_HEADER=forwarded`):
/// the client's own `Forwarded` entries and its `X-Forwarded-For`, which nginx passes through,
/// choose nothing.
#[tokio::test]
async fn behind_a_proxy_writing_forwarded_one_client_cannot_lock_out_another() {
    let dir = TempDir::new("proxy-test");
    let server = start(
        &dir,
        &[
            ("TRUSTED_PROXIES", "127.0.0.1"),
            ("FORWARDED_HEADER", "forwarded"),
            ("LOGIN_MAX_FAILURES_PER_ADDRESS", "3"),
        ],
    )
    .await;
    let nginx = Nginx::start(dir.path(), server.addr(), Writes::Forwarded);
    let spoof = [
        ("forwarded", "for=127.0.0.98"),
        ("x-forwarded-for", "127.0.0.99"),
    ];
    lock_out_attempt(&nginx, 3, &spoof).await;
}

#[tokio::test]
async fn trusted_proxies_must_be_addresses_or_ranges() {
    for (env, message) in [
        (
            ("TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/33"),
            "TRUSTED_PROXIES must be IP addresses or CIDR ranges separated by commas \
             (for example 127.0.0.1,10.0.0.0/8), not \"10.0.0.0/33\"",
        ),
        (
            ("TRUSTED_PROXIES", "proxy.example"),
            "TRUSTED_PROXIES must be IP addresses or CIDR ranges separated by commas \
             (for example 127.0.0.1,10.0.0.0/8), not \"proxy.example\"",
        ),
        (
            ("FORWARDED_HEADER", "x-real-ip"),
            "FORWARDED_HEADER must be x-forwarded-for or forwarded, not \"x-real-ip\"",
        ),
    ] {
        let dir = TempDir::new("proxy-test");
        let mut server = Server::spawn(&Launch {
            name: "proxied",
            timing: TIMING,
            secret: Some(SECRET),
            database_url: &dir.database_url(),
            env: &[env],
        });
        assert!(!server.wait_exit().success(), "{env:?}");
        let (_, stderr) = server.output();
        assert!(stderr.contains(message), "{env:?}: {stderr}");
    }
}
