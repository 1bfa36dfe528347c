//! The HTTP/1.1 client the host uses to talk to the handler: one shared keep-alive pool, chunked
//! request bodies (like .NET's `ObjectContent`, which has no precomputed length), no redirects.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Empty, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The request body type of the handler client.
pub type RequestBody = BoxBody<Bytes, Infallible>;

/// A response read to the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferedResponse {
    /// Status code.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: Bytes,
}

/// A request that failed before a complete response arrived.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// The shared client.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: Client<HttpConnector, RequestBody>,
}

impl Default for HttpClient {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Self { client }
    }
}

/// A body sent with `Transfer-Encoding: chunked` (one data frame, no size hint).
pub fn chunked_body(bytes: Bytes) -> RequestBody {
    let frames = futures::stream::once(async move { Ok::<_, Infallible>(Frame::data(bytes)) });
    StreamBody::new(frames).boxed()
}

/// An empty body.
pub fn empty_body() -> RequestBody {
    Empty::<Bytes>::new().boxed()
}

impl HttpClient {
    /// Sends `request` and reads the whole response.
    pub async fn send(&self, request: http::Request<RequestBody>) -> Result<BufferedResponse, TransportError> {
        let response = self
            .client
            .request(request)
            .await
            .map_err(|error| TransportError(describe(&error)))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|error| TransportError(format!("reading the response body failed: {error}")))?
            .to_bytes();
        Ok(BufferedResponse {
            status,
            content_type,
            body,
        })
    }

    /// `GET http://127.0.0.1:{port}/`: `true` when any HTTP response arrives within `timeout`.
    pub async fn responds(&self, port: u16, timeout: Duration) -> bool {
        let Ok(request) = http::Request::get(format!("http://127.0.0.1:{port}/")).body(empty_body()) else {
            return false;
        };
        matches!(tokio::time::timeout(timeout, self.send(request)).await, Ok(Ok(_)))
    }
}

/// The error and its causes on one line (hyper's top-level message alone is rarely telling).
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
