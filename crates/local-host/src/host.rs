//! The local host assembled: the app model, the durable engine (started here or given by address), the
//! supervised handler, the Durable work-item loop, Service Bus delivery, timers and the optional HTTP
//! passthrough. [`LocalHost`] is the library API the CLI and end-to-end tests drive.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app_model::{AppModelError, FunctionApp, FunctionDefinition, TriggerKind};
use crate::durable::client_proxy;
use crate::durable::scheduled::{Scheduled, Waiting};
use crate::durable::trace_context::TraceContexts;
use crate::durable::{run_work_items, DurableOptions};
use crate::engine::client::{connect_lazy, engine_url, EngineAddressError, SidecarClient};
use crate::engine::{EngineError, EngineLauncher, LocalEngine};
use crate::handler::http_client::HttpClient;
use crate::handler::process::{
    HandlerCommand, HandlerOutput, HandlerSupervisor, HandlerUnavailable, SupervisorOptions,
};
use crate::invocation::envelope::SystemBindingData;
use crate::invocation::faults::{FaultFired, InvocationFault};
use crate::invocation::invoke::{InvokeError, Invoker};
use crate::invocation::payloads::{add_durable_clients, timer_request, DurableClientSettings};
use crate::output::idle::{wait_idle, IdleError, IdleOptions, IdleReport};
use crate::output::problems::Problem;
use crate::output::process_cpu::{cpu_time, own_cpu_time, ProcessCpu};
use crate::output::progress::ProgressView;
use crate::output::published::{PublishedMessage, Records};
use crate::output::stats::{Stats, StatsSnapshot};
use crate::triggers::http::{router, HttpContext};
use crate::triggers::messages::{DeadLetteredMessage, MessageLine, ServiceBusMessage};
use crate::triggers::service_bus::{
    deliver, plan_deliveries, DeliveryContext, DeliveryError, PlanOptions, DEFAULT_MAX_DELIVERY_COUNT,
};
use crate::triggers::timers::{timer_info, ScheduleError, TimerSchedule};

/// Which durable engine to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineChoice {
    /// A running `TaskHubSidecarService` (e.g. `127.0.0.1:4001` or `http://127.0.0.1:4001`).
    Address(String),
    /// Start the local engine with this launcher.
    Launch(EngineLauncher),
}

/// How to run the local host.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// The function app root (holding host.json).
    pub app_root: PathBuf,
    /// The handler executable, instead of host.json's `defaultExecutablePath`.
    pub handler: Option<PathBuf>,
    /// App settings added to (or replacing) local.settings.json `Values`.
    pub settings: Vec<(String, String)>,
    /// The durable engine.
    pub engine: EngineChoice,
    /// Where to write published messages (JSONL), if anywhere.
    pub published_path: Option<PathBuf>,
    /// Where to write dead-lettered messages (JSONL), if anywhere.
    pub dead_letter_path: Option<PathBuf>,
    /// Where to write the audit copy of every message sent to the app's Service Bus triggers (JSONL in the
    /// message-file format), if anywhere; it is kept in memory either way ([`LocalHost::audited`]).
    pub audit_path: Option<PathBuf>,
    /// Where the handler's output goes.
    pub handler_output: HandlerOutput,
    /// A function timeout replacing host.json's `functionTimeout`.
    pub function_timeout: Option<Duration>,
    /// How long the handler may take to answer `GET /`.
    pub startup_timeout: Duration,
    /// Service Bus `MaxDeliveryCount`.
    pub max_delivery_count: u32,
    /// A Service Bus concurrency replacing host.json's `maxConcurrentCalls`.
    pub max_concurrent_calls: Option<usize>,
    /// Engine work items processed at once.
    pub durable_concurrency: usize,
    /// Serve HTTP-triggered functions on this port (0 = any free port).
    pub http_port: Option<u16>,
    /// At shutdown, give the handler this long to exit after SIGTERM (so it exports what it holds) instead of
    /// killing it at once.
    pub handler_stop_grace: Option<Duration>,
}

impl HostOptions {
    /// Defaults for the app at `app_root` with `engine`.
    pub fn new(app_root: impl Into<PathBuf>, engine: EngineChoice) -> Self {
        Self {
            app_root: app_root.into(),
            handler: None,
            settings: Vec::new(),
            engine,
            published_path: None,
            dead_letter_path: None,
            audit_path: None,
            handler_output: HandlerOutput::Prefixed,
            function_timeout: None,
            startup_timeout: Duration::from_secs(30),
            max_delivery_count: DEFAULT_MAX_DELIVERY_COUNT,
            max_concurrent_calls: None,
            durable_concurrency: 32,
            http_port: None,
            handler_stop_grace: None,
        }
    }
}

