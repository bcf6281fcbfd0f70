//! End-to-end tests of the example server (`examples/server`): the real binary, started on a free
//! loopback port with its own SQLite file and driven over HTTP, as a client would.
//!
//! `cargo test --test server` does not build examples, so the binary is built here, once per run,
//! with `cargo build --example server` and this test's own features (a no-op when it is up to
//! date, and never a stale binary). With `--features redis`, a Redis that is down is checked too;
//! two instances on PostgreSQL and a real Redis are `tests/scale_out.rs`.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};
use tower_login_manager::LoginManager;

/// The `SECRET_KEY` of every server here (47 bytes).
const SECRET: &str = "the example server's test secret, 47 bytes long";
/// How long a server may take to answer `/health` after its start.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server may take to exit after SIGTERM, or to refuse a bad configuration.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one request may take (Argon2 in a debug build takes about a second).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Interval of the bounded polling loops.
const POLL: Duration = Duration::from_millis(25);

const INVALID_CREDENTIALS: &str = "Invalid username or password";
const NEED_LOGIN: &str = "You need to login";
const INVALID_TOKEN: &str = "Invalid token. Please register or login";
const EXPIRED_TOKEN: &str = "Expired token. Please login to get a new token";
const USER_NOT_FOUND: &str = "User not found. Please register or login";
const REVOKED_TOKEN: &str = "Token has been revoked";
#[cfg(feature = "redis")]
const UNAVAILABLE: &str = "Service temporarily unavailable. Please try again";
const NOT_A_JSON_OBJECT: &str =
    "The request body must be a JSON object with a username and a password";

// ---------------------------------------------------------------------------------------------
// The tests.

