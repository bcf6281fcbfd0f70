//! The README's "What the client sees" table, held to the layer: each row's situation is sent,
//! over HTTP and over gRPC, through a real `LoginLayer`, and the answer's status, JSON body,
//! `WWW-Authenticate` challenge and `grpc-status` must be the row's. A row this test cannot send,
//! or a situation it knows that the table lacks, fails the test.

mod support;

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::io;
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::json;
use tower::util::ServiceFn;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use tower_login_manager::{
    LoginLayer, LoginManager, MemoryRevocations, RequireLayer, Revocation, Revocations, SigningKey,
    TokenLocation, TokenVerifier,
};

use support::{Answer, NOW, SECRET};

const README: &str = include_str!("../README.md");

/// One row of the table.
#[derive(Clone, Debug)]
struct Row {
    situation: String,
    status: u16,
    message: String,
    /// `None` for "none".
    challenge: Option<String>,
    grpc: String,
}

/// The rows of the table under `## What the client sees`.
fn table() -> Vec<Row> {
    let section = README
        .split("\n## What the client sees\n")
        .nth(1)
        .expect("README.md has a section \"## What the client sees\"");
    let section = section.split("\n## ").next().unwrap();
    let mut lines = section.lines().filter(|line| line.starts_with('|'));
    let header = lines.next().expect("the section holds a table");
    assert_eq!(
        cells(header),
        [
            "situation",
            "HTTP",
            "message",
            "`WWW-Authenticate`",
            "gRPC status"
        ],
        "the table's columns"
    );
    lines
        .skip(1) // |---|---|
        .map(|line| {
            let [situation, status, message, challenge, grpc] =
                <[String; 5]>::try_from(cells(line))
                    .unwrap_or_else(|c| panic!("a row of five cells, not {c:?}"));
            let challenge = match challenge.as_str() {
                "none" => None,
                quoted => Some(
                    quoted
                        .strip_prefix('`')
                        .and_then(|c| c.strip_suffix('`'))
                        .unwrap_or_else(|| panic!("a challenge in backticks, or none: {quoted}"))
                        .to_owned(),
                ),
            };
            Row {
                status: status
                    .parse()
                    .unwrap_or_else(|_| panic!("a status: {status}")),
                situation,
                message,
                challenge,
                grpc,
            }
        })
        .collect()
}

fn cells(line: &str) -> Vec<String> {
    let inner = line
        .trim()
        .strip_prefix('|')
        .and_then(|l| l.strip_suffix('|'));
    inner
        .expect("a table row starts and ends with |")
        .split('|')
        .map(|cell| cell.trim().to_owned())
        .collect()
}

// The situations this test knows how to send, as the table names them.
const NO_TOKEN: &str = "no token (no `Authorization` header, another scheme, `Bearer` alone)";
const TWO: &str = "two `Authorization` headers, or two cookies of the token's name";
const CROSS_ORIGIN: &str = "a token from a cookie on a cross-origin `POST` or WebSocket handshake";
const INVALID: &str = "invalid token";
const EXPIRED: &str = "expired token";
const NO_USER: &str = "no such user (the loader answers `None`)";
const LOADER_FAILS: &str = "the loader fails (database down)";
const REVOKED: &str = "revoked token (with a revocation store)";
const STORE_DOWN: &str = "the revocation store cannot be asked, or no JWK Set fetched yet";
const NO_SCOPE: &str =
    "logged in, without a scope the route's `RequireLayer::scopes([\"admin\"])` needs";
const NO_LOGIN_LAYER: &str =
    "a `RequireLayer` with no `LoginLayer` in front (a mistake: logged, never a pass)";
const KNOWN: [&str; 11] = [
    NO_TOKEN,
    TWO,
    CROSS_ORIGIN,
    INVALID,
    EXPIRED,
    NO_USER,
    LOADER_FAILS,
    REVOKED,
    STORE_DOWN,
    NO_SCOPE,
    NO_LOGIN_LAYER,
];

type Inner =
    ServiceFn<fn(Request<Full<Bytes>>) -> Ready<Result<Response<Full<Bytes>>, Infallible>>>;

/// The protected service: anything that reaches it answers 200 "inner".
fn inner() -> Inner {
    fn ok(_: Request<Full<Bytes>>) -> Ready<Result<Response<Full<Bytes>>, Infallible>> {
        ready(Ok(Response::new(Full::from("inner"))))
    }
    service_fn(ok as fn(_) -> _)
}

/// `req` through `layer` in front of [`inner`].
async fn send<L, B>(layer: &L, req: Request<Full<Bytes>>) -> Answer
where
    L: Layer<Inner>,
    L::Service: Service<Request<Full<Bytes>>, Response = Response<B>, Error = Infallible>,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    support::read(layer.layer(inner()).oneshot(req).await.unwrap()).await
}

/// The manager of every case: the test secret, time pinned at `NOW`.
fn manager() -> LoginManager {
    LoginManager::builder(SECRET).clock(|| NOW).build().unwrap()
}

