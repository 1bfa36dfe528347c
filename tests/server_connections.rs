//! The real server (`server::serve` on a TCP port, as `main` runs it, and the handler binary itself) against
//! clients that misbehave: idle, slow headers, slow bodies, and a slow request in flight at shutdown.
//!
//! Limits are shortened for the in-process tests; every wait is on a condition (the server closing the
//! connection, the server returning, the process exiting), under a generous bound.

mod support;

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::routing::post;
use axum::Router;
use returns_aggregator::app::app;
use returns_aggregator::server::{serve, Drained, ServerLimits};
use returns_aggregator::state::AppState;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

/// How long a test waits for something the server should do within a fraction of a second.
const GENEROUS: Duration = Duration::from_secs(60);

const SHORT: ServerLimits = ServerLimits {
    header_read_timeout: Duration::from_millis(300),
    body_read_timeout: Duration::from_millis(300),
    drain_timeout: Duration::from_millis(500),
};

struct Running {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<Drained>>,
}

impl Running {
    async fn start(router: Router, limits: ServerLimits) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, router, limits, async {
            let _ = stopped.await;
        }));
        Self {
            address,
            stop: Some(stop),
            server,
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.address).await.unwrap()
    }

    /// Signals shutdown and waits for `serve` to return.
    async fn shut_down(mut self) -> Drained {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(GENEROUS, self.server)
            .await
            .expect("the server returns within the drain bound")
            .unwrap()
            .unwrap()
    }
}

fn handler_router() -> Router {
    app(AppState::new(support::router::config(&[])))
}

