//! The custom handler process, supervised as the Functions host does it: started with
//! `FUNCTIONS_CUSTOMHANDLER_PORT` (and the legacy `FUNCTIONS_HTTPWORKER_PORT`) set to a free loopback port
//! and the app settings as environment variables, ready once `GET /` gets any HTTP answer (polled every
//! 25 ms), restarted when it exits, and given up on after too many failures in a short window.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{watch, Mutex, Notify};
use tokio::task::JoinHandle;

use crate::handler::http_client::HttpClient;
use crate::output::stats::Stats;

/// How often readiness is polled (the host's interval).
const READINESS_POLL: Duration = Duration::from_millis(25);

/// What to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerCommand {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its working directory.
    pub working_dir: PathBuf,
    /// Extra environment variables (app settings and overrides), on top of the host's own environment.
    pub env: Vec<(String, String)>,
    /// The app root, passed as `FUNCTIONS_APP_ROOT_PATH`.
    pub app_root: PathBuf,
}

/// Where the handler's stdout and stderr go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HandlerOutput {
    /// To the host's stderr, each line prefixed with `[handler] `.
    #[default]
    Prefixed,
    /// Appended to a file.
    File(PathBuf),
    /// Discarded.
    Discard,
}

/// Supervision settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisorOptions {
    /// How long the handler may take to answer `GET /` (the host's default is 30 s).
    pub startup_timeout: Duration,
    /// Unexpected exits or failed starts tolerated within `restart_window` before giving up.
    pub max_restarts: usize,
    /// The window for `max_restarts`.
    pub restart_window: Duration,
    /// Where the handler's output goes.
    pub output: HandlerOutput,
    /// When the host stops for good: `Some(grace)` sends the handler SIGTERM and waits up to `grace` for it to
    /// exit (it exports the telemetry it still holds) before killing it; `None` kills it at once.
    pub stop_grace: Option<Duration>,
}

impl Default for SupervisorOptions {
    fn default() -> Self {
        Self {
            startup_timeout: Duration::from_secs(30),
            max_restarts: 3,
            restart_window: Duration::from_secs(60),
            output: HandlerOutput::Prefixed,
            stop_grace: None,
        }
    }
}

/// A running, ready handler process.
#[derive(Debug, Clone)]
pub struct HandlerInstance {
    /// Increases with every (re)start.
    pub generation: u64,
    /// The port it listens on.
    pub port: u16,
    /// Its operating-system process id (`None` if the platform did not report one).
    pub pid: Option<u32>,
    exited: watch::Receiver<bool>,
}

impl HandlerInstance {
    /// Whether this process has exited.
    pub fn has_exited(&self) -> bool {
        *self.exited.borrow()
    }

    /// Completes when this process has exited.
    pub async fn exited(&self) {
        let mut exited = self.exited.clone();
        // An error means the supervisor is gone, which also means the process is.
        let _ = exited.wait_for(|&gone| gone).await;
    }
}

/// The supervisor's view of the handler.
#[derive(Debug, Clone)]
pub enum HandlerState {
    /// Being started (or restarted).
    Starting,
    /// Ready for invocations.
    Ready(HandlerInstance),
    /// Given up: the reason.
    Failed(String),
    /// Shut down.
    Stopped,
}

/// Why no handler is available for an invocation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerUnavailable {
    /// The supervisor gave up.
    #[error("the handler is down: {0}")]
    Failed(String),
    /// The host is shutting down.
    #[error("the host is shutting down")]
    Stopped,
}

struct Shared {
    command: HandlerCommand,
    options: SupervisorOptions,
    http: HttpClient,
    stats: Arc<Stats>,
    state: watch::Sender<HandlerState>,
    /// The kill switch of the current process: (generation, notify).
    kill_switch: std::sync::Mutex<Option<(u64, Arc<Notify>)>>,
    shutting_down: std::sync::atomic::AtomicBool,
    output_file: Option<Arc<Mutex<tokio::fs::File>>>,
}

/// Starts, watches and restarts the handler process.
pub struct HandlerSupervisor {
    shared: Arc<Shared>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for HandlerSupervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerSupervisor")
            .field("command", &self.shared.command)
            .finish_non_exhaustive()
    }
}

