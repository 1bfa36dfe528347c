//! The `local-host` command line: `local-host run` delivers message files to the app, fires timers,
//! waits until the system is idle and prints a summary; `local-host engine` only starts the local engine.
//! The exit code tells how the run went ([`ExitStatus`], also in `--help`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::app_model::FunctionApp;
use crate::engine::EngineLauncher;
use crate::handler::process::HandlerOutput;
use crate::host::{timer_function, EngineChoice, HostError, HostOptions, LocalHost};
use crate::output::idle::IdleOptions;
use crate::triggers::messages::read_message_file;
use crate::triggers::service_bus::PlanOptions;

/// The exit codes, for `--help`.
const EXIT_CODES: &str = "Exit codes:
  0  the run finished: every message completed (or dead-lettered without --fail-on-dead-letter), nothing lost
  1  local-host could not run: bad arguments, an unreadable file, an unknown timer, or the app, the engine or the
     handler could not be started (or the handler kept crashing)
  2  the run did not become idle within --idle-timeout
  3  work was lost or is stuck: an entity batch or an orchestration failed for good, the engine refused a result
     (a wedged entity or instance), the engine died, or a timer invocation failed; each is named on stderr
  4  messages were dead-lettered and --fail-on-dead-letter was given";

/// How a run ended; the process exit code (see `--help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitStatus {
    /// The run finished and nothing was lost.
    Success = 0,
    /// local-host could not run.
    CouldNotRun = 1,
    /// The run did not become idle in time.
    NotIdle = 2,
    /// Work was lost or is stuck ([`crate::output::problems::Problem`]).
    WorkLost = 3,
    /// Messages were dead-lettered and `--fail-on-dead-letter` was given.
    DeadLettered = 4,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status as u8)
    }
}

/// The exit status of a run that did not fail outright: work lost first, then dead letters (when they count).
pub fn run_exit_status(problems: usize, dead_lettered: u64, fail_on_dead_letter: bool) -> ExitStatus {
    if problems > 0 {
        ExitStatus::WorkLost
    } else if fail_on_dead_letter && dead_lettered > 0 {
        ExitStatus::DeadLettered
    } else {
        ExitStatus::Success
    }
}

/// The exit status of a run that ended with `error`.
pub fn error_exit_status(error: &HostError) -> ExitStatus {
    match error {
        HostError::Idle(_) => ExitStatus::NotIdle,
        HostError::EngineDied(_) => ExitStatus::WorkLost,
        _ => ExitStatus::CouldNotRun,
    }
}

/// Plays the Azure Functions host and the Durable Functions extension for local runs.
#[derive(Debug, Parser)]
#[command(name = "local-host", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the app: deliver messages, fire timers, wait until idle, print a summary.
    #[command(after_help = EXIT_CODES)]
    Run(Box<RunArgs>),
    /// Start the local durable engine and print its address until interrupted.
    Engine(EngineArgs),
}

/// `local-host run` options.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The function app root (holding host.json and the function folders).
    #[arg(long, default_value = ".")]
    pub app_root: PathBuf,
    /// Service Bus message files (JSONL); may be repeated.
    #[arg(long = "messages", value_name = "FILE")]
    pub messages: Vec<PathBuf>,
    /// Where to write the published messages (JSONL).
    #[arg(long, value_name = "FILE")]
    pub published: Option<PathBuf>,
    /// Where to write dead-lettered messages (JSONL).
    #[arg(long, value_name = "FILE")]
    pub dead_letter: Option<PathBuf>,
    /// Use a running durable engine (TaskHubSidecarService) instead of starting the local one.
    #[arg(long, value_name = "ADDR")]
    pub engine: Option<String>,
    /// The project folder holding scripts/local_engine.py (found from the app root upwards by default).
    #[arg(long, value_name = "DIR")]
    pub project_root: Option<PathBuf>,
    /// The handler executable (instead of host.json's defaultExecutablePath).
    #[arg(long, value_name = "PATH")]
    pub handler: Option<PathBuf>,
    /// An app setting for the handler, overriding local.settings.json; may be repeated.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    pub settings: Vec<(String, String)>,
    /// Write the handler's stdout and stderr to this file instead of the console.
    #[arg(long, value_name = "FILE")]
    pub handler_log: Option<PathBuf>,
    /// Function timeout in seconds (replaces host.json's functionTimeout).
    #[arg(long, value_name = "SECONDS")]
    pub function_timeout: Option<f64>,
    /// How long the handler may take to answer GET / (seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub startup_timeout: f64,
    /// Deliveries of a failing message before it is dead-lettered.
    #[arg(long, default_value_t = crate::triggers::service_bus::DEFAULT_MAX_DELIVERY_COUNT)]
    pub max_delivery_count: u32,
    /// Service Bus messages in flight at once (replaces host.json's maxConcurrentCalls).
    #[arg(long)]
    pub max_concurrent_calls: Option<usize>,
    /// Shuffle the messages with this seed.
    #[arg(long, value_name = "N")]
    pub shuffle_seed: Option<u64>,
    /// Share of messages delivered twice with the same MessageId (0 to 1).
    #[arg(long, value_name = "RATIO", default_value_t = 0.0, value_parser = parse_ratio)]
    pub duplicate_ratio: f64,
    /// Fire this timer function after the messages; may be repeated.
    #[arg(long = "fire-timer", value_name = "NAME")]
    pub fire_timers: Vec<String>,
    /// Exit with code 4 when any message was dead-lettered (for CI).
    #[arg(long)]
    pub fail_on_dead_letter: bool,
    /// Consider the run idle once this many messages were published.
    #[arg(long, value_name = "N")]
    pub wait_for_published: Option<usize>,
    /// Give up waiting for quiescence after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    pub idle_timeout: f64,
    /// Quiet period (milliseconds) before the engine is asked whether orchestrations are done.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub settle_ms: u64,
    /// Serve HTTP-triggered functions on this port of 127.0.0.1 (0 = any free port).
    #[arg(long, value_name = "PORT")]
    pub http_port: Option<u16>,
    /// Keep running after the run (serving HTTP functions and engine work) until Ctrl-C.
    #[arg(long)]
    pub serve: bool,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

