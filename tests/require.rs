//! `RequireLayer` behind `LoginLayer` (issue 24): which tokens a requirement lets through (table
//! tests over the shapes of the `scope` and `roles` claims), its answers (403
//! `insufficient_scope`, RFC 6750 section 3.1; gRPC `PERMISSION_DENIED`), the check over the
//! loaded user and its failure, a requirement without a login layer in front, backpressure, and
//! axum, hyper and tonic over real connections.

mod support;
// The service, its codec and the client call of `examples/tonic`.
#[path = "../examples/tonic/greeter.rs"]
mod greeter;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use serde_json::json;
use tokio_test::{assert_pending, assert_ready_ok};
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use tower_login_manager::{
    Anonymous, Claims, ConfigError, LoginLayer, LoginManager, Rejection, RequireLayer, UserCheck,
};
use tower_test::mock;

use support::fixtures::User;
use support::{Answer, InMemory, NOW, SECRET, sign_claims};

/// Knows user "1" (ada, an admin), "2" (bob), fails for "down".
fn loader() -> InMemory<User> {
    let user = |id: &str, name: &str| User {
        id: id.into(),
        name: name.into(),
    };
    InMemory::new()
        .user("1", user("1", "ada"))
        .user("2", user("2", "bob"))
        .fails("down", "database is down")
}

fn login() -> LoginLayer<InMemory<User>> {
    let manager = LoginManager::builder(SECRET).clock(|| NOW).build().unwrap();
    LoginLayer::new(manager, loader())
}

/// A token for user 1 whose claims are `exp`, `user_id` and `extra`'s members, as written.
fn token_with(extra: &str) -> String {
    let comma = if extra.is_empty() { "" } else { "," };
    sign_claims(&format!(
        r#"{{"exp":{},"user_id":"1"{comma}{extra}}}"#,
        NOW + 3600
    ))
}

/// `req` through `layer` in front of a service answering 200 "inner".
async fn send<L, B>(layer: L, req: Request<Full<Bytes>>) -> Answer
where
    L: Layer<tower::util::BoxCloneService<Request<Full<Bytes>>, Response<Full<Bytes>>, Infallible>>,
    L::Service: Service<Request<Full<Bytes>>, Response = Response<B>, Error = Infallible>,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let inner = tower::util::BoxCloneService::new(service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::from("inner")))
    }));
    support::read(layer.layer(inner).oneshot(req).await.unwrap()).await
}

fn bearer(token: &str) -> Request<Full<Bytes>> {
    Request::get("/")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Full::default())
        .unwrap()
}

fn grpc(token: &str) -> Request<Full<Bytes>> {
    Request::post("/hello.Greeter/SayHello")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(CONTENT_TYPE, "application/grpc")
        .body(Full::default())
        .unwrap()
}

struct Case {
    name: &'static str,
    /// The claims beyond `exp` and `user_id`, as JSON members.
    claims: &'static str,
    allowed: bool,
}

