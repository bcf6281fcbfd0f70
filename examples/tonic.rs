//! A tonic 0.14 server behind `LoginLayer`, with a hand-written unary service (no protoc, no
//! codegen), which calls itself twice with tonic's client: once without a token, once with one.
//!
//! ```text
//! cargo run --example tonic              # the two calls, then exit
//! cargo run --example tonic -- --serve   # the two calls, then serve until Ctrl-C
//! PORT=50052 SECRET_KEY="$(openssl rand -base64 48)" cargo run --example tonic
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BufMut};
use http::uri::PathAndQuery;
use tonic::body::Body;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataValue;
use tonic::server::NamedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};
use tower::Service;
use tower_login_manager::{LoginLayer, LoginManager, loader_fn};

const SAY_HELLO: &str = "/hello.Greeter/SayHello";
const DEMO_SECRET: &str = "demo secret: set SECRET_KEY to 32+ random bytes";

#[derive(Clone, Debug)]
struct User {
    name: String,
}

/// The gRPC message is a UTF-8 string.
#[derive(Clone, Copy, Debug, Default)]
struct StringCodec;

impl Codec for StringCodec {
    type Encode = String;
    type Decode = String;
    type Encoder = StringCodec;
    type Decoder = StringCodec;

    fn encoder(&mut self) -> Self::Encoder {
        StringCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        StringCodec
    }
}

impl Encoder for StringCodec {
    type Item = String;
    type Error = Status;

    fn encode(&mut self, item: String, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(item.as_bytes());
        Ok(())
    }
}

impl Decoder for StringCodec {
    type Item = String;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<String>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        String::from_utf8(bytes.into())
            .map(Some)
            .map_err(|_| Status::invalid_argument("the message is not UTF-8"))
    }
}

/// `hello.Greeter`, written the way tonic's generated servers are.
#[derive(Clone, Debug)]
struct Greeter;

impl NamedService for Greeter {
    const NAME: &'static str = "hello.Greeter";
}

impl Service<http::Request<Body>> for Greeter {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        match req.uri().path() {
            SAY_HELLO => Box::pin(async move {
                let method = tower::service_fn(say_hello);
                Ok(tonic::server::Grpc::new(StringCodec)
                    .unary(method, req)
                    .await)
            }),
            _ => Box::pin(async { Ok(Status::unimplemented("").into_http()) }),
        }
    }
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
    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await?;
    let mut request = Request::new("hi".to_owned());
    if let Some(token) = token {
        let value = MetadataValue::try_from(format!("Bearer {token}"))?;
        request.metadata_mut().insert("authorization", value);
    }
    let path = PathAndQuery::from_static(SAY_HELLO);
    Ok(match client.unary(request, path, StringCodec).await {
        Ok(reply) => format!("OK: {:?}", reply.into_inner()),
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
            .add_service(Greeter)
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