#[tokio::test]
async fn walk_register_login_me_and_every_refusal() {
    let dir = TempDir::new();
    let server = Server::start(Some(SECRET), &dir.database_url()).await;

    // Ids follow registration order.
    for (id, name) in [(1, "ada"), (2, "bob"), (3, "carol")] {
        let reply = server.register(name, &format!("{name}'s password")).await;
        assert_eq!(
            (reply.status, reply.body),
            (StatusCode::CREATED, json!({ "id": id, "username": name })),
            "register {name}"
        );
    }

    let reply = server.login("ada", "ada's password").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers[CACHE_CONTROL], "no-store");
    let token = reply.body["token"].as_str().expect("a token").to_owned();
    let refresh_token = reply.body["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    assert_eq!(
        reply.body,
        json!({
            "token": token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": refresh_token,
            "refresh_expires_in": 30 * 24 * 3600,
        })
    );

    let reply = server.get("/me", Some(&format!("Bearer {token}"))).await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::OK, json!({ "id": 1, "username": "ada" }))
    );

    // A wrong password and an unknown username get the very same answer.
    let invalid = (
        StatusCode::UNAUTHORIZED,
        json!({ "status": 401, "message": INVALID_CREDENTIALS }),
    );
    let reply = server.login("ada", "bob's password").await;
    assert_eq!((reply.status, reply.body), invalid, "wrong password");
    let reply = server.login("nobody", "ada's password").await;
    assert_eq!((reply.status, reply.body), invalid, "unknown username");
    let reply = server.login("Ada", "ada's password").await;
    assert_eq!(
        (reply.status, reply.body),
        invalid,
        "usernames are case-sensitive"
    );

    let reply = server.register("ada", "another password").await;
    assert_eq!(
        (reply.status, reply.body),
        (
            StatusCode::CONFLICT,
            json!({ "status": 409, "message": "Username already taken" })
        )
    );
    // The refused registration changed nothing.
    let reply = server.login("ada", "ada's password").await;
    assert_eq!(reply.status, StatusCode::OK, "ada keeps her password");

    struct Case {
        name: &'static str,
        content_type: Option<&'static str>,
        body: &'static str,
        message: &'static str,
    }
    let json_ct = Some("application/json");
    let cases = [
        Case {
            name: "not JSON",
            content_type: json_ct,
            body: "username=dan&password=pw",
            message: NOT_A_JSON_OBJECT,
        },
        Case {
            name: "form body, form content type",
            content_type: Some("application/x-www-form-urlencoded"),
            body: "username=dan&password=pw",
            message: NOT_A_JSON_OBJECT,
        },
        Case {
            name: "empty body",
            content_type: None,
            body: "",
            message: NOT_A_JSON_OBJECT,
        },
        Case {
            name: "truncated JSON",
            content_type: json_ct,
            body: r#"{"username":"dan","password":"pw""#,
            message: NOT_A_JSON_OBJECT,
        },
        Case {
            name: "JSON array",
            content_type: json_ct,
            body: r#"["dan","pw"]"#,
            message: NOT_A_JSON_OBJECT,
        },
        Case {
            name: "missing username",
            content_type: json_ct,
            body: r#"{"password":"pw"}"#,
            message: "Missing username",
        },
        Case {
            name: "missing password",
            content_type: json_ct,
            body: r#"{"username":"dan"}"#,
            message: "Missing password",
        },
        Case {
            name: "null password",
            content_type: json_ct,
            body: r#"{"username":"dan","password":null}"#,
            message: "Missing password",
        },
        Case {
            name: "empty username",
            content_type: json_ct,
            body: r#"{"username":"","password":"pw"}"#,
            message: "username must not be empty",
        },
        Case {
            name: "empty password",
            content_type: json_ct,
            body: r#"{"username":"dan","password":""}"#,
            message: "password must not be empty",
        },
        Case {
            name: "number username",
            content_type: json_ct,
            body: r#"{"username":7,"password":"pw"}"#,
            message: "username must be a string",
        },
    ];
    for path in ["/register", "/login"] {
        for case in &cases {
            let reply = server
                .request(Method::POST, path, case.content_type, None, case.body)
                .await;
            assert_eq!(
                (reply.status, reply.body),
                (
                    StatusCode::BAD_REQUEST,
                    json!({ "status": 400, "message": case.message })
                ),
                "{path}: {}",
                case.name
            );
        }
    }

    // Tokens the server did not issue, or no longer honours.
    let now = unix_now();
    let two_hours_ago = now - 2 * 3600;
    let in_the_past = LoginManager::builder(SECRET)
        .clock(move || two_hours_ago)
        .build()
        .unwrap();
    let expired = in_the_past
        .issue_token("1", Duration::from_secs(3600))
        .unwrap();
    let same_secret = LoginManager::new(SECRET).unwrap();
    // ada's header and MAC around bob's claims: a forged "I am user 2".
    let bobs = same_secret
        .issue_token("2", Duration::from_secs(3600))
        .unwrap();
    let tampered = format!(
        "{}.{}.{}",
        segment(&token, 0),
        segment(&bobs, 1),
        segment(&token, 2)
    );
    let other_secret = LoginManager::new("another secret of at least thirty-two bytes")
        .unwrap()
        .issue_token("1", Duration::from_secs(3600))
        .unwrap();
    let unknown_user = same_secret
        .issue_token("999", Duration::from_secs(3600))
        .unwrap();
    let not_a_number = same_secret
        .issue_token("ada", Duration::from_secs(3600))
        .unwrap();

    struct AuthCase {
        name: &'static str,
        authorization: Option<String>,
        message: &'static str,
    }
    let bearer = |token: &str| Some(format!("Bearer {token}"));
    let cases = [
        AuthCase {
            name: "expired token",
            authorization: bearer(&expired),
            message: EXPIRED_TOKEN,
        },
        AuthCase {
            name: "tampered token",
            authorization: bearer(&tampered),
            message: INVALID_TOKEN,
        },
        AuthCase {
            name: "token signed with another secret",
            authorization: bearer(&other_secret),
            message: INVALID_TOKEN,
        },
        AuthCase {
            name: "garbage token",
            authorization: bearer("not-a-token"),
            message: INVALID_TOKEN,
        },
        AuthCase {
            name: "valid token for a user who does not exist",
            authorization: bearer(&unknown_user),
            message: USER_NOT_FOUND,
        },
        AuthCase {
            name: "valid token whose user id is not a number",
            authorization: bearer(&not_a_number),
            message: USER_NOT_FOUND,
        },
        AuthCase {
            name: "no Authorization header",
            authorization: None,
            message: NEED_LOGIN,
        },
        AuthCase {
            name: "another scheme",
            authorization: Some(format!("Basic {token}")),
            message: NEED_LOGIN,
        },
    ];
    for case in &cases {
        let reply = server.get("/me", case.authorization.as_deref()).await;
        assert_eq!(
            (reply.status, reply.body),
            (
                StatusCode::UNAUTHORIZED,
                json!({ "status": 401, "message": case.message })
            ),
            "{}",
            case.name
        );
    }

    // Not protected, and errors outside the routes are JSON too.
    let reply = server.get("/health", None).await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::OK, json!({ "status": "ok" }))
    );
    let reply = server
        .get("/nowhere", Some(&format!("Bearer {token}")))
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (
            StatusCode::NOT_FOUND,
            json!({ "status": 404, "message": "Not found" })
        )
    );
    let reply = server.get("/login", None).await;
    assert_eq!(
        (reply.status, reply.body),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            json!({ "status": 405, "message": "Method not allowed" })
        )
    );
}

