//! Transport failures of the durable client without an engine: an unreachable port, a server that never
//! answers, and the headers and deadline that actually go over the wire.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use durabletask_sdk::client::{ClientError, ClientOptions, DurableClient, DEFAULT_PURGE_DEADLINE};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// A loopback port nothing listens on (bound, then released).
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn an_unreachable_engine_is_a_transient_error() {
    let port = closed_port().await;
    let client = DurableClient::connect_lazy(&format!("http://127.0.0.1:{port}"), ClientOptions::default()).unwrap();
    let error = client.hello().await.unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert!(
        matches!(error, ClientError::Unavailable { rpc: "Hello", .. }),
        "{error:?}"
    );

    let error = DurableClient::connect(&format!("127.0.0.1:{port}"), ClientOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Transport { .. }), "{error:?}");
    assert!(error.is_transient());
}

#[tokio::test]
async fn a_silent_engine_hits_the_call_deadline() {
    // The kernel accepts the TCP connection, but nobody ever speaks HTTP/2 on it.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let options = ClientOptions::default()
        .with_call_timeout(Duration::from_millis(300))
        .with_connect_timeout(Duration::from_secs(30));
    let client = DurableClient::connect_lazy(&format!("http://127.0.0.1:{port}"), options).unwrap();
    let started = std::time::Instant::now();
    let error = client.get_instance_without_payloads("any").await.unwrap_err();
    assert!(
        matches!(error, ClientError::DeadlineExceeded { rpc: "GetInstance", .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the deadline was not applied"
    );
    drop(listener);
}

/// Serves HTTP/2 on loopback, records each request's headers and answers every call UNIMPLEMENTED.
async fn recording_server() -> (u16, Arc<Mutex<Vec<hyper::HeaderMap>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let recorded = recorded.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    recorded.lock().unwrap().push(request.headers().clone());
                    async move {
                        Response::builder()
                            .header("content-type", "application/grpc")
                            .header("grpc-status", "12")
                            .header("grpc-message", "recorded")
                            .body(Full::new(Bytes::new()))
                    }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (port, seen)
}

#[tokio::test]
async fn every_call_carries_the_task_hub_headers_and_a_deadline() {
    let (port, seen) = recording_server().await;
    let options = ClientOptions::default()
        .with_task_hub("ReturnsHub")
        .with_connection_name("Storage")
        .with_call_timeout(Duration::from_secs(12));
    let client = DurableClient::connect(&format!("http://127.0.0.1:{port}"), options)
        .await
        .unwrap();

    let error = client.start_orchestration("Any", None, &()).await.unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Rpc {
                code: tonic::Code::Unimplemented,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_transient());
    client.purge_instances(&Default::default()).await.unwrap_err();
    client
        .signal_entity(&durabletask_sdk::EntityId::new("counter", "a"), "add", &1)
        .await
        .unwrap_err();
    client
        .wait_for_instance_completion("x", Duration::from_secs(3))
        .await
        .unwrap_err();

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 4);
    for headers in seen.iter() {
        assert_eq!(headers["durable-taskhub"], "ReturnsHub");
        assert_eq!(headers["durable-connectionname"], "Storage");
    }
    assert_eq!(seen[0]["grpc-timeout"], "12000000u");
    assert_eq!(seen[2]["grpc-timeout"], "12000000u");
    assert_eq!(DEFAULT_PURGE_DEADLINE, Duration::from_secs(300));
    assert_eq!(
        seen[1]["grpc-timeout"], "300000m",
        "purges without a filter timeout get the long purge deadline (5 minutes, in milliseconds)"
    );
    assert_eq!(seen[3]["grpc-timeout"], "3000000u", "wait calls use their own deadline");
}
