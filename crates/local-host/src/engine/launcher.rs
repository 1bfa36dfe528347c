//! Starting the local durable engine: `scripts/local_engine.py` (Microsoft's in-memory Durable Task
//! backend on 127.0.0.1) in the project's virtualenv, made by `scripts/setup-venv.sh` when missing.
//!
//! The engine's stdin is a pipe held by [`LocalEngine`]; the engine stops when it closes, so it never
//! outlives the local host, even when the host is killed. A task watches the process and tells
//! ([`LocalEngine::exit`]) when it ended and whether that was asked for, so an engine that dies on its own
//! is noticed at once.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{ChildStdin, Command};
use tokio::sync::{oneshot, watch};

/// How long the engine may take to print `LISTENING <port>`.
const ENGINE_STARTUP: Duration = Duration::from_secs(60);
/// Engine stderr lines kept for error messages.
const KEPT_STDERR_LINES: usize = 20;

/// Why the engine could not be started.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The project files are missing.
    #[error("cannot find {0}; pass --engine ADDRESS or run from the project (where scripts/local_engine.py is)")]
    ScriptMissing(PathBuf),
    /// The virtualenv could not be made.
    #[error("setting up the Python virtualenv failed ({0}); run `bash scripts/setup-venv.sh` to see why")]
    Setup(String),
    /// The process could not be started.
    #[error("cannot start the local engine with {python}: {source}")]
    Spawn {
        /// The interpreter.
        python: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The engine stopped or stayed silent before it was listening.
    #[error("the local engine did not start: {problem}{stderr}")]
    Startup {
        /// What happened.
        problem: String,
        /// Its last stderr lines, if any.
        stderr: String,
    },
}

/// How to start the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineLauncher {
    /// The Python interpreter of the virtualenv.
    pub python: PathBuf,
    /// `scripts/local_engine.py`.
    pub script: PathBuf,
    /// `scripts/setup-venv.sh`, run when `python` does not exist.
    pub setup_script: Option<PathBuf>,
}

impl EngineLauncher {
    /// The launcher of the project at `root` (honours `DURABLE_VENV`, like setup-venv.sh).
    pub fn for_project(root: &Path) -> Self {
        let venv = std::env::var_os("DURABLE_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".venv"));
        Self {
            python: venv.join("bin").join("python"),
            script: root.join("scripts").join("local_engine.py"),
            setup_script: Some(root.join("scripts").join("setup-venv.sh")),
        }
    }

    /// The launcher of the first folder from `start` upwards that holds `scripts/local_engine.py`.
    pub fn discover(start: &Path) -> Option<Self> {
        let start = start.canonicalize().ok()?;
        start
            .ancestors()
            .find(|dir| dir.join("scripts").join("local_engine.py").is_file())
            .map(Self::for_project)
    }

    /// The launcher of the workspace this crate was built in (for tests and `cargo run`).
    pub fn from_workspace() -> Self {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        Self::for_project(manifest.parent().and_then(Path::parent).unwrap_or(manifest))
    }

    /// Starts the engine on a free port and waits until it listens.
    pub async fn start(&self) -> Result<LocalEngine, EngineError> {
        self.start_on(0).await
    }

    /// Starts the engine on `port` of 127.0.0.1 (0: a free port) and waits until it listens.
    pub async fn start_on(&self, port: u16) -> Result<LocalEngine, EngineError> {
        if !self.script.is_file() {
            return Err(EngineError::ScriptMissing(self.script.clone()));
        }
        if !self.python.exists() {
            self.set_up_virtualenv().await?;
        }
        let mut child = Command::new(&self.python)
            .arg(&self.script)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| EngineError::Spawn {
                python: self.python.clone(),
                source,
            })?;
        let stdin = child.stdin.take();
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = child.stderr.take() {
            let tail = stderr_tail.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    crate::output::console::line(&format!("[engine] {line}"));
                    let mut tail = tail.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if tail.len() == KEPT_STDERR_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            });
        }
        let startup_error = |problem: String| {
            let tail = stderr_tail.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let stderr = if tail.is_empty() {
                String::new()
            } else {
                format!("\n{}", tail.iter().cloned().collect::<Vec<_>>().join("\n"))
            };
            EngineError::Startup { problem, stderr }
        };
        let stdout = child.stdout.take().ok_or_else(|| startup_error("no stdout".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(ENGINE_STARTUP, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = line
                    .strip_prefix("LISTENING ")
                    .and_then(|port| port.trim().parse::<u16>().ok())
                {
                    return Some(port);
                }
                crate::output::console::line(&format!("[engine] {line}"));
            }
            None
        })
        .await;
        let port = match port {
            Ok(Some(port)) => port,
            Ok(None) => {
                let status = child.wait().await.map(|status| status.to_string()).unwrap_or_default();
                // Let the stderr forwarder catch up with the last lines.
                tokio::task::yield_now().await;
                return Err(startup_error(format!("it exited ({status}) before printing LISTENING")));
            }
            Err(_) => {
                return Err(startup_error(format!(
                    "no LISTENING line within {} s",
                    ENGINE_STARTUP.as_secs()
                )))
            }
        };
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                crate::output::console::line(&format!("[engine] {line}"));
            }
        });
        tracing::info!(port, "local engine listening on 127.0.0.1:{port}");
        let pid = child.id();
        let (kill, kill_requested) = oneshot::channel::<()>();
        let (exit_sender, exit) = watch::channel(None);
        let stop_requested = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let requested = stop_requested.clone();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                // Asked to kill, or the handle was dropped.
                _ = kill_requested => {
                    requested.store(true, std::sync::atomic::Ordering::SeqCst);
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let status = status.map_or_else(|error| error.to_string(), |status| status.to_string());
            exit_sender.send_replace(Some(EngineExit {
                status,
                requested: requested.load(std::sync::atomic::Ordering::SeqCst),
            }));
        });
        Ok(LocalEngine {
            port,
            pid,
            stdin,
            kill: Some(kill),
            stop_requested,
            exit,
        })
    }

    async fn set_up_virtualenv(&self) -> Result<(), EngineError> {
        let Some(setup) = self.setup_script.as_ref().filter(|setup| setup.is_file()) else {
            return Err(EngineError::Setup(format!(
                "{} does not exist and there is no setup script",
                self.python.display()
            )));
        };
        tracing::info!("creating the Python virtualenv with {}", setup.display());
        let status = Command::new("bash")
            .arg(setup)
            .stdin(Stdio::null())
            .status()
            .await
            .map_err(|error| EngineError::Setup(error.to_string()))?;
        if !status.success() {
            return Err(EngineError::Setup(status.to_string()));
        }
        if !self.python.exists() {
            return Err(EngineError::Setup(format!(
                "{} still does not exist",
                self.python.display()
            )));
        }
        Ok(())
    }
}