#[tokio::test]
async fn users_and_tokens_survive_a_restart() {
    let dir = TempDir::new();
    let first = Server::start(Some(SECRET), &dir.database_url()).await;
    assert_eq!(
        first.register("ada", "ada's password").await.status,
        StatusCode::CREATED
    );
    let token = first.login_token("ada", "ada's password").await;

    // SIGTERM: a graceful shutdown, exit status 0.
    let status = first.stop();
    assert!(status.success(), "graceful shutdown: {status}");

    let second = Server::start(Some(SECRET), &dir.database_url()).await;
    let reply = second.get("/me", Some(&format!("Bearer {token}"))).await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::OK, json!({ "id": 1, "username": "ada" })),
        "the token from before the restart"
    );
    let reply = second.login("ada", "ada's password").await;
    assert_eq!(reply.status, StatusCode::OK, "login after the restart");
    let reply = second.register("bob", "bob's password").await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::CREATED, json!({ "id": 2, "username": "bob" })),
        "ids go on where they stopped"
    );
    let reply = second.register("ada", "again").await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "ada is still taken");
}

#[tokio::test]
async fn tokens_interoperate_with_the_flask_original() {
    let dir = TempDir::new();
    let server = Server::start(Some(SECRET), &dir.database_url()).await;
    assert_eq!(
        server.register("ada", "ada's password").await.status,
        StatusCode::CREATED
    );

    // What the Flask original's `encode_token` (PyJWT) writes: HS256, exactly these claims.
    let now = unix_now();
    let flask_token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({ "exp": now + 600, "iat": now, "user_id": "1" }),
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    let reply = server
        .get("/me", Some(&format!("Bearer {flask_token}")))
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::OK, json!({ "id": 1, "username": "ada" }))
    );

    // And the other way: the server's token is what PyJWT (here jsonwebtoken) expects.
    let token = server.login_token("ada", "ada's password").await;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "iat"]);
    let decoded = jsonwebtoken::decode::<Value>(
        &token,
        &DecodingKey::from_secret(SECRET.as_bytes()).unwrap(),
        &validation,
    )
    .expect("jsonwebtoken accepts the server's token");
    let claims = decoded.claims;
    let iat = claims["iat"].as_u64().expect("iat is a number");
    assert!(iat.abs_diff(now) < 60, "iat {iat} is now ({now})");
    // The original's claims, plus `type` and a random `jti` (128 bits, base64url) for revocation,
    // which PyJWT ignores.
    let jti = claims["jti"].as_str().expect("a jti").to_owned();
    assert_eq!(jti.len(), 22, "{jti}");
    assert_eq!(
        claims,
        json!({ "exp": iat + 3600, "iat": iat, "user_id": "1", "type": "access", "jti": jti })
    );
}

