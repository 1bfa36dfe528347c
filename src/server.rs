//! The HTTP/1.1 server under the router: connection limits suited to the one client it has (the Functions host,
//! on loopback) and a bounded drain on shutdown.
//!
//! - **Idle and slow headers**: hyper's header-read timer runs from the moment a connection opens or its previous
//!   response ends until a request's headers are complete, so one limit closes idle keep-alive connections,
//!   connections that never send anything, and headers that trickle in. It is longer than the 60 s after which the
//!   host's HttpClient (.NET 6+ `SocketsHttpHandler.PooledConnectionIdleTimeout`) drops an idle pooled connection,
//!   so the host always closes first and never sends on a connection the handler is closing.
//! - **Slow bodies**: `tower_http`'s request-body timeout fails a body that sends nothing for a while (the host
//!   writes an invocation in one go); the request is answered 400 and its connection closed.
//! - **Shutdown**: on the signal the listener closes, idle connections close, requests in flight get up to the
//!   drain bound to finish, and whatever is left after it is cut off, so a stalled client cannot hold the process.

use std::future::Future;
use std::io;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// The server's time limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// How long a connection may go without completing a request's headers, counted from when it opens or its
    /// previous response ends (idle keep-alive connections and slow headers alike).
    pub header_read_timeout: Duration,
    /// How long a request body may send nothing before the request fails.
    pub body_read_timeout: Duration,
    /// How long requests in flight at shutdown may take to finish before their connections are cut.
    pub drain_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(90),
            body_read_timeout: Duration::from_secs(30),
            // Long enough for an engine call in flight (DURABLE_CLIENT_TIMEOUT defaults to 10 s) to end.
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// How the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every connection finished within the drain bound.
    Completely,
    /// This many connections were still busy at the drain bound and were cut off.
    CutOff(usize),
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains (see the module overview).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<Drained> {
    let router = router.layer(RequestBodyTimeoutLayer::new(limits.body_read_timeout));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) if is_per_connection(&error) => continue,
                    Err(error) => {
                        // Out of file descriptors or memory: wait for connections to close instead of spinning.
                        tracing::warn!(%error, "cannot accept connections; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router.clone()));
                let connection = graceful.watch(connection);
                connections.spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, "connection closed with an error");
                    }
                });
            }
        }
    }
    drop(listener);
    let open = graceful.count();
    tracing::info!(connections = open, drain = ?limits.drain_timeout, "shutting down: draining connections");
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_ok()
    {
        return Ok(Drained::Completely);
    }
    while connections.try_join_next().is_some() {}
    let cut = connections.len();
    tracing::warn!(
        connections = cut,
        drain = ?limits.drain_timeout,
        "requests still in flight at the end of the drain are cut off"
    );
    connections.shutdown().await;
    Ok(Drained::CutOff(cut))
}

/// Errors of one connection attempt (the peer gave up), not of the listener.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}
