//! The layer's behaviour as a client and the inner service see it: every branch, the exact body,
//! the headers, and what reached the inner service (tower's `tests/<feature>/main.rs` style).

#[path = "../support/mod.rs"]
mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{Empty, Full};
use support::{InMemory, NOW, SECRET, manager, read};
use tokio_test::{assert_pending, assert_ready_ok};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_login_manager::{Claims, LoginLayer, LoginManager, Rejection, UserLoader};
use tower_test::mock;

#[derive(Clone, Debug, PartialEq)]
struct User {
    id: u64,
    name: &'static str,
}

/// Users 1 ("ada") and 2 ("grace"); id "500" makes the store fail. Its future is ready at once.
fn loader() -> InMemory<User> {
    InMemory::new()
        .user("1", User { id: 1, name: "ada" })
        .user(
            "2",
            User {
                id: 2,
                name: "grace",
            },
        )
        .fails("500", "connection refused: db.internal:5432")
}

fn token(user_id: &str) -> String {
    manager()
        .issue_token(user_id, Duration::from_secs(3600))
        .unwrap()
}

fn expired_token(user_id: &str) -> String {
    LoginManager::builder(SECRET)
        .clock(|| NOW - 7200)
        .build()
        .unwrap()
        .issue_token(user_id, Duration::from_secs(3600))
        .unwrap()
}

/// An inner service that answers with the user and user id it saw in the extensions.
fn echo_user(
    req: Request<Empty<Bytes>>,
) -> impl Future<Output = Result<Response<Full<Bytes>>, Infallible>> {
    let user = req.extensions().get::<User>().cloned();
    let claims = req.extensions().get::<Claims>().cloned();
    async move {
        let body = match (user, claims) {
            (Some(u), Some(c)) => format!("{} {} {}", u.id, u.name, c.user_id()),
            _ => "no user".to_owned(),
        };
        Ok(Response::new(Full::new(Bytes::from(body))))
    }
}

async fn send<L: UserLoader<User = User>>(
    loader: L,
    req: Request<Empty<Bytes>>,
) -> (StatusCode, http::HeaderMap, String) {
    let svc = ServiceBuilder::new()
        .layer(LoginLayer::new(manager(), loader))
        .service(service_fn(echo_user));
    let res = read(svc.oneshot(req).await.unwrap()).await;
    (res.status, res.headers, res.body)
}

fn request(authorization: Option<&str>) -> Request<Empty<Bytes>> {
    let mut req = Request::get("/me").body(Empty::new()).unwrap();
    if let Some(a) = authorization {
        req.headers_mut()
            .insert(header::AUTHORIZATION, HeaderValue::from_str(a).unwrap());
    }
    req
}

const LOGIN: &str = r#"{"status":401,"message":"You need to login"}"#;
const INVALID: &str = r#"{"status":401,"message":"Invalid token. Please register or login"}"#;
const EXPIRED: &str =
    r#"{"status":401,"message":"Expired token. Please login to get a new token"}"#;
const NOT_FOUND: &str = r#"{"status":401,"message":"User not found. Please register or login"}"#;
const INTERNAL: &str = r#"{"status":500,"message":"Internal server error"}"#;

struct Case {
    name: &'static str,
    authorization: Option<String>,
    status: StatusCode,
    body: &'static str,
    challenge: Option<&'static str>,
}