#[tokio::test]
async fn a_secret_key_under_32_bytes_stops_the_server() {
    let dir = TempDir::new();
    let short = "ten bytes!";
    assert_eq!(short.len(), 10);
    let mut server = Server::spawn(Some(short), &dir.database_url());
    let status = server.wait_exit();
    assert!(!status.success(), "exit status {status}");
    let (stdout, stderr) = server.output();
    let output = format!("{stdout}{stderr}");
    assert!(
        stderr.contains("SECRET_KEY") && stderr.contains("at least 32 bytes"),
        "stderr: {stderr}"
    );
    assert!(!output.contains(short), "the secret was printed: {output}");
    assert!(
        !dir.path().join("users.db").exists(),
        "the database was created by a server that could not start"
    );
}

#[tokio::test]
async fn request_log_has_method_path_status_and_never_the_token() {
    let dir = TempDir::new();
    let mut server = Server::start(Some(SECRET), &dir.database_url()).await;
    let password = "ada's password";
    assert_eq!(
        server.register("ada", password).await.status,
        StatusCode::CREATED
    );
    let token = server.login_token("ada", password).await;
    assert_eq!(
        server
            .get("/me", Some(&format!("Bearer {token}")))
            .await
            .status,
        StatusCode::OK
    );
    let reply = server.get(&format!("/me?token={token}"), None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // Four requests after the health checks of the start, one line each.
    let requests = |lines: &[String]| -> Vec<(String, String, String)> {
        lines
            .iter()
            .filter_map(|line| request_line(line))
            .filter(|(_, path, _)| *path != "/health")
            .map(|(method, path, status)| (method.to_owned(), path.to_owned(), status.to_owned()))
            .collect()
    };
    let lines = server
        .wait_for_log(|lines| requests(lines).len() >= 4)
        .await;
    for line in &lines {
        assert!(!line.contains(&token), "the token was logged: {line}");
        assert!(!line.contains(SECRET), "the secret was logged: {line}");
        assert!(!line.contains(password), "a password was logged: {line}");
    }
    for (_, path, _) in requests(&lines) {
        assert!(!path.contains('?'), "a query string was logged: {path}");
    }
    let want = [
        ("POST", "/register", "201"),
        ("POST", "/login", "200"),
        ("GET", "/me", "200"),
        ("GET", "/me", "401"),
    ]
    .map(|(m, p, s)| (m.to_owned(), p.to_owned(), s.to_owned()));
    assert_eq!(requests(&lines), want, "{lines:#?}");
    let (stdout, _) = server.output();
    assert!(
        !stdout.contains(&token) && !stdout.contains(SECRET),
        "stdout: {stdout}"
    );
}

#[tokio::test]
async fn an_unknown_username_takes_as_long_as_a_wrong_password() {
    let dir = TempDir::new();
    let server = Server::start(Some(SECRET), &dir.database_url()).await;
    assert_eq!(
        server.register("ada", "ada's password").await.status,
        StatusCode::CREATED
    );

    // The fastest of three, to be robust against a busy machine. Without the dummy hash an
    // unknown username answers in about a millisecond, a wrong password in tens (release) or
    // hundreds (debug) of milliseconds.
    let mut wrong_password = Duration::MAX;
    let mut unknown_user = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let reply = server.login("ada", "not ada's password").await;
        wrong_password = wrong_password.min(start.elapsed());
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

        let start = Instant::now();
        let reply = server.login("nobody", "not ada's password").await;
        unknown_user = unknown_user.min(start.elapsed());
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    assert!(
        unknown_user * 3 > wrong_password,
        "unknown username {unknown_user:?}, wrong password {wrong_password:?}"
    );
}

#[tokio::test]
async fn without_secret_key_tokens_do_not_survive_a_restart() {
    let dir = TempDir::new();
    let first = Server::start(None, &dir.database_url()).await;
    let warning = first
        .wait_for_log(|lines| {
            lines
                .iter()
                .any(|l| l.starts_with("warning: SECRET_KEY is not set"))
        })
        .await;
    assert!(
        warning
            .iter()
            .any(|l| l.contains("will NOT survive a restart")),
        "{warning:?}"
    );
    assert_eq!(
        first.register("ada", "ada's password").await.status,
        StatusCode::CREATED
    );
    let token = first.login_token("ada", "ada's password").await;
    assert_eq!(
        first
            .get("/me", Some(&format!("Bearer {token}")))
            .await
            .status,
        StatusCode::OK
    );
    assert!(first.stop().success());

    let second = Server::start(None, &dir.database_url()).await;
    let reply = second.get("/me", Some(&format!("Bearer {token}"))).await;
    assert_eq!(
        (reply.status, reply.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({ "status": 401, "message": INVALID_TOKEN })
        ),
        "a new random secret refuses the old token"
    );
    let reply = second.login("ada", "ada's password").await;
    assert_eq!(reply.status, StatusCode::OK, "the user is still there");
}

#[tokio::test]
async fn refresh_exchanges_a_refresh_token_once_for_a_new_pair() {
    let dir = TempDir::new();
    let server = Server::start(Some(SECRET), &dir.database_url()).await;
    assert_eq!(
        server.register("ada", "ada's password").await.status,
        StatusCode::CREATED
    );
    let (access, refresh) = server.login_pair("ada", "ada's password").await;
    let ada = (StatusCode::OK, json!({ "id": 1, "username": "ada" }));

    // Each token only where it belongs.
    let reply = server.get("/me", Some(&bearer(&refresh))).await;
    assert_eq!(
        (reply.status, reply.body),
        error(StatusCode::UNAUTHORIZED, INVALID_TOKEN),
        "a refresh token on /me"
    );
    let reply = server.post("/refresh", Some(&bearer(&access))).await;
    assert_eq!(
        (reply.status, reply.body),
        error(StatusCode::UNAUTHORIZED, INVALID_TOKEN),
        "an access token on /refresh"
    );
    let reply = server.post("/refresh", None).await;
    assert_eq!(
        (reply.status, reply.body),
        error(StatusCode::UNAUTHORIZED, NEED_LOGIN),
        "/refresh without a token"
    );

    // A refresh answers a new pair, in the shape of /login's answer.
    let reply = server.post("/refresh", Some(&bearer(&refresh))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers[CACHE_CONTROL], "no-store");
    let (new_access, new_refresh) = tokens(&reply);
    assert_eq!(
        reply.body,
        json!({
            "token": new_access,
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": new_refresh,
            "refresh_expires_in": 30 * 24 * 3600,
        })
    );
    assert_ne!(new_access, access);
    assert_ne!(new_refresh, refresh);
    let reply = server.get("/me", Some(&bearer(&new_access))).await;
    assert_eq!((reply.status, reply.body), ada, "the new access token");
    let reply = server.get("/me", Some(&bearer(&access))).await;
    assert_eq!(
        (reply.status, reply.body),
        ada,
        "the old access token lives on until it expires"
    );

    // Rotation: the spent refresh token is revoked; the new one works, once.
    let reply = server.post("/refresh", Some(&bearer(&refresh))).await;
    assert_eq!(
        (reply.status, reply.body),
        error(StatusCode::UNAUTHORIZED, REVOKED_TOKEN),
        "the spent refresh token"
    );
    let reply = server.post("/refresh", Some(&bearer(&new_refresh))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = server.post("/refresh", Some(&bearer(&new_refresh))).await;
    assert_eq!(
        (reply.status, reply.body),
        error(StatusCode::UNAUTHORIZED, REVOKED_TOKEN),
        "the second spent refresh token"
    );

    // A refresh token for a user who does not exist (same secret) is refused by the loader.
    let stranger = LoginManager::new(SECRET)
        .unwrap()
        .issue_token_pair("999")
        .unwrap();
    let reply = server
        .post("/refresh", Some(&bearer(&stranger.refresh_token)))
        .await;
    assert_eq!(
        (reply.status, reply.body),
        error(StatusCode::UNAUTHORIZED, USER_NOT_FOUND)
    );
}

#[tokio::test]
async fn logout_revokes_the_access_token_at_once() {
    let dir = TempDir::new();
    let server = Server::start(Some(SECRET), &dir.database_url()).await;
    assert_eq!(
        server.register("ada", "ada's password").await.status,
        StatusCode::CREATED
    );
    let (access, refresh) = server.login_pair("ada", "ada's password").await;
    let (other_access, _) = server.login_pair("ada", "ada's password").await;

    let reply = server.post("/logout", None).await;
    assert_eq!(
        (reply.status, reply.body),
        error(StatusCode::UNAUTHORIZED, NEED_LOGIN),
        "logout needs a token"
    );
    let reply = server.post("/logout", Some(&bearer(&refresh))).await;
    assert_eq!(
        (reply.status, reply.body),
        error(StatusCode::UNAUTHORIZED, INVALID_TOKEN),
        "logout takes the access token"
    );

    let reply = server.post("/logout", Some(&bearer(&access))).await;
    assert_eq!(
        (reply.status, reply.body),
        (
            StatusCode::OK,
            json!({ "status": 200, "message": "Logged out" })
        )
    );
    for path in ["/me", "/logout"] {
        let reply = server
            .request(
                if path == "/me" {
                    Method::GET
                } else {
                    Method::POST
                },
                path,
                None,
                Some(&bearer(&access)),
                "",
            )
            .await;
        assert_eq!(
            (reply.status, reply.body),
            error(StatusCode::UNAUTHORIZED, REVOKED_TOKEN),
            "{path} after logout"
        );
    }

    // Only that token: the user's other session goes on.
    let reply = server.get("/me", Some(&bearer(&other_access))).await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::OK, json!({ "id": 1, "username": "ada" }))
    );

    // A token without a jti (the Flask original's claims) is accepted but cannot be revoked.
    let now = unix_now();
    let flask_token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({ "exp": now + 600, "iat": now, "user_id": "1" }),
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    let reply = server.post("/logout", Some(&bearer(&flask_token))).await;
    assert_eq!(
        (reply.status, reply.body),
        error(
            StatusCode::BAD_REQUEST,
            "This token has no id (jti) and cannot be revoked"
        )
    );
}

