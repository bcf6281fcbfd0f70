//! A second service: it verifies the example server's access tokens through its published JWK Set
//! and holds no secret, so it cannot mint one.
//!
//! ```text
//! SIGNING_KEYS_FILE=keys.pem cargo run -p example-server                        # the issuer, :3000
//! JWKS_URL=http://127.0.0.1:3000/.well-known/jwks.json PORT=3001 \
//!     cargo run -p example-server --bin verifier
//! curl -H "Authorization: Bearer $TOKEN" localhost:3001/me   # {"user_id":"1"}
//! ```
//!
//! `GET /me` answers the token's user id; `GET /health` is open. Until the first set has been
//! fetched, `/me` answers 503; a token the set cannot verify, 401. Ctrl-C or SIGTERM stops it.

use std::convert::Infallible;
use std::process::ExitCode;

use axum::routing::get;
use axum::{Json, Router, middleware};
use serde_json::{Value, json};
use tower_login_manager::{Claims, LoginLayer, TokenVerifier, loader_fn};

// The server's own serving (header and request timeouts, graceful shutdown) and its answer.
#[path = "../answer.rs"]
mod answer;
#[path = "../serve.rs"]
mod serve;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let url = std::env::var("JWKS_URL").map_err(|_| "JWKS_URL must be set".to_owned())?;
    let port = match std::env::var("PORT") {
        Ok(port) => port
            .parse::<u16>()
            .map_err(|_| format!("PORT must be a number from 0 to 65535, not {port:?}"))?,
        Err(_) => 3001,
    };
    let verifier = TokenVerifier::builder()
        .jwks_url(url.as_str())
        .build()
        .map_err(|error| format!("JWKS_URL cannot be used: {error}"))?;
    // This service has no users of its own: the token's user id is the user.
    let loader = loader_fn(|id: String| async move { Ok::<_, Infallible>(Some(id)) });
    let app = Router::new()
        .route("/me", get(me))
        .route_layer(LoginLayer::new(verifier, loader))
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .layer(middleware::from_fn(serve::request_timeout));

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|error| format!("cannot listen on 127.0.0.1:{port}: {error}"))?;
    let addr = listener
        .local_addr()
        .map_err(|error| format!("cannot read the listening address: {error}"))?;
    eprintln!("verifying with the JWK Set of {url}");
    eprintln!("listening on http://{addr}");
    serve::serve(listener, app).await;
    Ok(())
}

async fn me(claims: Claims) -> Json<Value> {
    Json(json!({ "user_id": claims.user_id() }))
}