#[tokio::test]
async fn every_branch_answers_as_specified() {
    let invalid_challenge = r#"Bearer realm="api", error="invalid_token", error_description="Invalid token. Please register or login""#;
    let cases = [
        Case {
            name: "valid token: the inner service sees user and claims",
            authorization: Some(format!("Bearer {}", token("1"))),
            status: StatusCode::OK,
            body: "1 ada 1",
            challenge: None,
        },
        Case {
            // RFC 6750 section 3.1: no error code when no credentials were sent.
            name: "no header",
            authorization: None,
            status: StatusCode::UNAUTHORIZED,
            body: LOGIN,
            challenge: Some(r#"Bearer realm="api""#),
        },
        Case {
            name: "another scheme",
            authorization: Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l".into()),
            status: StatusCode::UNAUTHORIZED,
            body: LOGIN,
            challenge: Some(r#"Bearer realm="api""#),
        },
        Case {
            name: "Bearer without a token",
            authorization: Some("Bearer".into()),
            status: StatusCode::UNAUTHORIZED,
            body: LOGIN,
            challenge: Some(r#"Bearer realm="api""#),
        },
        Case {
            name: "RFC 6750 section 2.1 / RFC 9110 section 11.1: scheme in lower case, two spaces",
            authorization: Some(format!("bearer  {}", token("2"))),
            status: StatusCode::OK,
            body: "2 grace 2",
            challenge: None,
        },
        Case {
            // RFC 6750 section 3.1: a rejected token gets error="invalid_token".
            name: "garbage token",
            authorization: Some("Bearer not-a-token".into()),
            status: StatusCode::UNAUTHORIZED,
            body: INVALID,
            challenge: Some(invalid_challenge),
        },
        Case {
            name: "tampered signature",
            authorization: Some(format!("Bearer {}", tamper(&token("1")))),
            status: StatusCode::UNAUTHORIZED,
            body: INVALID,
            challenge: Some(invalid_challenge),
        },
        Case {
            name: "token of another secret",
            authorization: Some(format!(
                "Bearer {}",
                LoginManager::builder("another-secret-of-at-least-32-bytes!!")
                    .clock(|| NOW)
                    .build()
                    .unwrap()
                    .issue_token("1", Duration::from_secs(60))
                    .unwrap()
            )),
            status: StatusCode::UNAUTHORIZED,
            body: INVALID,
            challenge: Some(invalid_challenge),
        },
        Case {
            // RFC 7519 section 4.1.4.
            name: "expired token",
            authorization: Some(format!("Bearer {}", expired_token("1"))),
            status: StatusCode::UNAUTHORIZED,
            body: EXPIRED,
            challenge: Some(
                r#"Bearer realm="api", error="invalid_token", error_description="Expired token. Please login to get a new token""#,
            ),
        },
        Case {
            name: "unknown user",
            authorization: Some(format!("Bearer {}", token("3"))),
            status: StatusCode::UNAUTHORIZED,
            body: NOT_FOUND,
            challenge: Some(
                r#"Bearer realm="api", error="invalid_token", error_description="User not found. Please register or login""#,
            ),
        },
        Case {
            name: "loader error: 500, no detail leaked, no challenge",
            authorization: Some(format!("Bearer {}", token("500"))),
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: INTERNAL,
            challenge: None,
        },
    ];
    for case in &cases {
        let req = request(case.authorization.as_deref());
        let (status, headers, body) = send(loader(), req).await;
        let name = case.name;
        assert_eq!(status, case.status, "{name}");
        assert_eq!(body, case.body, "{name}");
        assert_eq!(
            headers
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap()),
            case.challenge,
            "{name}"
        );
        if status != StatusCode::OK {
            assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{name}");
        }
    }
}

fn tamper(token: &str) -> String {
    let mut t = token.to_owned();
    let last = if t.ends_with('A') { "B" } else { "A" };
    t.replace_range(t.len() - 1.., last);
    t
}

#[tokio::test]
async fn rfc6750_section3_1_two_authorization_headers_are_invalid_request() {
    let mut req = request(Some(&format!("Bearer {}", token("1"))));
    req.headers_mut().append(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {}", token("2"))).unwrap(),
    );
    let (status, headers, body) = send(loader(), req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        r#"{"status":400,"message":"Send exactly one Authorization header"}"#
    );
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        r#"Bearer realm="api", error="invalid_request", error_description="Send exactly one Authorization header""#
    );
}

#[tokio::test]
async fn grpc_requests_get_a_trailers_only_unauthenticated_status() {
    for (auth, status, message) in [
        (None, "16", "You need to login"),
        (
            Some(format!("Bearer {}", expired_token("1"))),
            "16",
            "Expired token. Please login to get a new token",
        ),
        (
            Some(format!("Bearer {}", token("500"))),
            "13",
            "Internal server error",
        ),
    ] {
        let mut req = request(auth.as_deref());
        req.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc+proto"),
        );
        let (http_status, headers, body) = send(loader(), req).await;
        assert_eq!(http_status, StatusCode::OK, "{message}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/grpc");
        assert_eq!(headers["grpc-status"], status);
        assert_eq!(headers["grpc-message"], message);
        assert_eq!(body, "", "trailers-only: no body");
        assert!(headers.get(header::WWW_AUTHENTICATE).is_none());
    }
}

#[tokio::test]
async fn loader_errors_reach_the_hook_and_not_the_client() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let hook_seen = seen.clone();
    let layer = LoginLayer::new(manager(), loader())
        .on_backend_error(move |e| hook_seen.lock().unwrap().push(e.to_string()));
    // Twice, through clones of one service: the hook sees every failure.
    let svc = layer.layer_service(service_fn(echo_user));
    for res in [
        svc.clone()
            .oneshot(request(Some(&format!("Bearer {}", token("500")))))
            .await,
        svc.oneshot(request(Some(&format!("Bearer {}", token("500")))))
            .await,
    ] {
        let res = read(res.unwrap()).await;
        assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!res.body.contains("db.internal"));
    }
    assert_eq!(
        *seen.lock().unwrap(),
        ["connection refused: db.internal:5432"; 2]
    );
}