/// A fatal local-host error.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The app could not be read.
    #[error(transparent)]
    AppModel(#[from] AppModelError),
    /// The engine could not be started.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The engine address is invalid.
    #[error(transparent)]
    EngineAddress(#[from] EngineAddressError),
    /// No handler executable is configured.
    #[error("{0}/host.json has no customHandler.description.defaultExecutablePath; pass --handler")]
    NoHandler(PathBuf),
    /// The handler is down for good.
    #[error(transparent)]
    Handler(#[from] HandlerUnavailable),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Messages could not be delivered.
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// A message-file line names a function that cannot receive it.
    #[error("message line {line}: {problem}")]
    MessageTarget {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// A timer cannot be fired.
    #[error("timer {name}: {problem}")]
    Timer {
        /// The function.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// The run did not become idle.
    #[error(transparent)]
    Idle(#[from] IdleError),
    /// The engine cannot be stopped or started: it was given by address, not started here.
    #[error("the engine at {0} was not started by the local host, so it cannot stop or start it")]
    EngineNotManaged(String),
    /// The engine the local host started stopped by itself.
    #[error("the durable engine stopped during the run: {0}")]
    EngineDied(String),
    /// The fault cannot be injected.
    #[error("cannot inject {fault:?} into {function}: {problem}")]
    Fault {
        /// The function.
        function: String,
        /// The fault.
        fault: InvocationFault,
        /// Why not.
        problem: String,
    },
}

/// The engine the local host started, which it can stop and start again on the same port.
#[derive(Debug)]
struct ManagedEngine {
    launcher: EngineLauncher,
    port: u16,
    running: tokio::sync::Mutex<Option<LocalEngine>>,
}

/// Message-file lines sorted by what they trigger.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClassifiedLines {
    /// Lines for Service Bus triggered functions (their `function` set to the exact function name).
    pub messages: Vec<MessageLine>,
    /// Timer functions to fire after the messages, in file order.
    pub timers: Vec<String>,
}

/// Sorts message-file lines into Service Bus messages and timer firings; function names are matched
/// exactly, then case-insensitively.
pub fn classify_lines(app: &FunctionApp, lines: Vec<MessageLine>) -> Result<ClassifiedLines, HostError> {
    let mut classified = ClassifiedLines::default();
    for mut line in lines {
        let name = &line.message.function;
        let function = app
            .function(name)
            .or_else(|| {
                app.functions
                    .values()
                    .find(|function| function.name.eq_ignore_ascii_case(name))
            })
            .ok_or_else(|| HostError::MessageTarget {
                line: line.line,
                problem: format!("the app has no function \"{name}\" (functions: {})", names(app)),
            })?;
        match &function.trigger.kind {
            TriggerKind::ServiceBus { .. } => {
                line.message.function = function.name.clone();
                classified.messages.push(line);
            }
            TriggerKind::Timer { .. } => classified.timers.push(function.name.clone()),
            _ => {
                return Err(HostError::MessageTarget {
                    line: line.line,
                    problem: format!(
                        "\"{}\" is neither a Service Bus nor a timer triggered function",
                        function.name
                    ),
                })
            }
        }
    }
    Ok(classified)
}

/// The timer-triggered function called `name` (exactly, else case-insensitively), or an error naming the timer
/// functions the app has.
pub fn timer_function<'a>(app: &'a FunctionApp, name: &str) -> Result<&'a FunctionDefinition, HostError> {
    let timers: Vec<&str> = app
        .functions
        .values()
        .filter(|function| matches!(function.trigger.kind, TriggerKind::Timer { .. }))
        .map(|function| function.name.as_str())
        .collect();
    let problem = |what: &str| HostError::Timer {
        name: name.to_owned(),
        problem: format!("{what} (timer functions: {})", timers.join(", ")),
    };
    let function = app
        .function(name)
        .or_else(|| {
            app.functions
                .values()
                .find(|function| function.name.eq_ignore_ascii_case(name))
        })
        .ok_or_else(|| problem("the app has no such function"))?;
    match function.trigger.kind {
        TriggerKind::Timer { .. } => Ok(function),
        _ => Err(problem("not a timer triggered function")),
    }
}

fn names(app: &FunctionApp) -> String {
    app.functions.keys().cloned().collect::<Vec<_>>().join(", ")
}

/// A running local host.
pub struct LocalHost {
    app: Arc<FunctionApp>,
    stats: Arc<Stats>,
    records: Arc<Records>,
    invoker: Arc<Invoker>,
    supervisor: Arc<HandlerSupervisor>,
    engine: Option<ManagedEngine>,
    engine_address: String,
    sidecar: SidecarClient,
    client_settings: DurableClientSettings,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    http_address: Option<SocketAddr>,
    max_delivery_count: u32,
    max_concurrent_calls: usize,
    engine_died: watch::Sender<Option<String>>,
    scheduled: Arc<Scheduled>,
    durable_paused: watch::Sender<bool>,
}

impl std::fmt::Debug for LocalHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalHost")
            .field("app", &self.app.root)
            .field("engine", &self.engine_address)
            .finish_non_exhaustive()
    }
}

