//! The `{"status", "message"}` answer, shared by the routes and the server's own 408 (and by
//! the `verifier` binary, which includes this file and `serve.rs`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// `{"status": .., "message": ..}`, the fields in the order the login layer writes them.
pub fn status_message(status: StatusCode, message: &str) -> Response {
    #[derive(Serialize)]
    struct Fields<'a> {
        status: u16,
        message: &'a str,
    }
    let fields = Fields {
        status: status.as_u16(),
        message,
    };
    (status, Json(fields)).into_response()
}