/// How the engine process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineExit {
    /// Its exit status, e.g. `signal: 9 (SIGKILL)`.
    pub status: String,
    /// Whether the local host asked it to stop.
    pub requested: bool,
}

/// A running local engine; stopped when dropped.
#[derive(Debug)]
pub struct LocalEngine {
    port: u16,
    pid: Option<u32>,
    stdin: Option<ChildStdin>,
    kill: Option<oneshot::Sender<()>>,
    stop_requested: Arc<std::sync::atomic::AtomicBool>,
    exit: watch::Receiver<Option<EngineExit>>,
}

impl LocalEngine {
    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its gRPC address, `http://127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its operating-system process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.pid.filter(|_| self.exit.borrow().is_none())
    }

    /// Completes when the engine process has ended, telling how.
    pub fn exit(&self) -> impl std::future::Future<Output = EngineExit> + Send + 'static {
        let mut exit = self.exit.clone();
        async move {
            match exit.wait_for(Option::is_some).await {
                Ok(ended) => ended.clone().unwrap_or_else(unreachable_exit),
                // The watcher task is gone: the runtime is shutting down.
                Err(_) => unreachable_exit(),
            }
        }
    }

    /// Stops the engine: closes its stdin and waits a little, then kills it.
    pub async fn stop(mut self) {
        self.stop_requested.store(true, std::sync::atomic::Ordering::SeqCst);
        self.stdin.take();
        let exited = self.exit();
        if tokio::time::timeout(Duration::from_secs(5), exited).await.is_err() {
            if let Some(kill) = self.kill.take() {
                let _ = kill.send(());
            }
            let _ = tokio::time::timeout(Duration::from_secs(5), self.exit()).await;
        }
    }
}

fn unreachable_exit() -> EngineExit {
    EngineExit {
        status: "unknown (the local host is stopping)".to_owned(),
        requested: true,
    }
}

impl Drop for LocalEngine {
    fn drop(&mut self) {
        self.stop_requested.store(true, std::sync::atomic::Ordering::SeqCst);
        self.stdin.take();
        // Dropping the sender makes the watcher kill the process.
        self.kill.take();
    }
}