/// `local-host engine` options.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// The project folder holding scripts/local_engine.py.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub project_root: PathBuf,
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got \"{text}\"")),
    }
}

fn parse_ratio(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err(format!("expected a number from 0 to 1, got \"{text}\"")),
    }
}

fn seconds(value: f64, flag: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).map_err(|_| format!("--{flag} must be a non-negative number of seconds"))
}

/// Parses the command line and runs it; usage errors exit with [`ExitStatus::CouldNotRun`] (clap's own code, 2,
/// would read as "not idle").
pub async fn main_from_args() -> ExitCode {
    match Cli::try_parse() {
        Ok(cli) => main(cli).await,
        Err(error) => {
            let _ = error.print();
            if error.use_stderr() {
                ExitStatus::CouldNotRun.into()
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

/// Runs the command line; the exit code is an [`ExitStatus`].
pub async fn main(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Run(args) => run(*args).await,
        Command::Engine(args) => engine(args).await.map(|()| ExitStatus::Success),
    };
    match outcome {
        Ok(status) => status.into(),
        Err(message) => {
            eprintln!("local-host: {message}");
            ExitStatus::CouldNotRun.into()
        }
    }
}

async fn engine(args: EngineArgs) -> Result<(), String> {
    let launcher = EngineLauncher::discover(&args.project_root)
        .ok_or_else(|| format!("no scripts/local_engine.py in {} or above", args.project_root.display()))?;
    let engine = launcher.start().await.map_err(|error| error.to_string())?;
    println!("{}", engine.address());
    let _ = tokio::signal::ctrl_c().await;
    engine.stop().await;
    Ok(())
}

async fn run(args: RunArgs) -> Result<ExitStatus, String> {
    let engine = match (&args.engine, &args.project_root) {
        (Some(address), _) => EngineChoice::Address(address.clone()),
        (None, Some(root)) => EngineChoice::Launch(EngineLauncher::for_project(root)),
        (None, None) => EngineChoice::Launch(
            EngineLauncher::discover(&args.app_root)
                .or_else(|| {
                    std::env::current_dir()
                        .ok()
                        .and_then(|dir| EngineLauncher::discover(&dir))
                })
                .unwrap_or_else(EngineLauncher::from_workspace),
        ),
    };
    let mut options = HostOptions::new(&args.app_root, engine);
    options.handler = args.handler.clone();
    options.settings = args.settings.clone();
    options.published_path = args.published.clone();
    options.dead_letter_path = args.dead_letter.clone();
    options.handler_output = args
        .handler_log
        .clone()
        .map_or(HandlerOutput::Prefixed, HandlerOutput::File);
    options.function_timeout = args
        .function_timeout
        .map(|s| seconds(s, "function-timeout"))
        .transpose()?;
    options.startup_timeout = seconds(args.startup_timeout, "startup-timeout")?;
    options.max_delivery_count = args.max_delivery_count.max(1);
    options.max_concurrent_calls = args.max_concurrent_calls;
    options.http_port = args.http_port;
    let idle = IdleOptions {
        deadline: seconds(args.idle_timeout, "idle-timeout")?,
        settle: Duration::from_millis(args.settle_ms),
        wait_for_published: args.wait_for_published,
        ..IdleOptions::default()
    };

    let mut lines = Vec::new();
    for path in &args.messages {
        lines.extend(read_message_file(path).map_err(|error| error.to_string())?);
    }
    // Refuse unknown timers before anything starts.
    let app = FunctionApp::load(&args.app_root, &args.settings).map_err(|error| error.to_string())?;
    for name in &args.fire_timers {
        timer_function(&app, name).map_err(|error| error.to_string())?;
    }

    let mut host = LocalHost::start(options).await.map_err(|error| error.to_string())?;
    if !args.quiet {
        host.spawn_progress(Duration::from_secs(2));
    }
    let cpu_before = host.process_cpu().await;
    let outcome = drive(&host, lines, &args, &idle).await;
    let summary = host.stats();
    let cpu = host.process_cpu().await.since(&cpu_before);
    let mut status = match &outcome {
        Ok(()) => ExitStatus::Success,
        Err(error) => {
            eprintln!("local-host: {error}");
            error_exit_status(error)
        }
    };
    if args.serve && status == ExitStatus::Success {
        if let Some(address) = host.http_address() {
            eprintln!("local-host: serving http://{address}/api/ (Ctrl-C to stop)");
        } else {
            eprintln!("local-host: serving engine work items (Ctrl-C to stop)");
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            reason = host.handler_given_up() => eprintln!("local-host: {reason}"),
        }
    }
    host.shutdown().await;
    println!("{summary}");
    println!("  during the run, {cpu}");
    if !summary.problems.is_empty() {
        eprintln!(
            "local-host: {} lost or stuck:",
            crate::output::problems::plural(summary.problems.len(), "piece of work")
        );
        for problem in &summary.problems {
            eprintln!("  - {problem}");
        }
    }
    if summary.dead_lettered > 0 {
        eprintln!(
            "local-host: {} dead-lettered{}",
            crate::output::problems::plural(summary.dead_lettered as usize, "message"),
            args.dead_letter
                .as_ref()
                .map(|path| format!(" (kept in {})", path.display()))
                .unwrap_or_default()
        );
    }
    if status == ExitStatus::Success {
        status = run_exit_status(summary.problems.len(), summary.dead_lettered, args.fail_on_dead_letter);
    }
    Ok(status)
}

async fn drive(
    host: &LocalHost,
    lines: Vec<crate::triggers::messages::MessageLine>,
    args: &RunArgs,
    idle: &IdleOptions,
) -> Result<(), HostError> {
    let classified = host.classify(lines)?;
    let plan = PlanOptions {
        shuffle_seed: args.shuffle_seed,
        duplicate_ratio: args.duplicate_ratio,
    };
    host.deliver(&classified.messages, plan).await?;
    report_idle(host.wait_idle(idle).await?);
    let timers: Vec<&String> = classified.timers.iter().chain(&args.fire_timers).collect();
    if !timers.is_empty() {
        for timer in timers {
            // A failed timer is reported as a problem at the end; the other timers still run.
            if let Err(error) = host.fire_timer(timer).await {
                tracing::warn!("{error}");
            }
        }
        report_idle(
            host.wait_idle(&IdleOptions {
                wait_for_published: None,
                ..idle.clone()
            })
            .await?,
        );
    }
    Ok(())
}

fn report_idle(report: crate::output::idle::IdleReport) {
    for instance in report.parked {
        let waiting = instance
            .next_timer
            .map_or_else(|| format!("{:?}", instance.status), |at| format!("a timer at {at}"));
        eprintln!(
            "local-host: orchestration {} ({}) is waiting for {waiting}",
            instance.instance_id, instance.name
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_run_command() {
        let cli = Cli::try_parse_from([
            "local-host",
            "run",
            "--app-root",
            "app",
            "--messages",
            "a.jsonl",
            "--messages",
            "b.jsonl",
            "--published",
            "out/p.jsonl",
            "--dead-letter",
            "out/d.jsonl",
            "--engine",
            "127.0.0.1:4001",
            "--set",
            "A=1",
            "--set",
            "B=x=y",
            "--shuffle-seed",
            "7",
            "--duplicate-ratio",
            "0.3",
            "--fire-timer",
            "PurgeTimer",
            "--wait-for-published",
            "2",
            "--function-timeout",
            "5",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run")
        };
        assert_eq!(args.messages.len(), 2);
        assert_eq!(
            args.settings,
            vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
        assert_eq!(args.engine.as_deref(), Some("127.0.0.1:4001"));
        assert_eq!(args.shuffle_seed, Some(7));
        assert_eq!(args.fire_timers, vec!["PurgeTimer".to_owned()]);
        assert_eq!(args.max_delivery_count, 10);
    }

    #[test]
    fn exit_statuses() {
        assert_eq!(run_exit_status(0, 0, true), ExitStatus::Success);
        assert_eq!(run_exit_status(0, 3, false), ExitStatus::Success);
        assert_eq!(run_exit_status(0, 3, true), ExitStatus::DeadLettered);
        assert_eq!(run_exit_status(1, 3, true), ExitStatus::WorkLost);
        let died = HostError::EngineDied("pid 1 exited".into());
        assert_eq!(error_exit_status(&died), ExitStatus::WorkLost);
        let timer = HostError::Timer {
            name: "Nope".into(),
            problem: "unknown".into(),
        };
        assert_eq!(error_exit_status(&timer), ExitStatus::CouldNotRun);
        assert_eq!(ExitStatus::DeadLettered as u8, 4);
        let help = Cli::try_parse_from(["local-host", "run", "--help"])
            .unwrap_err()
            .to_string();
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("--fail-on-dead-letter"), "{help}");
    }

    #[test]
    fn rejects_bad_values() {
        assert!(Cli::try_parse_from(["local-host", "run", "--set", "novalue"]).is_err());
        assert!(Cli::try_parse_from(["local-host", "run", "--duplicate-ratio", "1.5"]).is_err());
        assert!(seconds(-1.0, "x").is_err());
    }
}
