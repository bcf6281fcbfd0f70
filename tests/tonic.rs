//! The layer in front of a tonic 0.14 server, over real HTTP/2 on a loopback socket: a
//! hand-written unary service (no codegen, no protoc) behind
//! `Server::builder().layer(LoginLayer::new(..))`, called with tonic's own client.
//!
//! A rejected call must reach a tonic client as a `Status` with the right code and the exact
//! message; an accepted one must reach the handler with the user in its extensions.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Status};
use tower_login_manager::{Claims, LoginLayer, LoginManager, Rejection};

mod support;
// The service, its codec and the client call of `examples/tonic`.
#[path = "../examples/tonic/greeter.rs"]
mod greeter;

use greeter::{Greeter, SAY_HELLO};
use support::InMemory;
use support::SECRET;
use support::fixtures::{User, expired_token, loader, other_secret_token, token};

/// The handler: tonic copies the HTTP request's extensions into the `tonic::Request`, so the
/// user and claims the layer inserted are here.
async fn say_hello(req: tonic::Request<String>) -> Result<tonic::Response<String>, Status> {
    let user = req
        .extensions()
        .get::<User>()
        .ok_or_else(|| Status::internal("no user in the extensions"))?;
    let claims = req
        .extensions()
        .get::<Claims>()
        .ok_or_else(|| Status::internal("no claims in the extensions"))?;
    Ok(tonic::Response::new(format!(
        "hello {} (user {}, token for {}), you said {:?}",
        user.name,
        user.id,
        claims.user_id(),
        req.get_ref()
    )))
}

// --- A server on 127.0.0.1:0 and a client. ---

struct TestServer {
    addr: SocketAddr,
    loader_errors: Arc<Mutex<Vec<String>>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
}

impl TestServer {
    /// Serves `Greeter` behind the layer. The loader knows user "1" (ada), fails for "down" and
    /// finds nobody else.
    async fn start() -> Self {
        Self::start_with(|layer| layer).await
    }

    /// As [`start`](Self::start), with the layer's settings changed by `configure`.
    async fn start_with(
        configure: impl FnOnce(LoginLayer<InMemory<User>>) -> LoginLayer<InMemory<User>>,
    ) -> Self {
        let loader_errors = Arc::new(Mutex::new(Vec::new()));
        let hook_errors = Arc::clone(&loader_errors);
        let manager = LoginManager::new(SECRET).unwrap();
        let layer = configure(LoginLayer::new(manager, loader()))
            .on_backend_error(move |e| hook_errors.lock().unwrap().push(e.to_string()));

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let server = Server::builder()
            .layer(layer)
            .add_service(Greeter(say_hello))
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                rx.await.ok();
            });
        Self {
            addr,
            loader_errors,
            shutdown: Some(tx),
            task: Some(tokio::spawn(server)),
        }
    }

    async fn say_hello(&self, token: Option<&str>) -> Result<String, Status> {
        greeter::say_hello(&self.addr.to_string(), token)
            .await
            .unwrap()
    }

    async fn stop(mut self) {
        self.shutdown.take().unwrap().send(()).unwrap();
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn valid_token_reaches_the_handler_with_the_user() {
    let server = TestServer::start().await;

    let reply = server.say_hello(Some(&token("1"))).await.unwrap();

    assert_eq!(
        reply, "hello ada (user 1, token for 1), you said \"hi\"",
        "the handler saw the loaded user and the claims"
    );
    server.stop().await;
}

#[tokio::test]
async fn rejections_reach_the_client_as_grpc_statuses() {
    struct Case {
        name: &'static str,
        token: Option<String>,
        want_code: Code,
        want_message: &'static str,
    }

    let cases = [
        Case {
            name: "no authorization metadata",
            token: None,
            want_code: Code::Unauthenticated,
            want_message: "You need to login",
        },
        Case {
            name: "not a JWT",
            token: Some("not-a-token".into()),
            want_code: Code::Unauthenticated,
            want_message: "Invalid token. Please register or login",
        },
        Case {
            name: "signed with another secret",
            token: Some(other_secret_token()),
            want_code: Code::Unauthenticated,
            want_message: "Invalid token. Please register or login",
        },
        Case {
            name: "expired",
            token: Some(expired_token()),
            want_code: Code::Unauthenticated,
            want_message: "Expired token. Please login to get a new token",
        },
        Case {
            name: "unknown user",
            token: Some(token("2")),
            want_code: Code::Unauthenticated,
            want_message: "User not found. Please register or login",
        },
        Case {
            name: "loader fails",
            token: Some(token("down")),
            want_code: Code::Internal,
            want_message: "Internal server error",
        },
    ];

    let server = TestServer::start().await;
    for case in cases {
        let status = server
            .say_hello(case.token.as_deref())
            .await
            .expect_err(case.name);
        assert_eq!(status.code(), case.want_code, "{}", case.name);
        assert_eq!(status.message(), case.want_message, "{}", case.name);
    }
    assert_eq!(
        *server.loader_errors.lock().unwrap(),
        ["database is down"],
        "the loader's error goes to the hook, never to the client"
    );
    server.stop().await;
}

/// `grpc-message` is percent-encoded by the layer and decoded by tonic: the client gets the
/// configured text back, `%` and non-ASCII included.
#[tokio::test]
async fn custom_message_survives_percent_encoding() {
    let message = "Bitte zuerst anmelden: 100% nötig";
    let server =
        TestServer::start_with(|layer| layer.message(Rejection::MissingToken, message)).await;

    let status = server.say_hello(None).await.unwrap_err();

    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), message);
    server.stop().await;
}

/// What tonic's client decodes above, on the wire: a trailers-only response (HTTP 200, the
/// status in the headers, no body, no trailers), sent by tonic's own HTTP/2 server.
#[tokio::test]
async fn rejection_is_trailers_only_on_the_wire() {
    let server = TestServer::start().await;
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);

    let req = http::Request::post(format!("http://{}{SAY_HELLO}", server.addr))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let res = support::read(sender.send_request(req).await.unwrap()).await;

    assert_eq!(res.status, http::StatusCode::OK);
    assert_eq!(res.headers["content-type"], "application/grpc");
    assert_eq!(res.headers["grpc-status"], "16");
    assert_eq!(res.headers["grpc-message"], "You need to login");
    assert!(res.trailers.is_none(), "no trailers after the headers");
    assert!(res.body.is_empty(), "no body");

    drop(sender);
    conn.await.unwrap().unwrap();
    server.stop().await;
}
