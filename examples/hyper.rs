//! A hyper 1 server whose one handler is behind `LoginLayer`.
//!
//! ```text
//! SECRET_KEY="$(openssl rand -base64 48)" cargo run --example hyper
//! PRINT_DEMO_TOKEN=1 cargo run --example hyper   # also prints a curl line with a token
//! ```
//!
//! Listens on 127.0.0.1:3000 (`PORT` to change it); Ctrl-C stops it gracefully.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tower::ServiceBuilder;
use tower_login_manager::{LoginLayer, LoginManager, loader_fn};

const DEMO_SECRET: &str = "demo secret: set SECRET_KEY to 32+ random bytes";

#[derive(Clone, Debug)]
struct User {
    name: String,
}

/// Reached only with a valid token for a known user, who is in the extensions.
async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let user = req
        .extensions()
        .get::<User>()
        .expect("LoginLayer adds the user");
    Ok(Response::new(Full::from(format!("hello {}\n", user.name))))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let secret = std::env::var("SECRET_KEY").unwrap_or_else(|_| {
        eprintln!("SECRET_KEY is not set: using a demo secret");
        DEMO_SECRET.into()
    });
    let manager = LoginManager::new(secret)?;
    let loader = loader_fn(|id: String| async move {
        // e.g. SELECT name FROM users WHERE id = ?
        Ok::<_, Infallible>((id == "1").then(|| User { name: "ada".into() }))
    });
    let svc = ServiceBuilder::new()
        .layer(LoginLayer::new(manager.clone(), loader))
        .service(tower::service_fn(hello));

    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    println!("  curl -i http://{addr}/   # 401: You need to login");
    // A token is a credential: print one only when asked to.
    if std::env::var("PRINT_DEMO_TOKEN").is_ok_and(|v| v == "1") {
        let token = manager.issue_token("1", Duration::from_secs(15 * 60))?;
        println!("  curl -i -H 'Authorization: Bearer {token}' http://{addr}/");
    } else {
        println!(
            "  tokens come from LoginManager::issue_token(\"1\", ttl) with the same SECRET_KEY \
             (your login endpoint); PRINT_DEMO_TOKEN=1 prints one here"
        );
    }

    let graceful = GracefulShutdown::new();
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let conn = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc.clone()));
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        eprintln!("connection error: {e}");
                    }
                });
            }
            _ = &mut ctrl_c => break,
        }
    }
    println!("shutting down");
    graceful.shutdown().await;
    Ok(())
}
