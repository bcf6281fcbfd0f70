//! `hello.Greeter`, a unary gRPC service written by hand (no protoc, no codegen), and a call to it
//! with tonic's own client. Shared by this example and `tests/tonic.rs`, which includes it with
//! `#[path = "../examples/tonic/greeter.rs"] mod greeter;`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut};
use http::uri::PathAndQuery;
use tonic::body::Body;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataValue;
use tonic::server::NamedService;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};
use tower::Service;

pub const SAY_HELLO: &str = "/hello.Greeter/SayHello";

/// The gRPC message is a UTF-8 string: its bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct StringCodec;

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

/// `hello.Greeter` with one unary method, `SayHello(string) returns (string)`, answered by the
/// handler `H`; written the way tonic's generated servers are.
#[derive(Clone, Debug)]
pub struct Greeter<H>(pub H);

impl<H> NamedService for Greeter<H> {
    const NAME: &'static str = "hello.Greeter";
}

impl<H, F> Service<http::Request<Body>> for Greeter<H>
where
    H: Fn(Request<String>) -> F + Clone + Send + 'static,
    F: Future<Output = Result<Response<String>, Status>> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        match req.uri().path() {
            SAY_HELLO => {
                let method = tower::service_fn(self.0.clone());
                Box::pin(async move {
                    Ok(tonic::server::Grpc::new(StringCodec)
                        .unary(method, req)
                        .await)
                })
            }
            _ => Box::pin(async { Ok(Status::unimplemented("").into_http()) }),
        }
    }
}

/// Calls `SayHello("hi")` on the server at `addr` (`host:port`), with `authorization: Bearer
/// <token>` metadata when there is a token. The outer error is the connection's; the inner
/// result is the call's answer.
pub async fn say_hello(
    addr: &str,
    token: Option<&str>,
) -> Result<Result<String, Status>, Box<dyn std::error::Error>> {
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
    Ok(client
        .unary(request, path, StringCodec)
        .await
        .map(Response::into_inner))
}