/// Reads until the server closes the connection; returns what it sent. Fails if it is still open after
/// [`GENEROUS`].
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(GENEROUS, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server kept the connection open; it sent {:?}",
        String::from_utf8_lossy(&received)
    );
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn a_connection_that_never_sends_anything_is_closed() {
    let server = Running::start(handler_router(), SHORT).await;
    let mut idle = server.connect().await;
    read_until_closed(&mut idle).await;
    server.shut_down().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_its_answer() {
    let server = Running::start(handler_router(), SHORT).await;
    let mut stream = server.connect().await;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let received = read_until_closed(&mut stream).await;
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
    assert!(received.ends_with("ready"), "{received}");
    server.shut_down().await;
}

#[tokio::test]
async fn headers_that_trickle_in_are_cut_off() {
    let server = Running::start(handler_router(), SHORT).await;
    let mut stream = server.connect().await;
    stream
        .write_all(b"POST /ServiceBusTrigger HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let received = read_until_closed(&mut stream).await;
    assert!(!received.contains("200 OK"), "{received}");
    server.shut_down().await;
}

#[tokio::test]
async fn a_body_that_stalls_is_answered_and_its_connection_closed() {
    let server = Running::start(handler_router(), SHORT).await;
    let mut stream = server.connect().await;
    stream
        .write_all(
            b"POST /ServiceBusTrigger HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{\"Data\":",
        )
        .await
        .unwrap();
    let received = read_until_closed(&mut stream).await;
    assert!(
        received.starts_with("HTTP/1.1 408"),
        "a stalled body gets a 408 before the close: {received}"
    );
    assert!(received.contains("stopped arriving"), "{received}");
    server.shut_down().await;
}

#[tokio::test]
async fn many_idle_and_slow_connections_are_all_released() {
    let server = Running::start(handler_router(), SHORT).await;
    let mut held = Vec::new();
    for i in 0..200 {
        let mut stream = server.connect().await;
        match i % 3 {
            0 => {}
            1 => stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap(),
            _ => stream
                .write_all(b"POST /PurgeTimer HTTP/1.1\r\nHost: a\r\nContent-Length: 50\r\n\r\n{")
                .await
                .unwrap(),
        }
        held.push(stream);
    }
    for stream in &mut held {
        read_until_closed(stream).await;
    }
    // The server still answers well-behaved requests.
    let mut fresh = server.connect().await;
    fresh
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert!(read_until_closed(&mut fresh).await.starts_with("HTTP/1.1 200"));
    server.shut_down().await;
}

/// A router whose one route answers only when `release` is notified (it signals `entered` first).
fn slow_router(entered: Arc<Notify>, release: Arc<Notify>) -> Router {
    Router::new().route(
        "/slow",
        post(move || {
            let (entered, release) = (entered.clone(), release.clone());
            async move {
                entered.notify_one();
                release.notified().await;
                "finished"
            }
        }),
    )
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish_within_the_drain() {
    let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let limits = ServerLimits {
        drain_timeout: GENEROUS,
        ..SHORT
    };
    let server = Running::start(slow_router(entered.clone(), release.clone()), limits).await;
    let mut stream = server.connect().await;
    stream
        .write_all(b"POST /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    entered.notified().await;
    let mut idle = server.connect().await;
    let shutdown = tokio::spawn(server.shut_down());
    // New connections are refused or closed once shutdown begins; the idle one is closed at once.
    read_until_closed(&mut idle).await;
    release.notify_one();
    let received = read_until_closed(&mut stream).await;
    assert!(
        received.starts_with("HTTP/1.1 200") && received.ends_with("finished"),
        "{received}"
    );
    assert_eq!(shutdown.await.unwrap(), Drained::Completely);
}

#[tokio::test]
async fn shutdown_cuts_off_a_stalled_request_at_the_drain_bound() {
    let limits = ServerLimits {
        body_read_timeout: Duration::from_secs(3_600),
        ..SHORT
    };
    let reading = Arc::new(Notify::new());
    let router = Router::new().route(
        "/upload",
        post({
            let reading = reading.clone();
            move |body: Body| async move {
                reading.notify_one();
                axum::body::to_bytes(body, usize::MAX)
                    .await
                    .map(|bytes| bytes.len().to_string())
                    .map_err(|_| ())
            }
        }),
    );
    let server = Running::start(router, limits).await;
    let mut stalled = server.connect().await;
    stalled
        .write_all(b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{")
        .await
        .unwrap();
    reading.notified().await;
    assert_eq!(server.shut_down().await, Drained::CutOff(1));
    read_until_closed(&mut stalled).await;
}

/// A free loopback port (bound and released; the handler binds it next).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn the_handler_binary_exits_cleanly_on_sigterm_with_a_stalled_request_in_flight() {
    let port = free_port();
    let mut handler = tokio::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("FUNCTIONS_APP_ROOT_PATH", support::router::app_root())
        .env("FUNCTIONS_WORKER_RUNTIME", "custom")
        // tower_http's DEBUG "started processing request" tells the test when the request is in flight.
        .env("RUST_LOG", "warn,tower_http=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the handler starts");
    let mut log = BufReader::new(handler.stdout.take().unwrap()).lines();
    // Ready when it accepts connections (what the host polls for).
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stalled = tokio::time::timeout(GENEROUS, async {
        loop {
            if let Ok(stream) = TcpStream::connect(address).await {
                break stream;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await
    .expect("the handler listens");
    stalled
        .write_all(b"POST /ServiceBusTrigger HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{")
        .await
        .unwrap();
    let mut seen = Vec::new();
    tokio::time::timeout(GENEROUS, async {
        while let Some(line) = log.next_line().await.unwrap() {
            let started = line.contains("started processing request");
            seen.push(line);
            if started {
                break;
            }
        }
    })
    .await
    .expect("the request reaches the router");
    let pid = handler.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    // The drain bound is 10 s; the process must be gone well within the generous bound, and exit 0.
    let status = tokio::time::timeout(GENEROUS, handler.wait())
        .await
        .expect("the handler exits after its drain bound")
        .unwrap();
    while let Some(line) = log.next_line().await.unwrap() {
        seen.push(line);
    }
    let mut stderr = String::new();
    handler
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(status.success(), "exit {status:?}; stderr: {stderr}; log: {seen:#?}");
    assert!(
        seen.iter().any(|line| line.contains("cut off")),
        "the cut-off request is logged: {seen:#?}"
    );
    read_until_closed(&mut stalled).await;
}
