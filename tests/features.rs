//! Beyond the original: optional login, skipping, token locations, responders, axum extractors
//! and tracing.

mod support;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{Empty, Full};
use support::{InMemory, NOW, SECRET};
use tower::{ServiceExt, service_fn};
use tower_login_manager::{
    Anonymous, LoginLayer, LoginManager, Rejection, TokenError, TokenLocation, UserLoader,
};

#[derive(Clone, Debug, PartialEq)]
struct User(String);

fn manager_at(now: u64) -> LoginManager {
    LoginManager::builder(SECRET)
        .clock(move || now)
        .build()
        .unwrap()
}

fn loader() -> impl UserLoader<User = User> {
    // Everyone but "404", through the future.
    InMemory::new().others(|id| (id != "404").then(|| User(id.to_owned())))
}

fn token(id: &str) -> String {
    manager_at(NOW)
        .issue_token(id, Duration::from_secs(60))
        .unwrap()
}

fn expired(id: &str) -> String {
    manager_at(NOW - 3600)
        .issue_token(id, Duration::from_secs(60))
        .unwrap()
}

/// Sends `req` through `layer` around a handler that reports the user it saw.
async fn send(
    layer: LoginLayer<impl UserLoader<User = User>>,
    req: Request<Empty<Bytes>>,
) -> (StatusCode, String) {
    let svc = tower::Layer::layer(
        &layer,
        service_fn(|req: Request<Empty<Bytes>>| async move {
            let seen = match req.extensions().get::<User>() {
                Some(User(id)) => format!("user {id}"),
                None => "anonymous".to_owned(),
            };
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(seen))))
        }),
    );
    support::read(svc.oneshot(req).await.unwrap())
        .await
        .status_and_body()
}