trait LayerExt<S> {
    type Service;
    fn layer_service(&self, inner: S) -> Self::Service;
}

impl<S, L: tower::Layer<S>> LayerExt<S> for L {
    type Service = L::Service;
    fn layer_service(&self, inner: S) -> L::Service {
        self.layer(inner)
    }
}

#[tokio::test]
async fn messages_and_realm_are_configurable() {
    let layer = LoginLayer::new(manager(), loader())
        .message(Rejection::MissingToken, "Log in first")
        .realm("my \"shop\"")
        .unwrap();
    let svc = layer.layer_service(service_fn(echo_user));
    let res = read(svc.oneshot(request(None)).await.unwrap()).await;
    assert_eq!(
        res.headers[header::WWW_AUTHENTICATE],
        r#"Bearer realm="my \"shop\"""#
    );
    assert_eq!(res.body, r#"{"status":401,"message":"Log in first"}"#);
    // RFC 9110 section 5.5: a field value holds no control characters; such a realm is refused
    // when it is set, not sent.
    let refused = LoginLayer::new(manager(), loader()).realm("my\nshop");
    assert_eq!(
        refused.err(),
        Some(tower_login_manager::ConfigError::InvalidRealm)
    );
}

/// tower-service, "Be careful when cloning inner services": the instance `poll_ready` readied is
/// the one `call` uses. A cloned tower-test mock is not ready, so calling a fresh clone would panic.
#[tokio::test]
async fn backpressure_inner_not_ready_means_layer_not_ready_and_readied_instance_is_called() {
    let (mut svc, mut handle) = mock::spawn_layer::<Request<Empty<Bytes>>, Response<Full<Bytes>>, _>(
        LoginLayer::new(manager(), loader()),
    );

    handle.allow(0);
    assert_pending!(svc.poll_ready());

    handle.allow(1);
    assert_ready_ok!(svc.poll_ready());
    let fut = tokio::spawn(svc.call(request(Some(&format!("Bearer {}", token("1"))))));

    let (req, send) = handle
        .next_request()
        .await
        .expect("the request reached the inner service");
    assert_eq!(req.uri(), "/me");
    assert_eq!(
        req.extensions().get::<User>(),
        Some(&User { id: 1, name: "ada" })
    );
    assert_eq!(req.extensions().get::<Claims>().unwrap().user_id(), "1");
    send.send_response(Response::new(Full::new(Bytes::from_static(b"hello"))));

    let res = read(fut.await.unwrap().unwrap()).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, "hello");
}

#[tokio::test]
async fn readied_instances_are_called_under_concurrency() {
    let (mut svc, mut handle) = mock::spawn_layer::<Request<Empty<Bytes>>, Response<Full<Bytes>>, _>(
        LoginLayer::new(manager(), loader()),
    );
    handle.allow(2);
    let mut futures = Vec::new();
    for id in ["1", "2"] {
        assert_ready_ok!(svc.poll_ready());
        futures.push(tokio::spawn(
            svc.call(request(Some(&format!("Bearer {}", token(id))))),
        ));
    }
    for want in [1, 2] {
        let (req, send) = handle.next_request().await.expect("request");
        assert_eq!(req.extensions().get::<User>().unwrap().id, want);
        send.send_response(Response::new(Full::new(Bytes::from(want.to_string()))));
    }
    for (fut, want) in futures.into_iter().zip(["1", "2"]) {
        let res = fut.await.unwrap().unwrap();
        assert_eq!(read(res).await.body, want);
    }
}

#[tokio::test]
async fn rejected_requests_never_reach_the_inner_service() {
    let (mut svc, mut handle) = mock::spawn_layer::<Request<Empty<Bytes>>, Response<Full<Bytes>>, _>(
        LoginLayer::new(manager(), loader()),
    );
    handle.allow(1);
    for auth in [
        None,
        Some("Bearer x.y.z".to_owned()),
        Some(format!("Bearer {}", token("9"))),
    ] {
        assert_ready_ok!(svc.poll_ready());
        let res = svc.call(request(auth.as_deref())).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    assert_pending!(handle.poll_request());
}

// The layer's response future and body are `Send` whenever the inner service's future, the
// request body and the stores are (they are part of every axum, hyper and tonic server's
// `Send` bound): checked when this file compiles.
const _: () = {
    fn assert_send<T: Send>() {}
    #[allow(dead_code)]
    fn response_future_is_send<S, L, R, B>()
    where
        S: tower::Service<Request<B>> + Send,
        S::Future: Send,
        L: UserLoader,
        R: tower_login_manager::Revocations,
        B: Send,
    {
        assert_send::<tower_login_manager::future::ResponseFuture<S, L, R, B>>();
        assert_send::<tower_login_manager::body::ResponseBody<B>>();
    }
};
