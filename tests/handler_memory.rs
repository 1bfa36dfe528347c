//! Memory per invocation, against the handler binary as the host runs it (chunked bodies, concurrent
//! invocations), with the process's peak and current RSS read from `/proc/<pid>/status`.
//!
//! - The non-ignored tests prove the behaviour: an invocation above the body limit is answered 413 naming the
//!   limit, and the handler survives concurrent large messages, answering each.
//! - `memory_figures` (ignored) prints the figures recorded in BENCHMARKS.md; run it through
//!   `scripts/bench-memory.sh`, which builds the release handler and points `HANDLER_BIN` at it.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use local_host::handler::http_client::{chunked_body, BufferedResponse, HttpClient};
use returns_aggregator::app::MAX_INVOCATION_BYTES;
use serde_json::Value;
use support::host::{closed_endpoint, service_bus_invocation, MessageProperties};
use tokio::process::{Child, Command};

const MIB: usize = 1024 * 1024;
const GENEROUS: Duration = Duration::from_secs(300);

/// The handler binary under test: `HANDLER_BIN` (the release build, for figures) or this package's debug build.
fn handler_binary() -> String {
    std::env::var("HANDLER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_handler").to_string())
}

struct Handler {
    child: Child,
    port: u16,
    pid: u32,
}

