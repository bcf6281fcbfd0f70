//! A tonic 0.14 server behind `LoginLayer`, with a hand-written unary service (no protoc, no
//! codegen), which calls itself twice with tonic's client: once without a token, once with one.
//! The service and the client call are `greeter.rs`, which `tests/tonic.rs` runs too.
//!
//! ```text
//! cargo run --example tonic              # the two calls, then exit
//! cargo run --example tonic -- --serve   # the two calls, then serve until Ctrl-C
//! PORT=50052 SECRET_KEY="$(openssl rand -base64 48)" cargo run --example tonic
//! ```

use std::convert::Infallible;
use std::time::Duration;

use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};
use tower_login_manager::{LoginLayer, LoginManager, loader_fn};

mod greeter;

use greeter::Greeter;

const DEMO_SECRET: &str = "demo secret: set SECRET_KEY to 32+ random bytes";

#[derive(Clone, Debug)]
struct User {
    name: String,
}

/// The layer put the user into the request's extensions; tonic hands them on.
async fn say_hello(req: Request<String>) -> Result<Response<String>, Status> {
    let user = req
        .extensions()
        .get::<User>()
        .ok_or_else(|| Status::internal("no user"))?;
    Ok(Response::new(format!("hello {}", user.name)))
}

async fn call(addr: &str, token: Option<&str>) -> Result<String, Box<dyn std::error::Error>> {
    Ok(match greeter::say_hello(addr, token).await? {
        Ok(reply) => format!("OK: {reply:?}"),
        Err(status) => format!("{:?}: {:?}", status.code(), status.message()),
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let serve = std::env::args().any(|a| a == "--serve");
    let port = std::env::var("PORT").unwrap_or_else(|_| "50051".into());
    let secret = std::env::var("SECRET_KEY").unwrap_or_else(|_| {
        eprintln!("SECRET_KEY is not set: using a demo secret");
        DEMO_SECRET.into()
    });

    let manager = LoginManager::new(secret)?;
    let loader = loader_fn(|id: String| async move {
        // e.g. SELECT name FROM users WHERE id = ?
        Ok::<_, Infallible>((id == "1").then(|| User { name: "ada".into() }))
    });

    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    let addr = listener.local_addr()?.to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::builder()
            .layer(LoginLayer::new(manager.clone(), loader))
            .add_service(Greeter(say_hello))
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                stopped.await.ok();
            }),
    );
    println!("listening on {addr}");

    // The token stays in this process: tokens are credentials, not log lines.
    let token = manager.issue_token("1", Duration::from_secs(5 * 60))?;
    println!("without a token: {}", call(&addr, None).await?);
    println!("with a token:    {}", call(&addr, Some(&token)).await?);

    if serve {
        println!("serving until Ctrl-C");
        tokio::signal::ctrl_c().await?;
    }
    stop.send(()).ok();
    server.await??;
    Ok(())
}
