//! One line per request on stderr: `GET /me 200 0.4ms`.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// Logs method, path, status and latency. Never the query string (`?token=..` would leak) nor
/// any header (`Authorization` holds the token). The path of an `http::Uri` is percent-encoded,
/// so a client cannot break the line.
pub async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let start = Instant::now();
    let res = next.run(req).await;
    let millis = start.elapsed().as_secs_f64() * 1000.0;
    eprintln!("{method} {path} {} {millis:.1}ms", res.status().as_u16());
    res
}
