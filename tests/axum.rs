//! axum 0.8: `Router::layer`, `route_layer` and a handler reading the user.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Router};
use http::{Request, StatusCode, header};
use support::{InMemory, NOW, SECRET};
use tower::ServiceExt;
use tower_login_manager::{Claims, LoginLayer, LoginManager};

#[derive(Clone)]
struct User {
    name: String,
}

fn app() -> Router {
    let manager = LoginManager::builder(SECRET).clock(|| NOW).build().unwrap();
    let loader = InMemory::new().user("1", User { name: "ada".into() });
    Router::new()
        .route(
            "/me",
            get(|Extension(user): Extension<User>, Extension(claims): Extension<Claims>| async move {
                format!("{} ({})", user.name, claims.user_id())
            }),
        )
        .route_layer(LoginLayer::new(manager, loader))
        .route("/health", get(|| async { "ok" }))
}

async fn get_text(app: Router, uri: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::get(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let res = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    support::read(res).await.status_and_body()
}

#[tokio::test]
async fn route_layer_protects_only_the_routes_before_it() {
    let token = LoginManager::builder(SECRET)
        .clock(|| NOW)
        .build()
        .unwrap()
        .issue_token("1", Duration::from_secs(60))
        .unwrap();
    assert_eq!(
        get_text(app(), "/me", Some(&token)).await,
        (StatusCode::OK, "ada (1)".into())
    );
    assert_eq!(
        get_text(app(), "/me", None).await,
        (
            StatusCode::UNAUTHORIZED,
            r#"{"status":401,"message":"You need to login"}"#.into()
        )
    );
    assert_eq!(
        get_text(app(), "/health", None).await,
        (StatusCode::OK, "ok".into())
    );
    // route_layer: an unknown path stays 404 instead of turning into 401.
    assert_eq!(
        get_text(app(), "/nope", None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn router_layer_and_service_builder_compose() {
    let manager = LoginManager::builder(SECRET).clock(|| NOW).build().unwrap();
    let loader = InMemory::new().others(|_| Some(User { name: "x".into() }));
    let app = Router::new()
        .route("/", get(|| async { "hi" }))
        .layer(tower::ServiceBuilder::new().layer(LoginLayer::new(manager, loader)));
    assert_eq!(get_text(app, "/", None).await.0, StatusCode::UNAUTHORIZED);
}
