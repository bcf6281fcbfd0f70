//! axum: `LoginLayer` on some routes, the user in the handler, optional login on others.
//!
//! ```sh
//! cargo run --example axum --features axum            # a few calls against itself, then exits
//! cargo run --example axum --features axum -- --serve # and keeps serving on 127.0.0.1:3000 (PORT)
//! ```
//!
//! Tokens are minted in-process and never printed; `SECRET_KEY` (32+ bytes) sets the secret.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_login_manager::{Anonymous, CurrentUser, LoginLayer, LoginManager, loader_fn};

#[derive(Clone, Debug)]
struct User {
    id: u64,
    name: String,
}

async fn me(CurrentUser(user): CurrentUser<User>) -> String {
    format!("hello {} (user {})", user.name, user.id)
}

async fn home(user: Option<CurrentUser<User>>) -> String {
    match user {
        Some(CurrentUser(user)) => format!("welcome back, {}", user.name),
        None => "welcome, stranger".to_owned(),
    }
}

fn app(manager: LoginManager, users: Arc<HashMap<String, User>>) -> Router {
    // The user_loader of the Flask original: user id -> user or none.
    let loader = loader_fn(move |id: String| {
        let users = users.clone();
        async move { Ok::<_, Infallible>(users.get(&id).cloned()) }
    });
    Router::new()
        .route("/me", get(me))
        .route_layer(LoginLayer::new(manager.clone(), loader.clone()))
        .merge(
            Router::new()
                .route("/", get(home))
                .route_layer(LoginLayer::new(manager, loader).anonymous(Anonymous::NoToken)),
        )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("SECRET_KEY")
        .unwrap_or_else(|_| "demo secret, set SECRET_KEY in real use!".to_owned());
    let manager = LoginManager::new(secret)?;
    let ada = User {
        id: 1,
        name: "ada".into(),
    };
    let users = Arc::new(HashMap::from([(ada.id.to_string(), ada.clone())]));
    let app = app(manager.clone(), users);

    // The original's `get_token_for(user)`: `str(user.id)`, fifteen minutes here.
    let token = manager.issue_token(&ada.id.to_string(), Duration::from_secs(15 * 60))?;
    for (path, token) in [
        ("/me", None),
        ("/me", Some(&token)),
        ("/", None),
        ("/", Some(&token)),
    ] {
        let mut req = Request::get(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let res = app.clone().oneshot(req.body(Body::empty())?).await?;
        let status = res.status();
        let body = res.into_body().collect().await?.to_bytes();
        let with = if token.is_some() {
            "with a token"
        } else {
            "without a token"
        };
        println!(
            "GET {path} {with}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }

    if std::env::args().any(|a| a == "--serve") {
        let port: u16 = std::env::var("PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(3000);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!("listening on http://{}", listener.local_addr()?);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
    }
    Ok(())
}
