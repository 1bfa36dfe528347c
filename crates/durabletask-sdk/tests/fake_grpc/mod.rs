//! Just enough gRPC over HTTP/2 to script a fake engine in tests: length-prefixed protobuf frames, status
//! trailers, and a server for unary calls whose answers a test function decides.

#![allow(dead_code)] // each test file uses its own subset

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message;
use tokio::net::TcpListener;

/// Decodes a protobuf message a client sent.
pub fn decode<M: Message + Default>(bytes: &[u8]) -> M {
    M::decode(bytes).expect("the client sends valid protobuf")
}

/// A length-prefixed, uncompressed gRPC message.
pub fn grpc_frame(message: &impl Message) -> Frame<Bytes> {
    encoded_frame(&message.encode_to_vec())
}

/// A length-prefixed, uncompressed gRPC message from its encoded bytes.
pub fn encoded_frame(encoded: &[u8]) -> Frame<Bytes> {
    let mut framed = Vec::with_capacity(encoded.len() + 5);
    framed.push(0);
    framed.extend_from_slice(&u32::try_from(encoded.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(encoded);
    Frame::data(Bytes::from(framed))
}

/// The trailers of a successful call.
pub fn ok_trailers() -> Frame<Bytes> {
    status_trailers(0, "")
}

/// The trailers of a call ending with gRPC status `code`.
pub fn status_trailers(code: u8, message: &str) -> Frame<Bytes> {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", code.to_string().parse().unwrap());
    if !message.is_empty() {
        trailers.insert("grpc-message", message.parse().unwrap());
    }
    Frame::trailers(trailers)
}

/// One unary call as the fake engine received it.
#[derive(Debug, Clone)]
pub struct UnaryCall {
    /// The method name, e.g. `PurgeInstances`.
    pub method: String,
    /// The request headers (`grpc-timeout` among them).
    pub headers: HeaderMap,
    /// The request message, undecoded.
    pub message: Bytes,
}

/// How the fake engine answers one unary call: a message, or a gRPC error status.
pub enum UnaryAnswer {
    /// Status OK with this encoded message.
    Message(Vec<u8>),
    /// This status code and message, no body.
    Status(u8, String),
}

impl UnaryAnswer {
    /// Status OK with `message`.
    pub fn ok(message: &impl Message) -> Self {
        UnaryAnswer::Message(message.encode_to_vec())
    }
}

/// Serves unary calls on loopback with `answer`, until the test ends; returns the endpoint URL.
pub async fn serve_unary<F, Fut>(answer: F) -> String
where
    F: Fn(UnaryCall) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = UnaryAnswer> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let answer = answer.clone();
                    async move { Ok::<_, Infallible>(respond(request, answer.as_ref()).await) }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

type UnaryBody = StreamBody<futures::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

async fn respond<F, Fut>(request: Request<Incoming>, answer: &F) -> Response<UnaryBody>
where
    F: Fn(UnaryCall) -> Fut,
    Fut: Future<Output = UnaryAnswer>,
{
    let method = request.uri().path().rsplit('/').next().unwrap_or_default().to_string();
    let headers = request.headers().clone();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let message = body.slice(5.min(body.len())..);
    let frames = match answer(UnaryCall {
        method,
        headers,
        message,
    })
    .await
    {
        UnaryAnswer::Message(encoded) => vec![Ok(encoded_frame(&encoded)), Ok(ok_trailers())],
        UnaryAnswer::Status(code, message) => vec![Ok(status_trailers(code, &message))],
    };
    Response::builder()
        .header("content-type", "application/grpc")
        .body(StreamBody::new(futures::stream::iter(frames)))
        .unwrap()
}