impl HandlerSupervisor {
    /// Starts the handler and waits until it is ready (or the supervisor gives up).
    pub async fn start(
        command: HandlerCommand,
        options: SupervisorOptions,
        http: HttpClient,
        stats: Arc<Stats>,
    ) -> Result<Self, HandlerUnavailable> {
        let output_file = match &options.output {
            HandlerOutput::File(path) => {
                if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
                    let _ = tokio::fs::create_dir_all(parent).await;
                }
                let file = tokio::fs::File::create(path).await.map_err(|error| {
                    HandlerUnavailable::Failed(format!("cannot create the handler log {}: {error}", path.display()))
                })?;
                Some(Arc::new(Mutex::new(file)))
            }
            _ => None,
        };
        let shared = Arc::new(Shared {
            command,
            options,
            http,
            stats,
            state: watch::channel(HandlerState::Starting).0,
            kill_switch: std::sync::Mutex::new(None),
            shutting_down: std::sync::atomic::AtomicBool::new(false),
            output_file,
        });
        let task = tokio::spawn(supervise(shared.clone()));
        let supervisor = Self {
            shared,
            task: std::sync::Mutex::new(Some(task)),
        };
        supervisor.ready().await?;
        Ok(supervisor)
    }

    /// The current state.
    pub fn state(&self) -> HandlerState {
        self.shared.state.borrow().clone()
    }

    /// Waits until a handler process is ready and returns it.
    pub async fn ready(&self) -> Result<HandlerInstance, HandlerUnavailable> {
        let mut state = self.shared.state.subscribe();
        let settled = state
            .wait_for(|state| !matches!(state, HandlerState::Starting))
            .await
            .map(|state| state.clone())
            .unwrap_or(HandlerState::Stopped);
        match settled {
            HandlerState::Ready(instance) => Ok(instance),
            HandlerState::Failed(reason) => Err(HandlerUnavailable::Failed(reason)),
            HandlerState::Starting | HandlerState::Stopped => Err(HandlerUnavailable::Stopped),
        }
    }

    /// Completes with the reason when the supervisor gives up on the handler (never, while it runs).
    pub async fn given_up(&self) -> String {
        let mut state = self.shared.state.subscribe();
        let reason = match state.wait_for(|state| matches!(state, HandlerState::Failed(_))).await {
            Ok(state) => match &*state {
                HandlerState::Failed(reason) => Some(reason.clone()),
                _ => None,
            },
            Err(_) => None,
        };
        match reason {
            Some(reason) => reason,
            // The supervisor is gone, so the host is shutting down: there is nothing to report.
            None => std::future::pending().await,
        }
    }

    /// Kills the process of `generation` if it is still the current one; the supervisor then restarts
    /// it without counting a failure (the host does this after a function timeout).
    pub fn kill(&self, generation: u64) -> bool {
        let switch = self
            .shared
            .kill_switch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match switch.as_ref() {
            Some((current, notify)) if *current == generation => {
                self.mark_restarting(generation);
                notify.notify_one();
                true
            }
            _ => false,
        }
    }

    /// New invocations must wait for the next process rather than pick up one that is being killed.
    fn mark_restarting(&self, generation: u64) {
        self.shared.state.send_if_modified(|state| match state {
            HandlerState::Ready(instance) if instance.generation == generation => {
                *state = HandlerState::Starting;
                true
            }
            _ => false,
        });
    }

    /// Kills the current process, whatever its generation (for restart tests).
    pub fn kill_current(&self) -> Option<u64> {
        let switch = self
            .shared
            .kill_switch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        switch.as_ref().map(|(generation, notify)| {
            self.mark_restarting(*generation);
            notify.notify_one();
            *generation
        })
    }

    /// Stops the handler for good.
    pub async fn shutdown(&self) {
        self.shared
            .shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.kill_current();
        let task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Drop for HandlerSupervisor {
    fn drop(&mut self) {
        self.shared
            .shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.kill_current();
    }
}

/// Picks a free loopback port (the host's `GetUnusedTcpPort`: bind to port 0 and release it).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

enum Ended {
    /// The process exited by itself (or never became ready): counts against the restart budget.
    Unexpected(String),
    /// The host killed it (timeout, test, shutdown).
    Killed,
}

async fn supervise(shared: Arc<Shared>) {
    let mut failures: VecDeque<Instant> = VecDeque::new();
    let mut generation = 0_u64;
    loop {
        generation += 1;
        if generation > 1 {
            shared.stats.handler_restarted();
        }
        shared.state.send_replace(HandlerState::Starting);
        let ended = match run_once(&shared, generation).await {
            Ok(ended) => ended,
            Err(fatal) => {
                shared.state.send_replace(HandlerState::Failed(fatal));
                return;
            }
        };
        if shared.shutting_down.load(std::sync::atomic::Ordering::SeqCst) {
            shared.state.send_replace(HandlerState::Stopped);
            return;
        }
        if let Ended::Unexpected(reason) = ended {
            let now = Instant::now();
            failures.push_back(now);
            while failures
                .front()
                .is_some_and(|&at| now.duration_since(at) > shared.options.restart_window)
            {
                failures.pop_front();
            }
            if failures.len() > shared.options.max_restarts {
                let reason = format!(
                    "{reason}; {} failures within {} s, giving up (the host's \"Exceeded http worker restart retry count\")",
                    failures.len(),
                    shared.options.restart_window.as_secs()
                );
                tracing::error!("{reason}");
                shared.state.send_replace(HandlerState::Failed(reason));
                return;
            }
            tracing::warn!("{reason}; restarting the handler");
        } else {
            tracing::info!("handler process killed; restarting it");
        }
    }
}

/// Runs one handler process until it ends. `Err` is a fatal problem (the executable cannot be started).
async fn run_once(shared: &Arc<Shared>, generation: u64) -> Result<Ended, String> {
    let command = &shared.command;
    let port = free_port().map_err(|error| format!("cannot find a free port: {error}"))?;
    let mut child = spawn(command, port)
        .map_err(|error| format!("cannot start the handler {}: {error}", command.program.display()))?;
    let pid = child.id();
    forward_output(shared, &mut child);
    let kill = Arc::new(Notify::new());
    *shared
        .kill_switch
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((generation, kill.clone()));
    let (exited_sender, exited) = watch::channel(false);
    tracing::debug!(port, generation, program = %command.program.display(), "handler started");

    let startup = tokio::time::timeout(shared.options.startup_timeout, wait_ready(&shared.http, port));
    let ended = tokio::select! {
        ready = startup => match ready {
            Ok(()) => {
                shared.state.send_replace(HandlerState::Ready(HandlerInstance { generation, port, pid, exited }));
                tracing::info!(port, generation, "handler ready");
                tokio::select! {
                    status = child.wait() => Ended::Unexpected(exit_reason(status)),
                    () = kill.notified() => Ended::Killed,
                }
            }
            Err(_) => Ended::Unexpected(format!(
                "the handler did not answer GET / on port {port} within {} s",
                shared.options.startup_timeout.as_secs_f64()
            )),
        },
        status = child.wait() => Ended::Unexpected(format!("{} before it was ready", exit_reason(status))),
        () = kill.notified() => Ended::Killed,
    };
    if let (Ended::Killed, Some(grace), Some(pid)) = (&ended, shared.options.stop_grace, pid) {
        if shared.shutting_down.load(std::sync::atomic::Ordering::SeqCst) {
            stop_gracefully(&mut child, pid, grace).await;
        }
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
    // New invocations wait for the next process instead of picking up this dead one.
    shared.state.send_replace(HandlerState::Starting);
    *shared
        .kill_switch
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    exited_sender.send_replace(true);
    Ok(ended)
}

/// Sends `pid` SIGTERM and waits up to `grace` for it to exit.
async fn stop_gracefully(child: &mut Child, pid: u32, grace: Duration) {
    let signalled = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .is_ok_and(|status| status.success());
    if signalled && tokio::time::timeout(grace, child.wait()).await.is_err() {
        tracing::warn!(
            pid,
            "the handler did not exit within {} s of SIGTERM; killing it",
            grace.as_secs_f64()
        );
    }
}

fn exit_reason(status: std::io::Result<std::process::ExitStatus>) -> String {
    match status {
        Ok(status) => format!("the handler process exited ({status})"),
        Err(error) => format!("waiting for the handler process failed: {error}"),
    }
}

fn spawn(command: &HandlerCommand, port: u16) -> std::io::Result<Child> {
    let worker_id = uuid::Uuid::new_v4().to_string();
    let mut process = Command::new(&command.program);
    process
        .args(&command.args)
        .current_dir(&command.working_dir)
        .envs(command.env.iter().map(|(name, value)| (name, value)))
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("FUNCTIONS_HTTPWORKER_PORT", port.to_string())
        .env("FUNCTIONS_CUSTOMHANDLER_WORKER_ID", &worker_id)
        .env("FUNCTIONS_HTTPWORKER_ID", &worker_id)
        .env("FUNCTIONS_APP_ROOT_PATH", &command.app_root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    process.spawn()
}

async fn wait_ready(http: &HttpClient, port: u16) {
    let mut poll = tokio::time::interval(READINESS_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        poll.tick().await;
        if http.responds(port, Duration::from_secs(2)).await {
            return;
        }
    }
}

fn forward_output(shared: &Arc<Shared>, child: &mut Child) {
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(forward_lines(
            stdout,
            shared.options.output.clone(),
            shared.output_file.clone(),
        ));
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(forward_lines(
            stderr,
            shared.options.output.clone(),
            shared.output_file.clone(),
        ));
    }
}

async fn forward_lines(
    stream: impl AsyncRead + Unpin,
    output: HandlerOutput,
    file: Option<Arc<Mutex<tokio::fs::File>>>,
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        match (&output, &file) {
            (HandlerOutput::Prefixed, _) => crate::output::console::line(&format!("[handler] {line}")),
            (HandlerOutput::File(_), Some(file)) => {
                let mut file = file.lock().await;
                let _ = file.write_all(format!("{line}\n").as_bytes()).await;
                let _ = file.flush().await;
            }
            _ => {}
        }
    }
}
