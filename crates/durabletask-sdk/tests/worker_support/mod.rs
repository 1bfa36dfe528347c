//! Shared by the worker tests: the local engine (`scripts/local_engine.py`, durabletask 1.12.0's in-memory
//! backend) in a child process, and a worker running on a Tokio task.

#![allow(dead_code)] // each test file uses its own subset

use std::time::Duration;

use durabletask_sdk::worker::{Worker, WorkerError, WorkerOptions};
use durabletask_sdk::Registry;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long an engine may take to start, and an orchestration to finish.
pub const WAIT: Duration = Duration::from_secs(60);

/// The local engine, from the workspace's shared launcher.
#[allow(unused_imports)] // each test file uses its own subset
pub use test_support::engine::LocalEngine as Engine;

/// The endpoint URL of a local engine on `port`.
pub fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

#[allow(unused_imports)] // each test file uses its own subset
pub use test_support::engine::free_port;

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
