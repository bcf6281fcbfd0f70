//! The app `loadtest/run.sh soak` puts under load: one protected route behind `LoginLayer`, an
//! in-memory loader where only user "1" exists, on loopback.
//!
//! At start it draws a random secret and writes to `TOKENS_FILE` (created with mode 0600) the
//! address it listens on and one token of each kind the soak sends:
//!
//! ```text
//! addr=127.0.0.1:41234
//! valid=eyJ...      (user "1", one hour)
//! expired=eyJ...    (user "1", expired an hour ago)
//! tampered=eyJ...   (the valid token with one MAC character changed)
//! ```
//!
//! Every response carries back the request's `x-kind` header, so that the load generator can
//! tell which kind of request each response answers.
//!
//! ```text
//! PORT=0 TOKENS_FILE=/tmp/soak/tokens cargo run --release -p loadtest --bin soak_app
//! ```

use std::error::Error;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use tower_login_manager::{LoginLayer, LoginManager};

// Users in memory: the loader the bench, the allocation test and the load test use.
#[path = "../../../tests/support/in_memory.rs"]
mod in_memory;

use in_memory::{User, loader};

/// Copies the request's `x-kind` header into the response, rejections included.
async fn echo_kind(req: Request, next: Next) -> Response {
    let kind = req.headers().get("x-kind").cloned();
    let mut res = next.run(req).await;
    if let Some(kind) = kind {
        res.headers_mut().insert("x-kind", kind);
    }
    res
}

/// The token with one character of its MAC changed (a middle one: all six bits significant).
fn tamper(token: &str) -> String {
    let i = token.len() - 20;
    let replacement = if &token[i..=i] == "A" { "B" } else { "A" };
    let mut tampered = token.to_owned();
    tampered.replace_range(i..=i, replacement);
    tampered
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let port: u16 = std::env::var("PORT")
        .unwrap_or_else(|_| "0".into())
        .parse()?;
    let tokens_file = std::env::var("TOKENS_FILE").map_err(|_| "TOKENS_FILE is not set")?;

    let mut secret = [0u8; 48];
    getrandom::fill(&mut secret).map_err(|e| format!("no randomness: {e}"))?;
    let manager = LoginManager::new(secret)?;
    let an_hour = Duration::from_secs(3600);
    let valid = manager.issue_token("1", an_hour)?;
    let two_hours_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        - 2 * 3600;
    let expired = LoginManager::builder(secret)
        .clock(move || two_hours_ago)
        .build()?
        .issue_token("1", an_hour)?;
    let tampered = tamper(&valid);

    let app =
        Router::new()
            .route(
                "/protected",
                get(|Extension(user): Extension<Arc<User>>| async move {
                    format!("hello {}", user.name)
                }),
            )
            .route_layer(LoginLayer::new(manager, loader("1")))
            .layer(middleware::from_fn(echo_kind));

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tokens_file)?;
    writeln!(
        file,
        "addr={addr}\nvalid={valid}\nexpired={expired}\ntampered={tampered}"
    )?;
    drop(file);
    eprintln!("soak_app: listening on http://{addr}, tokens in {tokens_file}");

    axum::serve(listener, app).await?;
    Ok(())
}
