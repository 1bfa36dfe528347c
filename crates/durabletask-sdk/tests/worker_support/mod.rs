//! Shared by the worker tests: the local engine (`scripts/local_engine.py`, durabletask 1.12.0's in-memory
//! backend) in a child process, and a worker running on a Tokio task.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use durabletask_sdk::client::{ClientOptions, DurableClient};
use durabletask_sdk::worker::{Worker, WorkerError, WorkerOptions};
use durabletask_sdk::Registry;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long an engine may take to start, and an orchestration to finish.
pub const WAIT: Duration = Duration::from_secs(60);

/// A running local engine; killed when dropped.
pub struct Engine {
    child: Child,
    port: u16,
}

impl Engine {
    /// Starts an engine on a free port.
    pub fn start() -> Self {
        Self::start_on(0).expect("the engine starts on a free port")
    }

    /// Starts an engine on `port` (0: any free port); `None` when it cannot listen there.
    pub fn start_on(port: u16) -> Option<Self> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = std::env::var_os("DURABLE_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".venv"))
            .join("bin/python");
        let script = root.join("scripts/local_engine.py");
        assert!(
            python.exists() && script.exists(),
            "the local engine needs {} and {}: run `bash scripts/setup-venv.sh`",
            python.display(),
            script.display()
        );
        // stdin stays a pipe: the engine stops by itself if this process dies without dropping us.
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the local engine");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let line = receiver
            .recv_timeout(WAIT)
            .expect("the engine reports its port or exits");
        let mut engine = Self { child, port: 0 };
        // An engine that cannot bind exits without printing anything.
        engine.port = line.trim().strip_prefix("LISTENING ")?.parse().ok()?;
        Some(engine)
    }

    /// The engine's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The engine's endpoint URL.
    pub fn url(&self) -> String {
        url(self.port)
    }

    /// A client of the engine.
    pub fn client(&self) -> DurableClient {
        let options = ClientOptions::default().with_call_timeout(Duration::from_secs(10));
        DurableClient::connect_lazy(&self.url(), options).expect("a valid endpoint")
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The endpoint URL of a local engine on `port`.
pub fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// A port nothing listens on (the OS just handed it out and it was released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("a local address").port()
}

/// Worker options for tests: fast reconnects, a short shutdown timeout.
pub fn test_options() -> WorkerOptions {
    WorkerOptions::default()
        .with_reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .with_shutdown_timeout(Duration::from_secs(20))
        .with_max_concurrent_orchestrations(4)
        .with_max_concurrent_activities(16)
        .with_max_concurrent_entities(4)
}

/// A worker running on a Tokio task until [`RunningWorker::stop`].
pub struct RunningWorker {
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<Result<(), WorkerError>>,
}

impl RunningWorker {
    /// Starts `registry` on a worker for the engine at `url`.
    pub fn spawn(registry: Registry, options: WorkerOptions, url: String) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let worker = Worker::new(registry, options);
        let handle = tokio::spawn(async move {
            worker
                .run(&url, async {
                    let _ = stopped.await;
                })
                .await
        });
        Self {
            stop: Some(stop),
            handle,
        }
    }

    /// Requests shutdown without waiting for it.
    pub fn request_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// The task running the worker.
    pub fn handle(&mut self) -> &mut JoinHandle<Result<(), WorkerError>> {
        &mut self.handle
    }

    /// Requests shutdown and waits for the worker to return.
    pub async fn stop(mut self) -> Result<(), WorkerError> {
        self.request_stop();
        tokio::time::timeout(WAIT, &mut self.handle)
            .await
            .expect("the worker stops in time")
            .expect("the worker task does not panic")
    }
}