fn get(uri: &str, bearer: Option<&str>) -> Request<Empty<Bytes>> {
    let mut b = Request::get(uri);
    if let Some(t) = bearer {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(Empty::new()).unwrap()
}

fn layer() -> LoginLayer<impl UserLoader<User = User>> {
    LoginLayer::new(manager_at(NOW), loader())
}

const LOGIN: &str = r#"{"status":401,"message":"You need to login"}"#;
const INVALID: &str = r#"{"status":401,"message":"Invalid token. Please register or login"}"#;
const EXPIRED: &str =
    r#"{"status":401,"message":"Expired token. Please login to get a new token"}"#;

#[tokio::test]
async fn optional_login_lets_anonymous_requests_through_but_not_bad_tokens() {
    let t = token("1");
    let (e, bad) = (expired("1"), "x.y.z");
    let ok = |s: &str| (StatusCode::OK, s.to_owned());
    let unauthorized = |s: &str| (StatusCode::UNAUTHORIZED, s.to_owned());
    assert_eq!(
        send(layer().anonymous(Anonymous::NoToken), get("/", None)).await,
        ok("anonymous")
    );
    assert_eq!(
        send(layer().anonymous(Anonymous::NoToken), get("/", Some(&t))).await,
        ok("user 1")
    );
    assert_eq!(
        send(layer().anonymous(Anonymous::NoToken), get("/", Some(bad))).await,
        unauthorized(INVALID)
    );
    assert_eq!(
        send(layer().anonymous(Anonymous::NoToken), get("/", Some(&e))).await,
        unauthorized(EXPIRED)
    );
    // The third choice: expired tokens pass as anonymous too; invalid ones still do not.
    let lenient = || layer().anonymous(Anonymous::NoTokenOrExpired);
    assert_eq!(send(lenient(), get("/", None)).await, ok("anonymous"));
    assert_eq!(send(lenient(), get("/", Some(&t))).await, ok("user 1"));
    assert_eq!(send(lenient(), get("/", Some(&e))).await, ok("anonymous"));
    assert_eq!(
        send(lenient(), get("/", Some(bad))).await,
        unauthorized(INVALID)
    );
    // The default: login required, whatever the token.
    for refused in [layer(), layer().anonymous(Anonymous::Refused)] {
        assert_eq!(
            send(refused.clone(), get("/", Some(&e))).await,
            unauthorized(EXPIRED)
        );
        assert_eq!(send(refused, get("/", None)).await, unauthorized(LOGIN));
    }
}

#[tokio::test]
async fn cors_preflight_passes_by_default_and_skipping_is_configurable() {
    let preflight = || {
        Request::options("/orders")
            .header("access-control-request-method", "POST")
            .body(Empty::new())
            .unwrap()
    };
    assert_eq!(
        send(layer(), preflight()).await,
        (StatusCode::OK, "anonymous".into())
    );
    assert_eq!(
        send(layer().skip_if(|_, _, _| false), preflight()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let health = || layer().skip_if(|_, uri, _| uri.path() == "/health");
    assert_eq!(send(health(), get("/health", None)).await.0, StatusCode::OK);
    assert_eq!(
        send(health(), get("/orders", None)).await.0,
        StatusCode::UNAUTHORIZED
    );
    // skip_if replaces the default.
    assert_eq!(
        send(health(), preflight()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let _ = Method::OPTIONS;
}

#[tokio::test]
async fn tokens_are_found_in_the_configured_locations_in_order() {
    let t = token("7");
    let cookie_first = || {
        layer().token_locations([
            TokenLocation::Cookie("access_token".into()),
            TokenLocation::Header,
        ])
    };
    let with_cookie = |value: &str| {
        Request::get("/")
            .header(header::COOKIE, format!("theme=dark; access_token={value}"))
            .body(Empty::new())
            .unwrap()
    };
    assert_eq!(
        send(cookie_first(), with_cookie(&t)).await,
        (StatusCode::OK, "user 7".into())
    );
    assert_eq!(
        send(cookie_first(), get("/", Some(&t))).await,
        (StatusCode::OK, "user 7".into())
    );
    // Only a missing token moves on: a bad cookie is not rescued by a good header.
    let mut both = with_cookie("bad.token.here");
    both.headers_mut().insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
    );
    assert_eq!(send(cookie_first(), both).await.1, INVALID);
    // The default looks at the header only.
    assert_eq!(send(layer(), with_cookie(&t)).await.1, LOGIN);
    // Query parameters only when configured (RFC 6750 section 2.3).
    let uri = format!("/?access_token={t}");
    assert_eq!(send(layer(), get(&uri, None)).await.1, LOGIN);
    let query = layer().token_locations([
        TokenLocation::Header,
        TokenLocation::Query("access_token".into()),
    ]);
    assert_eq!(
        send(query, get(&uri, None)).await,
        (StatusCode::OK, "user 7".into())
    );
}

#[tokio::test]
async fn a_responder_shapes_rejections_but_grpc_stays_automatic() {
    let responder = |r: &Rejection| {
        let body = match r {
            Rejection::InvalidToken(TokenError::BadSignature) => "bad signature".to_owned(),
            other => other.as_str().to_owned(),
        };
        (!matches!(r, Rejection::UserNotFound)).then(|| {
            Response::builder()
                .status(r.status())
                .header(header::CONTENT_TYPE, "text/plain")
                .body(Bytes::from(body))
                .unwrap()
        })
    };
    let custom = || layer().responder(responder);
    let mut tampered = token("1");
    // Another last character (the one popped decides: every token now carries a random jti).
    let last = tampered.pop();
    tampered.push(if last == Some('A') { 'B' } else { 'A' });
    assert_eq!(
        send(custom(), get("/", None)).await,
        (StatusCode::UNAUTHORIZED, "missing_token".into())
    );
    assert_eq!(
        send(custom(), get("/", Some(&expired("1")))).await.1,
        "expired_token"
    );
    // `None` keeps the default answer.
    assert_eq!(
        send(custom(), get("/", Some(&token("404")))).await.1,
        r#"{"status":401,"message":"User not found. Please register or login"}"#
    );
    let mut grpc = get("/", None);
    grpc.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    let svc = tower::Layer::layer(
        &custom(),
        service_fn(|_: Request<Empty<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }),
    );
    let res = svc.oneshot(grpc).await.unwrap();
    assert_eq!(res.headers()["grpc-status"], "16");
}

#[cfg(feature = "axum")]
mod axum_extractors {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get as route;
    use tower_login_manager::{Claims, CurrentUser};

    async fn call(app: Router, req: Request<Body>) -> (StatusCode, String) {
        let res = app.oneshot(req).await.unwrap();
        support::read(res).await.status_and_body()
    }

    fn req(uri: &str, bearer: Option<&str>) -> Request<Body> {
        let mut b = Request::get(uri);
        if let Some(t) = bearer {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        b.body(Body::empty()).unwrap()
    }

    fn app() -> Router {
        let protected = Router::new()
            .route(
                "/me",
                route(
                    |CurrentUser(User(id)): CurrentUser<User>, claims: Claims| async move {
                        format!("{id} {}", claims.expires_at())
                    },
                ),
            )
            .route_layer(layer());
        let optional = Router::new()
            .route(
                "/home",
                route(|user: Option<CurrentUser<User>>| async move {
                    user.map_or("stranger".to_owned(), |CurrentUser(User(id))| id)
                }),
            )
            .route(
                "/home-claims",
                route(|claims: Option<Claims>| async move {
                    claims.map_or("stranger".to_owned(), |c| c.user_id().to_owned())
                }),
            )
            .route_layer(layer().anonymous(Anonymous::NoToken));
        let unprotected = Router::new()
            .route(
                "/oops",
                route(|CurrentUser(User(id)): CurrentUser<User>| async move { id }),
            )
            .route(
                "/oops-optional",
                route(|u: Option<CurrentUser<User>>| async move { u.is_some().to_string() }),
            )
            .route(
                "/oops-claims",
                route(|c: Claims| async move { c.user_id().to_owned() }),
            )
            .route(
                "/oops-optional-claims",
                route(|c: Option<Claims>| async move { c.is_some().to_string() }),
            );
        protected.merge(optional).merge(unprotected)
    }

    #[tokio::test]
    async fn current_user_and_claims_extractors() {
        let t = token("3");
        assert_eq!(
            call(app(), req("/me", Some(&t))).await,
            (StatusCode::OK, format!("3 {}", NOW + 60))
        );
        assert_eq!(
            call(app(), req("/home", Some(&t))).await,
            (StatusCode::OK, "3".into())
        );
        assert_eq!(
            call(app(), req("/home", None)).await,
            (StatusCode::OK, "stranger".into())
        );
        assert_eq!(
            call(app(), req("/home-claims", Some(&t))).await,
            (StatusCode::OK, "3".into())
        );
        assert_eq!(
            call(app(), req("/home-claims", None)).await,
            (StatusCode::OK, "stranger".into())
        );
    }

    /// Found by review: a route the layer lets through without a user (optional login, an
    /// expired token read as anonymous, a skipped request) answered `CurrentUser<U>` and `Claims`
    /// with the 500 meant for a route without the layer. They now get the answer the layer gives
    /// when login is required: the same status, `WWW-Authenticate` (RFC 6750 section 3) and body.
    #[tokio::test]
    async fn required_extractors_on_a_route_let_through_without_a_user_answer_as_the_layer() {
        let me = || route(|CurrentUser(User(id)): CurrentUser<User>| async move { id });
        let claims = || route(|c: Claims| async move { c.user_id().to_owned() });
        let app = |layer: LoginLayer<_>| {
            Router::new()
                .route("/me", me())
                .route("/claims", claims())
                .route_layer(layer)
        };
        let answer = |res: axum::response::Response| async move {
            let answer = support::read(res).await;
            let challenge = answer.headers.get(header::WWW_AUTHENTICATE).cloned();
            (answer.status, challenge, answer.body)
        };
        let required = |req| async {
            let res = app(layer()).oneshot(req).await.unwrap();
            answer(res).await
        };
        let no_token = required(req("/me", None)).await;
        let expired_token = required(req("/me", Some(&expired("3")))).await;
        assert_eq!(
            (no_token.0, no_token.2.as_str()),
            (StatusCode::UNAUTHORIZED, LOGIN)
        );
        assert_eq!(expired_token.2, EXPIRED);

        let optional = || layer().anonymous(Anonymous::NoToken);
        let expired_anonymous = || layer().anonymous(Anonymous::NoTokenOrExpired);
        let skipped = || layer().skip_if(|_, _, _| true);
        for path in ["/me", "/claims"] {
            for (name, layer, bearer, want) in [
                ("optional", optional(), None, &no_token),
                (
                    "expired",
                    expired_anonymous(),
                    Some(expired("3")),
                    &expired_token,
                ),
                ("skipped", skipped(), None, &no_token),
            ] {
                let res = app(layer)
                    .oneshot(req(path, bearer.as_deref()))
                    .await
                    .unwrap();
                assert_eq!(&answer(res).await, want, "{name} {path}");
            }
        }
    }

    #[tokio::test]
    async fn without_the_layer_the_extractors_answer_500_naming_it() {
        let paths = [
            "/oops",
            "/oops-optional",
            "/oops-claims",
            "/oops-optional-claims",
        ];
        for path in paths {
            let (status, body) = call(app(), req(path, Some(&token("3")))).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
            assert!(body.contains("LoginLayer does not cover"), "{path}: {body}");
            assert!(
                body.starts_with(r#"{"status":500,"message":"#),
                "{path}: {body}"
            );
        }
    }
}