/// In memory, revocations die with the process (the scale-out test covers Redis).
#[tokio::test]
async fn in_memory_revocations_do_not_survive_a_restart() {
    let dir = TempDir::new();
    let first = Server::start(Some(SECRET), &dir.database_url()).await;
    assert_eq!(
        first.register("ada", "ada's password").await.status,
        StatusCode::CREATED
    );
    let (access, _) = first.login_pair("ada", "ada's password").await;
    assert_eq!(
        first.post("/logout", Some(&bearer(&access))).await.status,
        StatusCode::OK
    );
    assert!(first.stop().success());
    let second = Server::start(Some(SECRET), &dir.database_url()).await;
    let reply = second.get("/me", Some(&bearer(&access))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[cfg(not(feature = "redis"))]
#[tokio::test]
async fn redis_url_without_the_redis_feature_stops_the_server() {
    let dir = TempDir::new();
    let mut server = Server::spawn_with(
        Some(SECRET),
        &dir.database_url(),
        &[("REDIS_URL", "redis://127.0.0.1:6379")],
    );
    let status = server.wait_exit();
    assert!(!status.success(), "exit status {status}");
    let (_, stderr) = server.output();
    assert!(
        stderr.contains("REDIS_URL is set") && stderr.contains("--features redis"),
        "stderr: {stderr}"
    );
}

/// REDIS_URL naming a Redis that is down: the server starts all the same, protected routes answer
/// 503 quickly (never 401, never a pass), and the rest works.
#[cfg(feature = "redis")]
#[tokio::test]
async fn a_redis_that_is_down_gives_503_on_protected_routes() {
    let dir = TempDir::new();
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().unwrap().port()
    };
    let redis_url = format!("redis://127.0.0.1:{port}");
    let server = Server::start_with(
        Some(SECRET),
        &dir.database_url(),
        &[("REDIS_URL", &redis_url)],
    )
    .await;
    let reply = server.register("ada", "ada's password").await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let (access, refresh) = server.login_pair("ada", "ada's password").await;
    for (method, path, token) in [
        (Method::GET, "/me", &access),
        (Method::POST, "/logout", &access),
        (Method::POST, "/refresh", &refresh),
    ] {
        let start = Instant::now();
        let reply = server
            .request(method, path, None, Some(&bearer(token)), "")
            .await;
        assert_eq!(
            (reply.status, reply.body),
            error(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
            "{path}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{path} took {:?}",
            start.elapsed()
        );
    }
    let lines = server
        .wait_for_log(|lines| lines.iter().any(|l| l.contains("revocation failed")))
        .await;
    for line in &lines {
        assert!(!line.contains(&access), "the token was logged: {line}");
    }
}

// ---------------------------------------------------------------------------------------------
// The harness.

/// The example binary, built once per test run with the features this test was built with (so
/// that the library is not compiled a second time, and `--features redis` reaches the example).
fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        // This test is target/<profile>/deps/server-<hash>.
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary is in target/<profile>/deps");

        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "--example", "server"])
            .args(["--message-format", "json-render-diagnostics"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        let features: Vec<&str> = [
            ("axum", cfg!(feature = "axum")),
            ("tracing", cfg!(feature = "tracing")),
            ("redis", cfg!(feature = "redis")),
        ]
        .into_iter()
        .filter_map(|(name, on)| on.then_some(name))
        .collect();
        if !features.is_empty() {
            build.args(["--features", &features.join(",")]);
        }
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
            "cargo build --example server failed:\n{}",
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

/// A scratch directory for one test's database, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "tower-login-manager-server-test-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the scratch directory");
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn database_url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.join("users.db").display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The lines a pipe has delivered so far, and the thread reading it.
struct Captured {
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl Captured {
    fn new(pipe: impl Read + Send + 'static) -> Self {
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

    fn snapshot(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Everything, once the process has exited (the pipe is then closed).
    fn join(&mut self) -> String {
        if let Some(reader) = self.reader.take() {
            reader.join().expect("the pipe reader");
        }
        self.snapshot().join("\n")
    }
}

/// A running example server; killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    stdout: Captured,
    stderr: Captured,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// An answer: status, headers, and the body, which must be JSON.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Server {
    /// Starts the server and waits until `/health` answers.
    async fn start(secret: Option<&str>, database_url: &str) -> Self {
        Self::start_with(secret, database_url, &[]).await
    }

    /// [`Server::start`] with more environment variables.
    async fn start_with(secret: Option<&str>, database_url: &str, env: &[(&str, &str)]) -> Self {
        let mut server = Self::spawn_with(secret, database_url, env);
        server.wait_healthy().await;
        server
    }

    /// Starts the server on a free loopback port, without waiting for it.
    fn spawn(secret: Option<&str>, database_url: &str) -> Self {
        Self::spawn_with(secret, database_url, &[])
    }

    /// [`Server::spawn`] with more environment variables.
    fn spawn_with(secret: Option<&str>, database_url: &str, env: &[(&str, &str)]) -> Self {
        let addr = {
            let probe = TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().unwrap()
        };
        let mut command = Command::new(server_binary());
        command
            .env("HOST", "127.0.0.1")
            .env("PORT", addr.port().to_string())
            .env("DATABASE_URL", database_url)
            .env_remove("REDIS_URL")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match secret {
            Some(secret) => command.env("SECRET_KEY", secret),
            None => command.env_remove("SECRET_KEY"),
        };
        let mut child = command.spawn().expect("start the example server");
        let stdout = Captured::new(child.stdout.take().unwrap());
        let stderr = Captured::new(child.stderr.take().unwrap());
        Self {
            child,
            addr,
            stdout,
            stderr,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let (_, stderr) = self.output();
                panic!("the server exited ({status}) before it was up:\n{stderr}");
            }
            let req = Request::get(format!("http://{}/health", self.addr))
                .body(Full::default())
                .unwrap();
            if let Ok(Ok(res)) = tokio::time::timeout(POLL * 20, self.client.request(req)).await
                && res.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no answer from /health within {STARTUP_TIMEOUT:?}:\n{}",
                self.stderr.snapshot().join("\n")
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits (bounded) for the process to exit.
    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit within {EXIT_TIMEOUT:?}"
            );
            std::thread::sleep(POLL);
        }
    }

    /// Asks the server to stop as `docker stop` would (SIGTERM; a kill elsewhere) and waits.
    fn stop(mut self) -> ExitStatus {
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

    /// Stdout and stderr, complete; for a process that has exited.
    fn output(&mut self) -> (String, String) {
        if self.child.try_wait().unwrap().is_none() {
            return (
                self.stdout.snapshot().join("\n"),
                self.stderr.snapshot().join("\n"),
            );
        }
        (self.stdout.join(), self.stderr.join())
    }

    /// Polls (bounded) until the stderr lines so far satisfy `done`, and returns them.
    async fn wait_for_log(&self, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            let lines = self.stderr.snapshot();
            if done(&lines) {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "the log never showed what was expected:\n{}",
                lines.join("\n")
            );
            tokio::time::sleep(POLL).await;
        }
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &str,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("http://{}{path}", self.addr));
        if let Some(content_type) = content_type {
            req = req.header(CONTENT_TYPE, content_type);
        }
        if let Some(authorization) = authorization {
            req = req.header("authorization", authorization);
        }
        let req = req.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
        let res = tokio::time::timeout(REQUEST_TIMEOUT, self.client.request(req))
            .await
            .unwrap_or_else(|_| panic!("{method} {path}: no answer within {REQUEST_TIMEOUT:?}"))
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"));
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.expect("the response body").to_bytes();
        assert_eq!(
            parts.headers.get(CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(&b"application/json"[..]),
            "{method} {path}: content type"
        );
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "{method} {path}: the body is not JSON: {:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    async fn get(&self, path: &str, authorization: Option<&str>) -> Reply {
        self.request(Method::GET, path, None, authorization, "")
            .await
    }

    async fn post_credentials(&self, path: &str, username: &str, password: &str) -> Reply {
        let body = json!({ "username": username, "password": password }).to_string();
        self.request(Method::POST, path, Some("application/json"), None, &body)
            .await
    }

    async fn register(&self, username: &str, password: &str) -> Reply {
        self.post_credentials("/register", username, password).await
    }

    async fn login(&self, username: &str, password: &str) -> Reply {
        self.post_credentials("/login", username, password).await
    }

    async fn post(&self, path: &str, authorization: Option<&str>) -> Reply {
        self.request(Method::POST, path, None, authorization, "")
            .await
    }

    /// Logs in and returns the access and the refresh token.
    async fn login_pair(&self, username: &str, password: &str) -> (String, String) {
        let reply = self.login(username, password).await;
        assert_eq!(reply.status, StatusCode::OK, "login: {}", reply.body);
        tokens(&reply)
    }

    async fn login_token(&self, username: &str, password: &str) -> String {
        let reply = self.login(username, password).await;
        assert_eq!(reply.status, StatusCode::OK, "login: {}", reply.body);
        reply.body["token"].as_str().expect("a token").to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `("GET", "/me", "200")` from a request log line `GET /me 200 0.4ms`; `None` for other lines.
fn request_line(line: &str) -> Option<(&str, &str, &str)> {
    let mut words = line.split(' ');
    let (method, path, status, latency) =
        (words.next()?, words.next()?, words.next()?, words.next()?);
    let millis = latency.strip_suffix("ms")?;
    let well_formed = words.next().is_none()
        && method.chars().all(|c| c.is_ascii_uppercase())
        && path.starts_with('/')
        && status.len() == 3
        && status.chars().all(|c| c.is_ascii_digit())
        && millis.parse::<f64>().is_ok();
    well_formed.then_some((method, path, status))
}

/// The access and refresh token of a `/login` or `/refresh` answer.
fn tokens(reply: &Reply) -> (String, String) {
    let token = |name: &str| {
        reply.body[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {}", reply.body))
            .to_owned()
    };
    (token("token"), token("refresh_token"))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The JSON error body of the login layer and the routes.
fn error(status: StatusCode, message: &str) -> (StatusCode, Value) {
    (
        status,
        json!({ "status": status.as_u16(), "message": message }),
    )
}

/// The `index`th dot-separated segment of a compact JWS.
fn segment(token: &str, index: usize) -> &str {
    token.split('.').nth(index).expect("three segments")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
