//! Serving connections: hyper with a timer, so that slow or silent clients are cut off, and a
//! graceful shutdown on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::Service;

use crate::answer::status_message;

/// How long a client has to send a request's headers; a connection that sends nothing (a new
/// one, or one kept alive between requests) is closed after it (hyper starts the timer when it
/// starts reading a request). `axum::serve` sets no timer, so its connections waited for ever.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request may take, its body included (a body sent a byte a second), before it is
/// answered 408. A shutdown waits for requests in flight, so at most this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves `app` on `listener` (HTTP/1.1) until Ctrl-C or SIGTERM, then closes the idle
/// connections, lets the requests in flight finish (each within [`REQUEST_TIMEOUT`], with
/// [`request_timeout`] in `app`) and returns. Handlers see the client's address
/// (`ConnectInfo<SocketAddr>`).
pub async fn serve(listener: TcpListener, app: Router) {
    let mut make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    // HTTP/1 only, as `axum::serve` without its `http2` feature: an HTTP/2 connection has no
    // header timer, and hyper-util's sniffing of the protocol none either.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    // hyper-util's `GracefulShutdown` cannot watch a connection that may be upgraded (`GET /ws`)
    // with the `http1` builder, which has the header timer: the same, by hand. Each connection
    // is told to shut down once the signal comes, and the server waits for all of them.
    let (shutdown, shutting_down) = watch::channel(false);
    let mut connections = JoinSet::new();
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, or a connection reset before it was accepted: the
                // listener is still good; wait a moment rather than spin.
                Err(error) => {
                    eprintln!("warning: accepting a connection failed: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let service = match make_service.call(client).await {
            Ok(service) => service,
            Err(never) => match never {},
        };
        let service = TowerToHyperService::new(service);
        // With upgrades: `GET /ws` turns its connection into a WebSocket.
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut shutting_down = shutting_down.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            // A client that went away, or was cut off: nothing to tell anyone.
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = shutting_down.wait_for(|down| *down) => {}
            }
            // Idle: closed now; a request in flight is answered first.
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        });
        // Forget the connections that have ended.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    eprintln!("shutting down: finishing requests in flight");
    let _ = shutdown.send(true);
    while connections.join_next().await.is_some() {}
}

/// Answers 408 to a request not answered within [`REQUEST_TIMEOUT`], and closes its connection
/// (RFC 9110 section 15.5.9). The server's own waits end well within it (a database connection
/// or query 5 s, a turn to hash a password 5 s, Redis 1 s), so this is a client that sends
/// slowly.
pub async fn request_timeout(req: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let mut response =
                status_message(StatusCode::REQUEST_TIMEOUT, "The request took too long");
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// Resolves on Ctrl-C, or on SIGTERM on Unix (what `docker stop` and `systemctl stop` send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            eprintln!("warning: cannot listen for Ctrl-C: {error}");
            std::future::pending::<()>().await;
        }
    };

    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(error) => {
                eprintln!("warning: cannot listen for SIGTERM: {error}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