/// Each case's token through the login layer and `require`: 200 "inner" or 403.
async fn run_table(require: RequireLayer, cases: &[Case]) {
    for case in cases {
        let layer = ServiceBuilder::new().layer(login()).layer(require.clone());
        let answer = send(layer, bearer(&token_with(case.claims))).await;
        let want = if case.allowed {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(answer.status, want, "{}: {answer:?}", case.name);
        if case.allowed {
            assert_eq!(answer.body, "inner", "{}", case.name);
        }
    }
}

/// RFC 8693 section 4.2 and RFC 9068 section 2.2.3: `scope` is one JSON string of
/// space-separated scope tokens (RFC 6749 section 3.3), each matched whole and case-sensitively.
#[tokio::test]
async fn rfc8693_section4_2_scope_claim_shapes() {
    #[rustfmt::skip]
    let cases = [
        Case { name: "no claim", claims: "", allowed: false },
        Case { name: "no scope claim, others", claims: r#""name":"ada""#, allowed: false },
        Case { name: "empty claim", claims: r#""scope":"""#, allowed: false },
        Case { name: "wrong type: array", claims: r#""scope":["read","write"]"#, allowed: false },
        Case { name: "wrong type: number", claims: r#""scope":1"#, allowed: false },
        Case { name: "wrong type: null", claims: r#""scope":null"#, allowed: false },
        Case { name: "exactly", claims: r#""scope":"read write""#, allowed: true },
        Case { name: "another order", claims: r#""scope":"write read""#, allowed: true },
        Case { name: "and more", claims: r#""scope":"admin write profile read""#, allowed: true },
        Case { name: "only one of two", claims: r#""scope":"read""#, allowed: false },
        Case { name: "a prefix of a scope", claims: r#""scope":"rea write""#, allowed: false },
        Case { name: "a scope the required is a prefix of", claims: r#""scope":"read:all write""#, allowed: false },
        Case { name: "run together", claims: r#""scope":"readwrite""#, allowed: false },
        Case { name: "duplicates", claims: r#""scope":"read read write write""#, allowed: true },
        Case { name: "duplicates of one", claims: r#""scope":"read read""#, allowed: false },
        Case { name: "case", claims: r#""scope":"READ Write""#, allowed: false },
        Case { name: "escaped (RFC 8259 section 7)", claims: r#""scope":"re\u0061d write""#, allowed: true },
        Case { name: "nested in another claim", claims: r#""ext":{"scope":"read write"}"#, allowed: false },
        Case { name: "after a nested object", claims: r#""ext":{"scope":"x"},"scope":"read write""#, allowed: true },
    ];
    run_table(RequireLayer::scopes(["read", "write"]).unwrap(), &cases).await;
}

/// RFC 9068 section 2.2.3.1: `roles` is an array of strings; every required role must be one
/// of them, matched whole and case-sensitively.
#[tokio::test]
async fn rfc9068_section2_2_3_1_roles_claim_shapes() {
    #[rustfmt::skip]
    let cases = [
        Case { name: "no claim", claims: "", allowed: false },
        Case { name: "empty claim", claims: r#""roles":[]"#, allowed: false },
        Case { name: "wrong type: string", claims: r#""roles":"admin""#, allowed: false },
        Case { name: "wrong type: object", claims: r#""roles":{"admin":true}"#, allowed: false },
        Case { name: "wrong type: not all strings", claims: r#""roles":["admin",1]"#, allowed: false },
        Case { name: "exactly", claims: r#""roles":["admin"]"#, allowed: true },
        Case { name: "another order", claims: r#""roles":["user", "admin"]"#, allowed: true },
        Case { name: "a prefix", claims: r#""roles":["adm"]"#, allowed: false },
        Case { name: "the required is a prefix", claims: r#""roles":["admins"]"#, allowed: false },
        Case { name: "duplicates", claims: r#""roles":["admin","admin"]"#, allowed: true },
        Case { name: "case", claims: r#""roles":["Admin"]"#, allowed: false },
        Case { name: "in another claim", claims: r#""groups":["admin"]"#, allowed: false },
    ];
    run_table(RequireLayer::roles(["admin"]), &cases).await;

    // A claim the application names.
    #[rustfmt::skip]
    let cases = [
        Case { name: "groups", claims: r#""groups":["staff","admin"]"#, allowed: true },
        Case { name: "roles, not groups", claims: r#""roles":["admin"]"#, allowed: false },
    ];
    run_table(RequireLayer::roles_in("groups", ["admin"]), &cases).await;
}

#[tokio::test]
async fn a_predicate_over_the_claims_decides() {
    #[rustfmt::skip]
    let cases = [
        Case { name: "editor", claims: r#""roles":["editor"]"#, allowed: true },
        Case { name: "admin", claims: r#""roles":["admin"]"#, allowed: true },
        Case { name: "neither", claims: r#""roles":["user"]"#, allowed: false },
        Case { name: "no claim", claims: "", allowed: false },
    ];
    #[derive(serde::Deserialize)]
    struct Roles {
        roles: Vec<String>,
    }
    let any_of = RequireLayer::claims(|claims: &Claims| {
        claims
            .extra::<Roles>()
            .is_ok_and(|r| r.roles.iter().any(|r| r == "editor" || r == "admin"))
    });
    run_table(any_of, &cases).await;
}

/// RFC 6750 section 3.1: 403 with `error="insufficient_scope"` and the scopes the route needs;
/// the body as every other answer's; gRPC `PERMISSION_DENIED` (7), trailers-only.
#[tokio::test]
async fn rfc6750_section3_1_insufficient_scope_answer_http_and_grpc() {
    let require = || RequireLayer::scopes(["reports:read", "reports:write"]).unwrap();
    let layer = ServiceBuilder::new().layer(login()).layer(require());
    let answer = send(layer, bearer(&token_with(r#""scope":"reports:read""#))).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.body,
        r#"{"status":403,"message":"Permission denied"}"#
    );
    assert_eq!(answer.headers[CONTENT_TYPE], "application/json");
    assert_eq!(
        answer.headers[WWW_AUTHENTICATE],
        r#"Bearer error="insufficient_scope", scope="reports:read reports:write""#
    );

    let layer = ServiceBuilder::new().layer(login()).layer(require());
    let answer = send(layer, grpc(&token_with(""))).await;
    assert_eq!(answer.status, StatusCode::OK, "gRPC answers are HTTP 200");
    assert_eq!(answer.headers["grpc-status"], "7");
    assert_eq!(answer.headers["grpc-message"], "Permission denied");
    assert_eq!(answer.headers.get(WWW_AUTHENTICATE), None);
    assert_eq!(answer.body, "", "trailers-only");

    // Roles name no scope.
    let layer = ServiceBuilder::new()
        .layer(login())
        .layer(RequireLayer::roles(["admin"]));
    let answer = send(layer, bearer(&token_with(""))).await;
    assert_eq!(
        answer.headers[WWW_AUTHENTICATE],
        r#"Bearer error="insufficient_scope""#
    );
}

#[tokio::test]
async fn the_message_is_configurable_and_reaches_grpc_clients_too() {
    let require = || {
        RequireLayer::roles(["admin"]).message(Rejection::InsufficientScope, "Admins only: 100% é")
    };
    let layer = ServiceBuilder::new().layer(login()).layer(require());
    let answer = send(layer, bearer(&token_with(""))).await;
    assert_eq!(
        answer.body,
        r#"{"status":403,"message":"Admins only: 100% é"}"#
    );
    let layer = ServiceBuilder::new().layer(login()).layer(require());
    let answer = send(layer, grpc(&token_with(""))).await;
    assert_eq!(answer.headers["grpc-message"], "Admins only: 100%25 %C3%A9");
}

#[test]
fn rfc6749_section3_3_a_scope_that_is_not_a_scope_token_is_refused_at_start() {
    for bad in ["", "two words", "quo\"te", "back\\slash", "é"] {
        assert_eq!(
            RequireLayer::scopes(["ok", bad]).err(),
            Some(ConfigError::InvalidScope(bad.into())),
            "{bad:?}"
        );
    }
}

/// The login layer refuses first: a requirement never turns a 401 into a 403.
#[tokio::test]
async fn a_request_the_login_layer_refuses_is_answered_by_it() {
    let layer = ServiceBuilder::new()
        .layer(login())
        .layer(RequireLayer::roles(["admin"]));
    let req = Request::get("/").body(Full::default()).unwrap();
    assert_eq!(send(layer, req).await.status, StatusCode::UNAUTHORIZED);
}

/// No login layer in front: no claims in the extensions. Never a pass: 500, as a gRPC
/// `INTERNAL` for gRPC clients.
#[tokio::test]
async fn without_a_login_layer_in_front_the_answer_is_500_never_a_pass() {
    let answer = send(RequireLayer::roles(["admin"]), bearer(&token_with(""))).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        answer.body,
        r#"{"status":500,"message":"Internal server error"}"#
    );

    // Login after the requirement (the wrong order) is the same mistake.
    let layer = ServiceBuilder::new()
        .layer(RequireLayer::scopes(["read"]).unwrap())
        .layer(login());
    let answer = send(layer, bearer(&token_with(r#""scope":"read""#))).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);

    let layer = RequireLayer::user(|_: &User| async { Ok::<_, Infallible>(true) });
    let answer = send(layer, grpc(&token_with(""))).await;
    assert_eq!(answer.headers["grpc-status"], "13");
}

/// What the login layer lets through without a user: a request it was told to leave unchecked
/// (`skip_if`, CORS preflight by default) goes on, since no login was asked of it; an anonymous
/// one (`Anonymous::NoToken`) gets the login layer's own answer, since the route asks for more
/// than anyone. Neither is a 500: there is a login layer in front.
#[tokio::test]
async fn requests_the_login_layer_passes_without_a_user_are_skipped_or_asked_to_log_in() {
    let preflight = || {
        Request::options("/")
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .body(Full::default())
            .unwrap()
    };
    let no_token = || Request::get("/").body(Full::default()).unwrap();
    let anonymous = || login().anonymous(Anonymous::NoToken);
    let admins = || {
        RequireLayer::user(|user: &User| {
            let admin = user.name == "ada";
            async move { Ok::<_, Infallible>(admin) }
        })
    };

    // CORS preflight, skipped by the login layer: the inner service answers it.
    let scoped = ServiceBuilder::new()
        .layer(login())
        .layer(RequireLayer::scopes(["read"]).unwrap());
    let answer = send(scoped, preflight()).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "inner")
    );
    let checked = ServiceBuilder::new().layer(login()).layer(admins());
    let answer = send(checked, preflight()).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "inner")
    );

    // An anonymous request: 401 "You need to login", with the challenge, as the login layer
    // answers when login is required.
    let want = r#"{"status":401,"message":"You need to login"}"#;
    for answer in [
        send(
            ServiceBuilder::new()
                .layer(anonymous())
                .layer(RequireLayer::roles(["admin"])),
            no_token(),
        )
        .await,
        send(
            ServiceBuilder::new().layer(anonymous()).layer(admins()),
            no_token(),
        )
        .await,
    ] {
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (StatusCode::UNAUTHORIZED, want)
        );
        assert_eq!(answer.headers[WWW_AUTHENTICATE], r#"Bearer realm="api""#);
    }
}

/// The check over the loaded user: `true` passes, `false` is 403, an error is the loader's 500
/// (never a 403), and the error goes to the hook, not to the client.
#[tokio::test]
async fn the_user_check_decides_and_its_failure_is_a_500_never_a_403() {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let hook = errors.clone();
    // Ada is an admin; bob is not; the database is down whenever the checked user is "down".
    let admins = RequireLayer::user(|user: &User| {
        let name = user.name.clone();
        async move {
            match name.as_str() {
                "ada" => Ok(true),
                "down" => Err(io::Error::other("roles table is locked")),
                _ => Ok(false),
            }
        }
    })
    .on_backend_error(move |e| hook.lock().unwrap().push(e.to_string()));
    let loader_for_down = InMemory::new().user(
        "1",
        User {
            id: "1".into(),
            name: "down".into(),
        },
    );

    let layer = ServiceBuilder::new().layer(login()).layer(admins.clone());
    let answer = send(layer, bearer(&token_with(""))).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "inner")
    );

    let bob = sign_claims(&format!(r#"{{"exp":{},"user_id":"2"}}"#, NOW + 3600));
    let layer = ServiceBuilder::new().layer(login()).layer(admins.clone());
    let answer = send(layer, bearer(&bob)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.headers[WWW_AUTHENTICATE],
        r#"Bearer error="insufficient_scope""#
    );

    let manager = LoginManager::builder(SECRET).clock(|| NOW).build().unwrap();
    let down = LoginLayer::new(manager, loader_for_down);
    let layer = ServiceBuilder::new()
        .layer(down.clone())
        .layer(admins.clone());
    let answer = send(layer, bearer(&token_with(""))).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        answer.body,
        r#"{"status":500,"message":"Internal server error"}"#
    );
    let layer = ServiceBuilder::new().layer(down).layer(admins);
    let answer = send(layer, grpc(&token_with(""))).await;
    assert_eq!(answer.headers["grpc-status"], "13");
    assert_eq!(
        *errors.lock().unwrap(),
        ["roles table is locked", "roles table is locked"],
        "the error goes to the hook, never to the client"
    );
}

/// A named `UserCheck` is what `RequireLayer::user` returns: the trait bounds a function that
/// builds the layer.
fn admins() -> RequireLayer<impl UserCheck<User = User>> {
    RequireLayer::user(|user: &User| {
        let admin = user.name == "ada";
        async move { Ok::<_, Infallible>(admin) }
    })
}

/// tower-service, "Be careful when cloning inner services": the user check waits with the
/// instance `poll_ready` readied. A cloned tower-test mock is not ready: calling it would panic.
#[tokio::test]
async fn backpressure_the_user_check_calls_the_readied_instance() {
    let layer = ServiceBuilder::new().layer(login()).layer(admins());
    let (mut svc, mut handle) =
        mock::spawn_layer::<Request<Empty<Bytes>>, Response<Full<Bytes>>, _>(layer);

    handle.allow(0);
    assert_pending!(svc.poll_ready());
    handle.allow(1);
    assert_ready_ok!(svc.poll_ready());
    let req = Request::get("/")
        .header(AUTHORIZATION, format!("Bearer {}", token_with("")))
        .body(Empty::new())
        .unwrap();
    let fut = tokio::spawn(svc.call(req));
    let (req, send) = handle
        .next_request()
        .await
        .expect("the request got through");
    assert_eq!(req.extensions().get::<User>().unwrap().name, "ada");
    send.send_response(Response::new(Full::from("hello")));
    let res = fut.await.unwrap().unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// The scope is written when the token is issued: one call on `with_claims`.
fn manager_with_scope(scope: &str) -> LoginManager {
    LoginManager::new(SECRET)
        .unwrap()
        .with_claims(&json!({ "scope": scope }))
        .unwrap()
}

fn real_token(scope: Option<&str>) -> String {
    let manager = match scope {
        Some(scope) => manager_with_scope(scope),
        None => LoginManager::new(SECRET).unwrap(),
    };
    manager.issue_token("1", Duration::from_secs(60)).unwrap()
}

/// A hyper-util client's GET with a bearer token: status, `WWW-Authenticate`, body.
async fn http_get(
    addr: SocketAddr,
    path: &str,
    token: &str,
) -> (StatusCode, Option<String>, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<Bytes>>();
    let req = Request::get(format!("http://{addr}{path}"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Empty::new())
        .unwrap();
    let res = support::read(client.request(req).await.unwrap()).await;
    let challenge = res.headers.get(WWW_AUTHENTICATE);
    let challenge = challenge.map(|v| v.to_str().unwrap().to_owned());
    (res.status, challenge, res.body)
}

const FORBIDDEN: &str = r#"{"status":403,"message":"Permission denied"}"#;

#[tokio::test]
async fn axum_route_layer_over_a_real_connection() {
    use axum::{Extension, Router, routing::get};

    let app =
        Router::new()
            .route(
                "/reports",
                get(|Extension(user): Extension<User>| async move {
                    format!("reports for {}", user.name)
                }),
            )
            .route_layer(RequireLayer::scopes(["reports:read"]).unwrap())
            .route("/me", get(|| async { "me" }))
            .route_layer(LoginLayer::new(
                LoginManager::new(SECRET).unwrap(),
                loader(),
            ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let reader = real_token(Some("profile reports:read"));
    assert_eq!(
        http_get(addr, "/reports", &reader).await,
        (StatusCode::OK, None, "reports for ada".into())
    );
    let plain = real_token(None);
    assert_eq!(
        http_get(addr, "/reports", &plain).await,
        (
            StatusCode::FORBIDDEN,
            Some(r#"Bearer error="insufficient_scope", scope="reports:read""#.into()),
            FORBIDDEN.into()
        )
    );
    assert_eq!(
        http_get(addr, "/me", &plain).await.0,
        StatusCode::OK,
        "only /reports needs it"
    );
    server.abort();
}

#[tokio::test]
async fn hyper_service_over_a_real_connection() {
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = handled.clone();
    let svc = ServiceBuilder::new()
        .layer(LoginLayer::new(
            LoginManager::new(SECRET).unwrap(),
            loader(),
        ))
        .layer(RequireLayer::scopes(["admin"]).unwrap())
        .service(service_fn(move |_req: Request<hyper::body::Incoming>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, Infallible>(Response::new(Full::from("admin area"))) }
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let svc = hyper_util::service::TowerToHyperService::new(svc.clone());
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc),
            );
        }
    });

    let (status, challenge, body) = http_get(addr, "/", &real_token(Some("read"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        challenge.as_deref(),
        Some(r#"Bearer error="insufficient_scope", scope="admin""#)
    );
    assert_eq!(body, FORBIDDEN);
    assert_eq!(
        handled.load(Ordering::SeqCst),
        0,
        "refused before the handler"
    );

    let (status, _, body) = http_get(addr, "/", &real_token(Some("read admin"))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "admin area"));
    assert_eq!(handled.load(Ordering::SeqCst), 1);
    server.abort();
}

async fn say_hello(req: tonic::Request<String>) -> Result<tonic::Response<String>, tonic::Status> {
    let user = req.extensions().get::<User>().unwrap();
    Ok(tonic::Response::new(format!("hello {}", user.name)))
}

#[tokio::test]
async fn tonic_clients_get_permission_denied_over_a_real_connection() {
    let layer = ServiceBuilder::new()
        .layer(LoginLayer::new(
            LoginManager::new(SECRET).unwrap(),
            loader(),
        ))
        .layer(RequireLayer::scopes(["greet"]).unwrap())
        .into_inner();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .layer(layer)
            .add_service(greeter::Greeter(say_hello))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    let status = greeter::say_hello(&addr, Some(&real_token(Some("read"))))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert_eq!(status.message(), "Permission denied");

    let reply = greeter::say_hello(&addr, Some(&real_token(Some("greet"))))
        .await
        .unwrap();
    assert_eq!(reply.unwrap(), "hello ada");
    server.abort();
}