/// Knows user "1", fails for "down" (the database is down), knows nobody else.
fn layer() -> LoginLayer<support::InMemory> {
    let loader = support::in_memory::loader("1").fails("down", "database is down");
    LoginLayer::new(manager(), loader)
}

/// The layer reading the header, then the cookie `access_token`.
fn cookie_layer() -> LoginLayer<support::InMemory> {
    layer().token_locations([
        TokenLocation::Header,
        TokenLocation::Cookie("access_token".into()),
    ])
}

fn token(user_id: &str) -> String {
    manager()
        .issue_token(user_id, Duration::from_secs(3600))
        .unwrap()
}

/// A revocation store that cannot be reached.
#[derive(Clone)]
struct Down;

impl Revocations for Down {
    type Error = io::Error;
    type CheckFuture = Ready<Result<bool, io::Error>>;
    type RevokeFuture = Ready<Result<bool, io::Error>>;
    fn is_revoked(&self, _: &Revocation<'_>) -> Self::CheckFuture {
        ready(Err(io::Error::other("connection refused")))
    }
    fn revoke(&self, _: Revocation<'_>) -> Self::RevokeFuture {
        ready(Err(io::Error::other("connection refused")))
    }
    fn revoke_session(&self, token: Revocation<'_>) -> Self::RevokeFuture {
        self.revoke(token)
    }
    fn revoke_user(&self, token: Revocation<'_>) -> Self::RevokeFuture {
        self.revoke(token)
    }
}

/// Each request that puts the layer in `situation`, with what it is; `None` for a situation this
/// test does not know. gRPC requests are `POST`s with `content-type: application/grpc`.
async fn answers(situation: &str, grpc: bool) -> Option<Vec<(&'static str, Answer)>> {
    let request = |method: &str| {
        let builder = Request::builder().method(method).uri("/");
        if grpc {
            builder
                .method("POST")
                .header(CONTENT_TYPE, "application/grpc")
        } else {
            builder
        }
    };
    let get = || request("GET");
    let bearer = |token: &str| get().header(AUTHORIZATION, format!("Bearer {token}"));
    let body = |builder: http::request::Builder| builder.body(Full::default()).unwrap();
    Some(match situation {
        NO_TOKEN => vec![
            ("no header", send(&layer(), body(get())).await),
            (
                "Basic",
                send(
                    &layer(),
                    body(get().header(AUTHORIZATION, "Basic YWRhOnB3")),
                )
                .await,
            ),
            (
                "Bearer alone",
                send(&layer(), body(get().header(AUTHORIZATION, "Bearer"))).await,
            ),
        ],
        TWO => {
            let token = token("1");
            let two_headers = bearer(&token).header(AUTHORIZATION, format!("Bearer {token}"));
            let two_cookies = get().header(
                COOKIE,
                format!("access_token={token}; access_token={token}"),
            );
            vec![
                ("two headers", send(&layer(), body(two_headers)).await),
                (
                    "two cookies",
                    send(&cookie_layer(), body(two_cookies)).await,
                ),
            ]
        }
        CROSS_ORIGIN => {
            let req = request("POST")
                .header(COOKIE, format!("access_token={}", token("1")))
                .header("sec-fetch-site", "cross-site");
            vec![(
                "Sec-Fetch-Site: cross-site",
                send(&cookie_layer(), body(req)).await,
            )]
        }
        INVALID => {
            let other = LoginManager::new("another secret, also thirty-two bytes long")
                .unwrap()
                .issue_token("1", Duration::from_secs(3600))
                .unwrap();
            // A service holding only the issuer's public key: a key it does not know, and an
            // HS256 token (it holds no secret), are invalid tokens like any other.
            let (known, unknown) = (SigningKey::generate_es256(), SigningKey::generate_es256());
            let public_layer = || {
                let verifier = TokenVerifier::builder()
                    .key(known.verifying_key())
                    .clock(|| NOW)
                    .build()
                    .unwrap();
                LoginLayer::new(verifier, support::in_memory::loader("1"))
            };
            let other_key = LoginManager::builder(SECRET)
                .signing_key(unknown)
                .clock(|| NOW)
                .build()
                .unwrap()
                .issue_token("1", Duration::from_secs(3600))
                .unwrap();
            vec![
                (
                    "not a JWT",
                    send(&layer(), body(bearer("not.a.token"))).await,
                ),
                ("another secret", send(&layer(), body(bearer(&other))).await),
                (
                    "a kid no key has",
                    send(&public_layer(), body(bearer(&other_key))).await,
                ),
                (
                    "HS256 to public keys only",
                    send(&public_layer(), body(bearer(&token("1")))).await,
                ),
            ]
        }
        EXPIRED => {
            let old = LoginManager::builder(SECRET)
                .clock(|| NOW - 7200)
                .build()
                .unwrap()
                .issue_token("1", Duration::from_secs(3600))
                .unwrap();
            vec![("an hour past exp", send(&layer(), body(bearer(&old))).await)]
        }
        NO_USER => vec![("user 2", send(&layer(), body(bearer(&token("2")))).await)],
        LOADER_FAILS => vec![(
            "the loader errs",
            send(&layer(), body(bearer(&token("down")))).await,
        )],
        REVOKED => {
            let store = MemoryRevocations::new();
            let token = manager().issue_token_pair("1").unwrap().access_token;
            let claims = manager().decode_token(&token).unwrap();
            assert_eq!(store.revoke(claims.revocation()).await, Ok(true));
            let layer = layer().revocations(store);
            vec![("logged out", send(&layer, body(bearer(&token))).await)]
        }
        STORE_DOWN => {
            let token = manager().issue_token_pair("1").unwrap().access_token;
            let layer = layer().revocations(Down);
            #[allow(unused_mut)]
            let mut answers = vec![("store down", send(&layer, body(bearer(&token))).await)];
            // A JWK Set from a port nothing listens on: never fetched.
            #[cfg(feature = "jwks-fetch")]
            {
                let port = std::net::TcpListener::bind("127.0.0.1:0")
                    .unwrap()
                    .local_addr()
                    .unwrap()
                    .port();
                let verifier = TokenVerifier::builder()
                    .jwks_url(format!("http://127.0.0.1:{port}/.well-known/jwks.json"))
                    .build()
                    .unwrap();
                let issuer = LoginManager::builder(SECRET)
                    .signing_key(SigningKey::generate_es256())
                    .build()
                    .unwrap();
                let token = issuer.issue_token("1", Duration::from_secs(60)).unwrap();
                let layer = LoginLayer::new(verifier, support::in_memory::loader("1"));
                answers.push(("no JWK Set yet", send(&layer, body(bearer(&token))).await));
            }
            answers
        }
        NO_SCOPE => {
            let require = || RequireLayer::scopes(["admin"]).unwrap();
            let layer = || ServiceBuilder::new().layer(layer()).layer(require());
            let reader = manager().with_claims(&json!({ "scope": "read admin:all" }));
            let reader = reader.unwrap().issue_token("1", Duration::from_secs(60));
            vec![
                (
                    "no scope claim",
                    send(&layer(), body(bearer(&token("1")))).await,
                ),
                (
                    "other scopes",
                    send(&layer(), body(bearer(&reader.unwrap()))).await,
                ),
            ]
        }
        NO_LOGIN_LAYER => {
            let alone = RequireLayer::scopes(["admin"]).unwrap();
            vec![("alone", send(&alone, body(bearer(&token("1")))).await)]
        }
        _ => return None,
    })
}