impl LocalHost {
    /// Loads the app, starts or connects to the engine, starts the handler and the work-item loop.
    pub async fn start(options: HostOptions) -> Result<Self, HostError> {
        let app = Arc::new(FunctionApp::load(&options.app_root, &options.settings)?);
        let command = handler_command(&app, &options)?;
        let stats = Arc::new(Stats::default());
        let records = Records::new(options.published_path.as_deref(), options.dead_letter_path.as_deref())
            .and_then(|records| records.with_audit_file(options.audit_path.as_deref()))
            .map_err(|(path, source)| HostError::Io { path, source })?;
        let records = Arc::new(records);

        let engine_died = watch::channel(None).0;
        let (engine, engine_address) = match &options.engine {
            EngineChoice::Address(address) => (None, engine_url(address)),
            EngineChoice::Launch(launcher) => {
                let engine = launcher.start().await?;
                watch_engine(&engine, stats.clone(), engine_died.clone());
                let address = engine.address();
                let managed = ManagedEngine {
                    launcher: launcher.clone(),
                    port: engine.port(),
                    running: tokio::sync::Mutex::new(Some(engine)),
                };
                (Some(managed), address)
            }
        };
        let sidecar = connect_lazy(&engine_address)?;

        let http = HttpClient::default();
        let supervisor_options = SupervisorOptions {
            startup_timeout: options.startup_timeout,
            output: options.handler_output.clone(),
            stop_grace: options.handler_stop_grace,
            ..SupervisorOptions::default()
        };
        let supervisor =
            Arc::new(HandlerSupervisor::start(command, supervisor_options, http.clone(), stats.clone()).await?);
        let function_timeout = options.function_timeout.or_else(|| app.host.function_timeout());
        let invoker = Arc::new(Invoker::new(
            supervisor.clone(),
            http,
            stats.clone(),
            records.clone(),
            function_timeout,
        ));

        let scheduled = Arc::new(Scheduled::default());
        let durable_paused = watch::channel(false).0;
        let (shutdown, shutdown_receiver) = watch::channel(false);
        let mut tasks = Vec::new();
        let http_listener = match options.http_port {
            Some(port) => {
                let address = SocketAddr::from(([127, 0, 0, 1], port));
                Some(
                    tokio::net::TcpListener::bind(address)
                        .await
                        .map_err(|source| HostError::Io {
                            path: PathBuf::from(format!("http://{address}")),
                            source,
                        })?,
                )
            }
            None => None,
        };
        let http_address = http_listener.as_ref().and_then(|listener| listener.local_addr().ok());
        let http_base_url = match http_address {
            Some(address) => format!("http://{address}/runtime/webhooks/durabletask"),
            None => "http://localhost:7071/runtime/webhooks/durabletask".to_owned(),
        };
        let trace_contexts = Arc::new(TraceContexts::default());
        // When the app exports traces, its durable client talks to a pass-through that keeps their context, as the
        // extension's endpoint does; otherwise straight to the engine (the extra hop costs about half a
        // millisecond per call, and the fault tests race the engine's dispatch against a call's answer).
        let rpc_base_url = if exports_traces(&app.settings) {
            client_proxy::start(&engine_address, trace_contexts.clone(), shutdown_receiver.clone())
                .await
                .map_err(|source| HostError::Io {
                    path: PathBuf::from("durable client endpoint (127.0.0.1)"),
                    source,
                })?
        } else {
            engine_address.clone()
        };
        let client_settings = DurableClientSettings {
            hub_name: app.host.hub_name().to_owned(),
            rpc_base_url,
            http_base_url,
        };

        tasks.push(tokio::spawn(run_work_items(
            app.clone(),
            invoker.clone(),
            stats.clone(),
            sidecar.clone(),
            DurableOptions {
                concurrency: options.durable_concurrency,
                client_settings: client_settings.clone(),
                scheduled: scheduled.clone(),
                paused: durable_paused.subscribe(),
                trace_contexts,
            },
            shutdown_receiver.clone(),
        )));
        if let (Some(listener), Some(address)) = (http_listener, http_address) {
            let context = Arc::new(HttpContext {
                app: app.clone(),
                invoker: invoker.clone(),
                client_settings: client_settings.clone(),
                base_url: format!("http://{address}"),
            });
            let mut stop = shutdown_receiver.clone();
            tasks.push(tokio::spawn(async move {
                let served = axum::serve(listener, router(context))
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|&stopping| stopping).await;
                    })
                    .await;
                if let Err(error) = served {
                    tracing::error!("the HTTP passthrough server failed: {error}");
                }
            }));
            tracing::info!("HTTP functions served at http://{address}/api/");
        }

        let max_concurrent_calls = options
            .max_concurrent_calls
            .unwrap_or_else(|| app.host.max_concurrent_calls());
        Ok(Self {
            app,
            stats,
            records,
            invoker,
            supervisor,
            engine,
            engine_address,
            sidecar,
            client_settings,
            shutdown,
            tasks,
            http_address,
            max_delivery_count: options.max_delivery_count,
            max_concurrent_calls,
            engine_died,
            scheduled,
            durable_paused,
        })
    }

    /// The app.
    pub fn app(&self) -> &FunctionApp {
        &self.app
    }

    /// The engine's gRPC address (`http://127.0.0.1:<port>`).
    pub fn engine_address(&self) -> &str {
        &self.engine_address
    }

    /// A client of the engine (for tests that query instances or entities).
    pub fn engine_client(&self) -> SidecarClient {
        self.sidecar.clone()
    }

    /// The address of the HTTP passthrough server, when serving.
    pub fn http_address(&self) -> Option<SocketAddr> {
        self.http_address
    }

    /// The statistics now.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// The messages published so far.
    pub fn published(&self) -> Vec<PublishedMessage> {
        self.records.published()
    }

    /// The messages dead-lettered so far.
    pub fn dead_lettered(&self) -> Vec<DeadLetteredMessage> {
        self.records.dead_lettered()
    }

    /// The audit copy: every message sent to the app's Service Bus triggers so far, as the topic's audit
    /// subscription keeps it ([`crate::triggers::audit`]).
    pub fn audited(&self) -> Vec<ServiceBusMessage> {
        self.records.audited()
    }

    /// The handler's current port, once it is ready.
    pub async fn handler_port(&self) -> Result<u16, HostError> {
        Ok(self.supervisor.ready().await?.port)
    }

    /// Kills the handler process (the host restarts it, as after a crash or a timeout); returns the
    /// generation killed.
    pub fn kill_handler(&self) -> Option<u64> {
        self.supervisor.kill_current()
    }

    /// Arms `fault` for the next invocation of `function` (see [`crate::invocation::faults`]); the returned handle
    /// completes once it was applied. [`InvocationFault::Hang`] needs a function timeout to end.
    pub fn inject_fault(&self, function: &str, fault: InvocationFault) -> Result<FaultFired, HostError> {
        let problem = if self.app.function(function).is_none() {
            Some(format!(
                "the app has no such function (functions: {})",
                names(&self.app)
            ))
        } else if fault == InvocationFault::Hang && self.invoker.function_timeout().is_none() {
            Some("a hung invocation only ends at the function timeout, and none is set".to_owned())
        } else {
            None
        };
        match problem {
            Some(problem) => Err(HostError::Fault {
                function: function.to_owned(),
                fault,
                problem,
            }),
            None => Ok(self.invoker.faults().arm(function, fault)),
        }
    }

    /// Holds engine work items until [`LocalHost::resume_durable_work`] (those in progress finish): lets a fault test
    /// deliver a message to the end before the durable work it causes runs, so that a fault armed for that work
    /// hits nothing else.
    pub fn pause_durable_work(&self) {
        self.durable_paused.send_replace(true);
    }

    /// Lets held work items run again.
    pub fn resume_durable_work(&self) {
        self.durable_paused.send_replace(false);
    }

    /// Stops the engine the local host started (its state, in memory, is lost); the port stays reserved
    /// for [`LocalHost::start_engine`]. Stopping a stopped engine does nothing.
    pub async fn stop_engine(&self) -> Result<(), HostError> {
        let engine = self.managed_engine()?;
        let running = engine.running.lock().await.take();
        if let Some(running) = running {
            running.stop().await;
            tracing::info!("local engine on port {} stopped", engine.port);
        }
        Ok(())
    }

    /// Starts the engine again on the port it had (a fresh, empty engine); the handler's durable clients
    /// and the work-item loop reconnect by themselves. Starting a running engine does nothing.
    pub async fn start_engine(&self) -> Result<(), HostError> {
        let engine = self.managed_engine()?;
        let mut running = engine.running.lock().await;
        if running.is_none() {
            let started = engine.launcher.start_on(engine.port).await?;
            watch_engine(&started, self.stats.clone(), self.engine_died.clone());
            *running = Some(started);
        }
        Ok(())
    }

    /// The process id of the engine the local host started, while it runs.
    pub async fn engine_pid(&self) -> Option<u32> {
        let engine = self.engine.as_ref()?;
        engine.running.lock().await.as_ref().and_then(LocalEngine::pid)
    }

    /// Completes when the engine the local host started stops by itself (never for an engine given by address),
    /// with what happened.
    pub async fn engine_died(&self) -> String {
        let mut died = self.engine_died.subscribe();
        let reason = match died.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone(),
            Err(_) => None,
        };
        match reason {
            Some(reason) => reason,
            None => std::future::pending().await,
        }
    }

    fn managed_engine(&self) -> Result<&ManagedEngine, HostError> {
        self.engine
            .as_ref()
            .ok_or_else(|| HostError::EngineNotManaged(self.engine_address.clone()))
    }

    /// The CPU time used so far by the current handler process, the engine (when started here) and the
    /// local host (Linux only; `None` elsewhere).
    pub async fn process_cpu(&self) -> ProcessCpu {
        let handler_pid = match self.supervisor.state() {
            crate::handler::process::HandlerState::Ready(instance) => instance.pid,
            _ => None,
        };
        let engine_pid = match &self.engine {
            Some(engine) => engine.running.lock().await.as_ref().and_then(LocalEngine::pid),
            None => None,
        };
        ProcessCpu {
            handler: handler_pid.and_then(cpu_time),
            engine: engine_pid.and_then(cpu_time),
            host: own_cpu_time(),
        }
    }

    /// Sorts message-file lines for this app (see [`classify_lines`]).
    pub fn classify(&self, lines: Vec<MessageLine>) -> Result<ClassifiedLines, HostError> {
        classify_lines(&self.app, lines)
    }

    /// Delivers Service Bus message lines (at least once, with redelivery and dead-lettering) and
    /// returns when each message is completed or dead-lettered.
    pub async fn deliver(&self, lines: &[MessageLine], plan: PlanOptions) -> Result<(), HostError> {
        let planned = plan_deliveries(lines, plan);
        let context = DeliveryContext {
            app: self.app.clone(),
            invoker: self.invoker.clone(),
            stats: self.stats.clone(),
            records: self.records.clone(),
            client_settings: self.client_settings.clone(),
            max_concurrent_calls: self.max_concurrent_calls,
            max_delivery_count: self.max_delivery_count,
        };
        self.stats.touch();
        Ok(deliver(&context, planned).await?)
    }

    /// Delivers messages given in code (lines numbered from 1 in order).
    pub async fn deliver_messages(&self, messages: Vec<ServiceBusMessage>, plan: PlanOptions) -> Result<(), HostError> {
        let lines: Vec<MessageLine> = messages
            .into_iter()
            .enumerate()
            .map(|(index, message)| MessageLine {
                line: index + 1,
                message,
            })
            .collect();
        self.deliver(&lines, plan).await
    }

    /// Fires the timer function `name` once (a failed invocation is an error and a [`Problem`]; timers are not
    /// retried).
    pub async fn fire_timer(&self, name: &str) -> Result<(), HostError> {
        let function = timer_function(&self.app, name)?;
        let TriggerKind::Timer { schedule } = &function.trigger.kind else {
            unreachable!("timer_function returns timer functions only")
        };
        let timer_error = |problem: String| HostError::Timer {
            name: function.name.clone(),
            problem,
        };
        let schedule = TimerSchedule::parse(schedule).map_err(|error: ScheduleError| timer_error(error.to_string()))?;
        if let Err(error) = self.invoke_timer(function, &schedule).await {
            self.stats.problem(Problem::TimerFailed {
                function: function.name.clone(),
                reason: error.to_string(),
            });
            return Err(timer_error(error.to_string()));
        }
        Ok(())
    }

    async fn invoke_timer(&self, function: &FunctionDefinition, schedule: &TimerSchedule) -> Result<(), InvokeError> {
        let sys = SystemBindingData::now(&function.name);
        let mut request = timer_request(function, timer_info(schedule, Utc::now()), &sys);
        add_durable_clients(function, &self.client_settings, &mut request);
        self.stats.timer_fired();
        self.invoker.invoke(function, &request).await.map(drop)
    }

    /// The signals and timers the run still waits for, split at `horizon` from now (see
    /// [`crate::durable::scheduled`]).
    pub fn waiting(&self, horizon: Duration) -> Waiting {
        self.scheduled
            .waiting(Utc::now(), chrono::Duration::from_std(horizon).unwrap_or_default())
    }

    /// Waits until the run is idle (see [`crate::output::idle`]); fails at once if the handler is given up on.
    pub async fn wait_idle(&self, options: &IdleOptions) -> Result<IdleReport, HostError> {
        tokio::select! {
            idle = wait_idle(&self.stats, &self.records, &self.sidecar, &self.scheduled, options) => Ok(idle?),
            reason = self.supervisor.given_up() => Err(HostError::Handler(HandlerUnavailable::Failed(reason))),
            reason = self.engine_died() => Err(HostError::EngineDied(reason)),
        }
    }

    /// What the progress display shows, taken when called: the counters and what is awaited within `horizon`.
    pub fn progress_view(&self, horizon: Duration) -> impl Fn() -> ProgressView + Send + 'static {
        let (stats, scheduled) = (self.stats.clone(), self.scheduled.clone());
        let horizon = chrono::Duration::from_std(horizon).unwrap_or_default();
        move || ProgressView {
            snapshot: stats.snapshot(),
            waiting: scheduled.waiting(Utc::now(), horizon),
        }
    }

    /// Completes when the handler is given up on (for serving until something breaks).
    pub async fn handler_given_up(&self) -> String {
        self.supervisor.given_up().await
    }

    /// Stops everything: the work-item loop, the HTTP server, the handler and the engine.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        for task in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        self.supervisor.shutdown().await;
        if let Some(engine) = self.engine.take() {
            if let Some(running) = engine.running.into_inner() {
                running.stop().await;
            }
        }
    }
}

