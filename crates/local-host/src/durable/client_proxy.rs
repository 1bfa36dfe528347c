//! The app's durable client endpoint (`rpcBaseUrl`): the Durable extension serves it in the host; here a
//! pass-through to the local engine that notes the trace context of `SignalEntity` and `StartInstance` calls
//! ([`super::trace_context`]), which the engine would drop. Every call is forwarded unchanged, byte for byte,
//! with its status and trailers.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use durabletask_sdk::proto::{CreateInstanceRequest, SignalEntityRequest};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message as _;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::trace_context::TraceContexts;

type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Serves the pass-through on a free loopback port until `shutdown` becomes true; answers its `http://` URL.
pub async fn start(
    engine_address: &str,
    contexts: Arc<TraceContexts>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<String> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let address = listener.local_addr()?;
    let engine = engine_address.trim_end_matches('/').to_owned();
    // No Nagle delay on either hop (tonic sets the same): small HTTP/2 frames would otherwise wait for delayed ACKs.
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, ProxyBody> =
        Client::builder(TokioExecutor::new()).http2_only(true).build(connector);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = shutdown.changed() => return,
            };
            let Ok((stream, _)) = accepted else { continue };
            let _ = stream.set_nodelay(true);
            let (client, engine, contexts) = (client.clone(), engine.clone(), contexts.clone());
            let service = service_fn(move |request| forward(client.clone(), engine.clone(), contexts.clone(), request));
            tokio::spawn(async move {
                let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service);
                if let Err(error) = connection.await {
                    tracing::debug!("durable client connection ended: {error}");
                }
            });
        }
    });
    Ok(format!("http://{address}"))
}

async fn forward(
    client: Client<HttpConnector, ProxyBody>,
    engine: String,
    contexts: Arc<TraceContexts>,
    request: http::Request<Incoming>,
) -> Result<http::Response<ProxyBody>, std::convert::Infallible> {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str()).to_owned();
    let Ok(uri) = format!("{engine}{path}").parse() else {
        return Ok(unavailable("bad engine address"));
    };
    parts.uri = uri;
    let body = if path.ends_with("/SignalEntity") || path.ends_with("/StartInstance") {
        // Unary calls: one small message, read whole to note its trace context.
        let bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => return Ok(unavailable(&error.to_string())),
        };
        note_trace_context(&contexts, &path, &bytes);
        Full::new(bytes).map_err(|never| match never {}).boxed()
    } else {
        body.boxed()
    };
    match client.request(http::Request::from_parts(parts, body)).await {
        Ok(response) => Ok(response.map(|body| body.boxed())),
        Err(error) => Ok(unavailable(&error.to_string())),
    }
}

/// Notes the trace context of one gRPC message (a 5-byte frame header, uncompressed: the SDK's client does not
/// compress).
fn note_trace_context(contexts: &TraceContexts, path: &str, frame: &[u8]) {
    let Some(message) = frame.get(5..).filter(|_| frame.first() == Some(&0)) else {
        return;
    };
    if path.ends_with("/SignalEntity") {
        if let Ok(signal) = SignalEntityRequest::decode(message) {
            contexts.signal_sent(&signal.request_id, signal.parent_trace_context.as_ref());
        }
    } else if let Ok(start) = CreateInstanceRequest::decode(message) {
        contexts.orchestration_started(&start.instance_id, start.parent_trace_context.as_ref());
    }
}

/// A trailers-only gRPC answer: UNAVAILABLE, so the client retries as it would with the engine down.
fn unavailable(reason: &str) -> http::Response<ProxyBody> {
    let mut response = http::Response::new(Full::new(Bytes::new()).map_err(|never| match never {}).boxed());
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", http::HeaderValue::from_static("14"));
    if let Ok(message) =
        http::HeaderValue::from_str(&format!("engine unreachable: {reason}").replace(['\r', '\n'], " "))
    {
        headers.insert("grpc-message", message);
    }
    response
}