#[test]
fn the_table_has_one_row_per_situation_the_test_sends() {
    let rows = table();
    for known in KNOWN {
        let n = rows.iter().filter(|row| row.situation == known).count();
        assert_eq!(n, 1, "README.md's table must have one row for {known:?}");
    }
    for row in &rows {
        assert!(
            KNOWN.contains(&row.situation.as_str()),
            "README.md's row {:?} is not sent by tests/answers.rs: add its request there",
            row.situation
        );
    }
}

/// Every row's requests and their answers, each named `situation (variant)`.
async fn sent(grpc: bool) -> Vec<(Row, String, Answer)> {
    let mut sent = Vec::new();
    for row in table() {
        let Some(answers) = answers(&row.situation, grpc).await else {
            panic!("no request for the row {:?}", row.situation)
        };
        for (variant, answer) in answers {
            let case = format!("{} ({variant}, grpc: {grpc})", row.situation);
            sent.push((row.clone(), case, answer));
        }
    }
    sent
}

#[tokio::test]
async fn http_clients_get_the_table_answers() {
    for (row, case, answer) in sent(false).await {
        assert_eq!(answer.status.as_u16(), row.status, "{case}: status");
        let message = serde_json::to_string(&row.message).unwrap();
        let body = format!(r#"{{"status":{},"message":{message}}}"#, row.status);
        assert_eq!(answer.body, body, "{case}: body");
        assert_eq!(answer.headers[CONTENT_TYPE], "application/json", "{case}");
        let challenge = answer.headers.get(WWW_AUTHENTICATE);
        let challenge = challenge.map(|value| value.to_str().unwrap());
        assert_eq!(
            challenge,
            row.challenge.as_deref(),
            "{case}: WWW-Authenticate"
        );
        assert_eq!(answer.headers.get("grpc-status"), None, "{case}");
    }
}

#[tokio::test]
async fn grpc_clients_get_the_table_answers() {
    for (row, case, answer) in sent(true).await {
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{case}: gRPC answers are HTTP 200"
        );
        assert_eq!(
            answer.headers["grpc-status"],
            row.grpc.as_str(),
            "{case}: grpc-status"
        );
        assert_eq!(
            answer.headers["grpc-message"],
            row.message.as_str(),
            "{case}"
        );
        assert_eq!(answer.headers[CONTENT_TYPE], "application/grpc", "{case}");
        assert_eq!(answer.headers.get(WWW_AUTHENTICATE), None, "{case}");
        assert!(answer.body.is_empty(), "{case}: trailers-only, no body");
    }
}