/// Watches `engine` and, when it ends without being asked to, reports the problem and tells `died`.
fn watch_engine(engine: &LocalEngine, stats: Arc<Stats>, died: watch::Sender<Option<String>>) {
    let exit = engine.exit();
    let (pid, port) = (engine.pid().unwrap_or_default(), engine.port());
    tokio::spawn(async move {
        let exit = exit.await;
        if !exit.requested {
            let reason = format!("the local engine (pid {pid}, port {port}) exited: {}", exit.status);
            stats.problem(Problem::EngineDied { reason: reason.clone() });
            died.send_replace(Some(reason));
        }
    });
}

/// Resolves the handler command: `--handler`, else host.json's `defaultExecutablePath` (relative to the
/// app root when such a file exists there, else a command on PATH), with `%VAR%` expanded in arguments.
fn handler_command(app: &FunctionApp, options: &HostOptions) -> Result<HandlerCommand, HostError> {
    let root = app.root.canonicalize().unwrap_or_else(|_| app.root.clone());
    let program = match &options.handler {
        Some(handler) => absolute(handler),
        None => {
            let executable = app
                .host
                .handler
                .executable
                .as_deref()
                .ok_or_else(|| HostError::NoHandler(app.root.clone()))?;
            let local = root.join(executable);
            if local.exists() {
                local
            } else {
                PathBuf::from(executable)
            }
        }
    };
    let env = app.settings.clone();
    let args = app
        .host
        .handler
        .arguments
        .iter()
        .map(|argument| expand_variables(argument, &env))
        .collect();
    let working_dir = match &app.host.handler.working_directory {
        Some(directory) => root.join(directory),
        None => root.clone(),
    };
    Ok(HandlerCommand {
        program,
        args,
        working_dir,
        env,
        app_root: root,
    })
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|dir| dir.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

/// Whether the app exports traces (`OTEL_EXPORTER_OTLP_ENDPOINT` is set): then local-host keeps their context.
fn exports_traces(settings: &[(String, String)]) -> bool {
    settings
        .iter()
        .any(|(name, value)| name == "OTEL_EXPORTER_OTLP_ENDPOINT" && !value.trim().is_empty())
}

/// Expands `%NAME%` from the app settings, then the process environment; unknown names stay as written.
pub fn expand_variables(text: &str, settings: &[(String, String)]) -> String {
    let mut expanded = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        let Some(length) = rest[start + 1..].find('%') else {
            break;
        };
        let name = &rest[start + 1..start + 1 + length];
        let value = settings
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .or_else(|| std::env::var(name).ok());
        expanded.push_str(&rest[..start]);
        match value {
            Some(value) if !name.is_empty() => expanded.push_str(&value),
            _ => expanded.push_str(&rest[start..start + length + 2]),
        }
        rest = &rest[start + length + 2..];
    }
    expanded.push_str(rest);
    expanded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_model::{parse_function_json, HostConfig};
    use serde_json::json;

    fn app() -> FunctionApp {
        let function = |name: &str, bindings: serde_json::Value| {
            let path = PathBuf::from(format!("{name}/function.json"));
            (
                name.to_owned(),
                parse_function_json(name, &path, &json!({ "bindings": bindings })).unwrap(),
            )
        };
        FunctionApp {
            root: PathBuf::from("."),
            host: HostConfig::default(),
            settings: Vec::new(),
            functions: [
                function(
                    "ServiceBusTrigger",
                    json!([{"name": "message", "type": "serviceBusTrigger", "topicName": "t"}]),
                ),
                function(
                    "PurgeTimer",
                    json!([{"name": "timer", "type": "timerTrigger", "schedule": "0 0 0 * * *"}]),
                ),
                function(
                    "Orchestrator",
                    json!([{"name": "context", "type": "orchestrationTrigger"}]),
                ),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn line(line: usize, function: &str) -> MessageLine {
        MessageLine {
            line,
            message: ServiceBusMessage::new(function, json!({})),
        }
    }

    #[test]
    fn lines_are_sorted_into_messages_and_timers() {
        let classified = classify_lines(
            &app(),
            vec![
                line(1, "ServiceBusTrigger"),
                line(2, "purgetimer"),
                line(3, "servicebustrigger"),
            ],
        )
        .unwrap();
        assert_eq!(classified.messages.len(), 2);
        assert_eq!(classified.messages[1].message.function, "ServiceBusTrigger");
        assert_eq!(classified.timers, vec!["PurgeTimer".to_owned()]);
    }

    #[test]
    fn lines_for_other_functions_are_errors() {
        let error = classify_lines(&app(), vec![line(4, "Orchestrator")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "message line 4: \"Orchestrator\" is neither a Service Bus nor a timer triggered function"
        );
        let error = classify_lines(&app(), vec![line(2, "Nope")]).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("message line 2: the app has no function \"Nope\""),
            "{error}"
        );
    }

    #[test]
    fn timers_are_found_by_name_and_others_are_refused_naming_the_timers() {
        let app = app();
        assert_eq!(timer_function(&app, "purgetimer").unwrap().name, "PurgeTimer");
        let unknown = timer_function(&app, "Nope").unwrap_err().to_string();
        assert_eq!(
            unknown,
            "timer Nope: the app has no such function (timer functions: PurgeTimer)"
        );
        let not_a_timer = timer_function(&app, "Orchestrator").unwrap_err().to_string();
        assert!(not_a_timer.contains("not a timer triggered function"), "{not_a_timer}");
    }

    #[test]
    fn variables_in_handler_arguments() {
        let settings = vec![("PORT_NAME".to_owned(), "x".to_owned())];
        assert_eq!(expand_variables("--name=%PORT_NAME%", &settings), "--name=x");
        assert_eq!(
            expand_variables("%UNKNOWN_LOCAL_HOST_TEST_VAR%", &settings),
            "%UNKNOWN_LOCAL_HOST_TEST_VAR%"
        );
        assert_eq!(expand_variables("100%", &settings), "100%");
        assert_eq!(expand_variables("%%", &settings), "%%");
    }
}