impl Handler {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(handler_binary())
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
            .env("FUNCTIONS_APP_ROOT_PATH", support::router::app_root())
            .env("FUNCTIONS_WORKER_RUNTIME", "custom")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the handler starts");
        let pid = child.id().unwrap();
        let ready = HttpClient::default().responds_within(port, GENEROUS).await;
        assert!(ready, "the handler answers GET /");
        Self { child, port, pid }
    }

    /// `(peak RSS, current RSS)` in MiB.
    fn memory(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap();
        let field = |name: &str| -> f64 {
            let line = status.lines().find(|line| line.starts_with(name)).unwrap();
            let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
            kib / 1024.0
        };
        (field("VmHWM:"), field("VmRSS:"))
    }

    /// Waits until the current RSS is at most `mib`, or [`GENEROUS`] has passed; returns the last reading.
    async fn settled_rss(&self, mib: f64) -> f64 {
        let start = Instant::now();
        loop {
            let (_, rss) = self.memory();
            if rss <= mib || start.elapsed() > Duration::from_secs(10) {
                return rss;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn post(&self, function: &str, body: Bytes) -> BufferedResponse {
        let request = http::Request::post(format!("http://127.0.0.1:{}/{function}", self.port))
            .header("content-type", "application/json; charset=utf-8")
            .body(chunked_body(body))
            .unwrap();
        tokio::time::timeout(GENEROUS, HttpClient::default().send(request))
            .await
            .expect("the handler answers")
            .expect("the request completes")
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

trait RespondsWithin {
    async fn responds_within(&self, port: u16, bound: Duration) -> bool;
}

impl RespondsWithin for HttpClient {
    async fn responds_within(&self, port: u16, bound: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < bound {
            if self.responds(port, Duration::from_secs(1)).await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }
}

/// A Service Bus invocation (`dataType: binary`, as function.json declares) carrying `message`.
fn service_bus(message: &[u8], id: &str) -> Bytes {
    let invocation = service_bus_invocation(message, &MessageProperties::new(id), &closed_endpoint());
    Bytes::from(serde_json::to_vec(&invocation).unwrap())
}

/// A message of about `size` bytes that is JSON but not a valid event: one huge string field.
fn big_text_message(size: usize) -> Vec<u8> {
    let mut message = br#"{"eventType":"ReturnBooked","note":""#.to_vec();
    message.resize(size - 2, b'x');
    message.extend_from_slice(br#""}"#);
    message
}

/// A message of about `size` bytes of small JSON numbers: `[1,1,1,...]`.
fn numbers_message(size: usize) -> Vec<u8> {
    let mut message = Vec::with_capacity(size);
    message.push(b'[');
    while message.len() + 3 < size {
        message.extend_from_slice(b"1,");
    }
    message.extend_from_slice(b"1]");
    message
}

fn json(response: &BufferedResponse) -> Value {
    serde_json::from_slice(&response.body).unwrap_or(Value::Null)
}

#[tokio::test]
async fn an_invocation_above_the_limit_is_a_413_naming_the_limit() {
    let handler = Handler::start().await;
    let too_big = Bytes::from(vec![b' '; MAX_INVOCATION_BYTES + 1]);
    let response = handler.post("ServiceBusTrigger", too_big).await;
    assert_eq!(response.status, 413, "{:?}", String::from_utf8_lossy(&response.body));
    let error = json(&response)["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains(&MAX_INVOCATION_BYTES.to_string()), "{error}");
    // The handler still serves after refusing.
    let small = handler.post("ServiceBusTrigger", service_bus(b"{}", "m-small")).await;
    assert_eq!(small.status, 200, "{:?}", String::from_utf8_lossy(&small.body));
    handler.stop().await;
}

#[tokio::test]
async fn a_declared_length_above_the_limit_is_refused_before_the_body_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let handler = Handler::start().await;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", handler.port))
        .await
        .unwrap();
    let head = format!(
        "POST /ServiceBusTrigger HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        MAX_INVOCATION_BYTES + 1
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    // The answer comes without a byte of the body being sent.
    while !String::from_utf8_lossy(&answer).contains("bytes") {
        let n = tokio::time::timeout(GENEROUS, stream.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        assert!(
            n > 0,
            "closed without an answer: {:?}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buffer[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    handler.stop().await;
}

#[tokio::test]
async fn concurrent_large_messages_are_all_answered() {
    let handler = Handler::start().await;
    let messages: Vec<Vec<u8>> = (0..4)
        .map(|i| {
            if i % 2 == 0 {
                big_text_message(8 * MIB)
            } else {
                numbers_message(8 * MIB)
            }
        })
        .collect();
    let sends = messages
        .iter()
        .enumerate()
        .map(|(i, message)| handler.post("ServiceBusTrigger", service_bus(message, &format!("m-{i}"))));
    for (i, response) in futures::future::join_all(sends).await.into_iter().enumerate() {
        assert_eq!(response.status, 200, "{:?}", String::from_utf8_lossy(&response.body));
        let record = &json(&response)["Outputs"]["invalidEvents"];
        let error = record["error"].as_str().unwrap_or_default();
        if i % 2 == 1 {
            assert!(
                error.contains("holds more than 100000 JSON values"),
                "kept with its reason: {error}"
            );
        } else {
            assert!(record["reason"].is_string(), "kept with its reason: {record}");
        }
        let kept = record["body"]["text"].as_str().map(str::len);
        assert_eq!(kept, Some(messages[i].len()), "message {i} is kept whole");
    }
    handler.stop().await;
}

/// Prints the figures for BENCHMARKS.md (see `scripts/bench-memory.sh`).
#[tokio::test]
#[ignore = "a measurement: run with scripts/bench-memory.sh"]
async fn memory_figures() {
    println!("handler: {}", handler_binary());
    println!("limit: {MAX_INVOCATION_BYTES} bytes");
    println!("| case | invocation MiB | peak RSS MiB | bound 2×body+20 MiB | RSS after MiB |");
    println!("|---|---|---|---|---|");
    let largest_message = (MAX_INVOCATION_BYTES - 2 * MIB) / 4 * 3;
    let cases: Vec<(&str, Vec<Bytes>)> = vec![
        ("idle", vec![]),
        (
            "1 message, largest (JSON text)",
            vec![service_bus(&big_text_message(largest_message), "m-1")],
        ),
        (
            "1 message, 50 MiB of small JSON numbers",
            vec![service_bus(&numbers_message(50 * MIB), "m-1")],
        ),
        (
            "4 concurrent messages, 25 MiB each",
            (0..4)
                .map(|i| service_bus(&big_text_message(25 * MIB), &format!("m-{i}")))
                .collect(),
        ),
        (
            "16 concurrent messages, 8 MiB numbers",
            (0..16)
                .map(|i| service_bus(&numbers_message(8 * MIB), &format!("m-{i}")))
                .collect(),
        ),
        (
            "250 MiB invocation (over the limit)",
            vec![Bytes::from(vec![b' '; 250 * MIB])],
        ),
    ];
    for (name, bodies) in cases {
        let handler = Handler::start().await;
        let sizes: Vec<usize> = bodies.iter().map(Bytes::len).collect();
        let total: usize = sizes.iter().sum();
        let sends = bodies.into_iter().map(|body| handler.post("ServiceBusTrigger", body));
        let statuses: Vec<u16> = futures::future::join_all(sends)
            .await
            .iter()
            .map(|r| r.status)
            .collect();
        let (peak, _) = handler.memory();
        let after = handler.settled_rss(10.0).await;
        let invocation = total as f64 / MIB as f64;
        println!(
            "| {name} (answers {statuses:?}) | {invocation:.1} | {peak:.1} | {:.1} | {after:.1} |",
            2.0 * invocation + 20.0
        );
        handler.stop().await;
    }
}
