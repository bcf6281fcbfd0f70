//! The layer in front of a plain hyper 1 server, over real HTTP/1.1 on a loopback socket:
//! `ServiceBuilder::new().layer(LoginLayer::new(..)).service(..)` adapted with hyper-util's
//! `TowerToHyperService`, called with hyper-util's client.
//!
//! What a client sees: the status, the exact JSON body, `Content-Type` and the RFC 6750
//! `WWW-Authenticate` challenge; and what reached the handler.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceBuilder;
use tower_login_manager::{Claims, LoginLayer, LoginManager};

mod support;

use support::fixtures::{User, expired_token, loader, other_secret_token, token};
use support::{Answer, SECRET};

/// A hyper server on 127.0.0.1:0; the connections' tasks end with the test's runtime.
struct TestServer {
    addr: SocketAddr,
    /// How many requests reached the handler.
    handled: Arc<AtomicUsize>,
    client: Client<HttpConnector, Empty<Bytes>>,
    _tasks: JoinSet<()>,
}

impl TestServer {
    /// The handler says hello to the user the layer loaded. The loader knows user "1" (ada),
    /// fails for "down" and finds nobody else.
    async fn start() -> Self {
        let handled = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&handled);
        let hello = tower::service_fn(move |req: Request<Incoming>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                let user = req
                    .extensions()
                    .get::<User>()
                    .expect("the layer adds the user");
                let claims = req.extensions().get::<Claims>().expect("and the claims");
                let body = format!(
                    "hello {} (user {}, token for {})",
                    user.name,
                    user.id,
                    claims.user_id()
                );
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
            }
        });
        let loader = loader();
        let manager = LoginManager::new(SECRET).unwrap();
        let svc = ServiceBuilder::new()
            .layer(LoginLayer::new(manager, loader))
            .service(hello);

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let svc = TowerToHyperService::new(svc.clone());
                conns.spawn(async move {
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await
                        .unwrap();
                });
            }
        });
        Self {
            addr,
            handled,
            client: Client::builder(TokioExecutor::new()).build_http(),
            _tasks: tasks,
        }
    }

    /// GET / with these `Authorization` headers.
    async fn get(&self, authorization: &[String]) -> Answer {
        let mut req = Request::get(format!("http://{}/", self.addr));
        for value in authorization {
            req = req.header(AUTHORIZATION, value);
        }
        let res = self
            .client
            .request(req.body(Empty::new()).unwrap())
            .await
            .unwrap();
        support::read(res).await
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn valid_token_reaches_the_handler_with_the_user() {
    let server = TestServer::start().await;

    let Answer { status, body, .. } = server.get(&[bearer(&token("1"))]).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "hello ada (user 1, token for 1)");
    assert_eq!(server.handled.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn rejections_are_json_with_an_rfc6750_challenge() {
    struct Case {
        name: &'static str,
        authorization: Vec<String>,
        want_status: StatusCode,
        want_message: &'static str,
        want_challenge: Option<&'static str>,
    }

    let cases = [
        Case {
            name: "no authorization header",
            authorization: vec![],
            want_status: StatusCode::UNAUTHORIZED,
            want_message: "You need to login",
            want_challenge: Some(r#"Bearer realm="api""#),
        },
        Case {
            name: "another scheme",
            authorization: vec!["Basic YWxhZGRpbjpvcGVuc2VzYW1l".into()],
            want_status: StatusCode::UNAUTHORIZED,
            want_message: "You need to login",
            want_challenge: Some(r#"Bearer realm="api""#),
        },
        Case {
            name: "not a JWT",
            authorization: vec![bearer("not-a-token")],
            want_status: StatusCode::UNAUTHORIZED,
            want_message: "Invalid token. Please register or login",
            want_challenge: Some(
                r#"Bearer realm="api", error="invalid_token", error_description="Invalid token. Please register or login""#,
            ),
        },
        Case {
            name: "signed with another secret",
            authorization: vec![bearer(&other_secret_token())],
            want_status: StatusCode::UNAUTHORIZED,
            want_message: "Invalid token. Please register or login",
            want_challenge: Some(
                r#"Bearer realm="api", error="invalid_token", error_description="Invalid token. Please register or login""#,
            ),
        },
        Case {
            name: "expired",
            authorization: vec![bearer(&expired_token())],
            want_status: StatusCode::UNAUTHORIZED,
            want_message: "Expired token. Please login to get a new token",
            want_challenge: Some(
                r#"Bearer realm="api", error="invalid_token", error_description="Expired token. Please login to get a new token""#,
            ),
        },
        Case {
            name: "unknown user",
            authorization: vec![bearer(&token("2"))],
            want_status: StatusCode::UNAUTHORIZED,
            want_message: "User not found. Please register or login",
            want_challenge: Some(
                r#"Bearer realm="api", error="invalid_token", error_description="User not found. Please register or login""#,
            ),
        },
        Case {
            name: "two authorization headers",
            authorization: vec![bearer(&token("1")), bearer(&token("1"))],
            want_status: StatusCode::BAD_REQUEST,
            want_message: "Send exactly one Authorization header",
            want_challenge: Some(
                r#"Bearer realm="api", error="invalid_request", error_description="Send exactly one Authorization header""#,
            ),
        },
        Case {
            name: "loader fails: 500, no challenge, no error text",
            authorization: vec![bearer(&token("down"))],
            want_status: StatusCode::INTERNAL_SERVER_ERROR,
            want_message: "Internal server error",
            want_challenge: None,
        },
    ];

    let server = TestServer::start().await;
    for case in cases {
        let Answer {
            status,
            headers,
            body,
            ..
        } = server.get(&case.authorization).await;

        assert_eq!(status, case.want_status, "{}", case.name);
        assert_eq!(headers[CONTENT_TYPE], "application/json", "{}", case.name);
        assert_eq!(
            headers.get(WWW_AUTHENTICATE).map(|v| v.to_str().unwrap()),
            case.want_challenge,
            "{}",
            case.name
        );
        let want_body = format!(
            r#"{{"status":{},"message":"{}"}}"#,
            case.want_status.as_u16(),
            case.want_message
        );
        assert_eq!(body, want_body, "{}", case.name);
    }
    assert_eq!(
        server.handled.load(Ordering::SeqCst),
        0,
        "no rejected request reaches the handler"
    );
}
