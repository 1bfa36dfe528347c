//! `local-host run`: delivers message files to the app, fires timers, waits until nothing is left to do (or
//! for what the options ask), shows progress meanwhile, and prints a summary and what went wrong.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::exit::{error_exit_status, run_exit_status, ExitStatus};
use super::{parse_ratio, parse_setting, seconds};
use crate::app_model::FunctionApp;
use crate::engine::EngineLauncher;
use crate::handler::process::HandlerOutput;
use crate::host::{timer_function, EngineChoice, HostError, HostOptions, LocalHost};
use crate::output::idle::{IdleOptions, IdleReport};
use crate::output::problems::plural;
use crate::output::progress::Progress;
use crate::traces::{SpanCollector, Timeline};
use crate::triggers::messages::{read_message_file, MessageLine};
use crate::triggers::service_bus::PlanOptions;

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
    /// Where to write the audit copy of every message sent to the app (JSONL, message-file format), the local
    /// equivalent of the events topic's audit subscription; `local-host resend` reads it.
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
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
    /// Consider the run idle once this many messages were published (by default it waits until nothing is left
    /// to do, whatever the message file holds).
    #[arg(long, value_name = "N")]
    pub wait_for_published: Option<usize>,
    /// Wait for timers and scheduled signals due within this many seconds (e.g. a short deadline check or a
    /// retry); later ones are listed at the end, not waited for.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::output::idle::DEFAULT_TIMER_HORIZON.as_secs_f64())]
    pub wait_timers_within: f64,
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
    /// No progress display.
    #[arg(long)]
    pub quiet: bool,
    /// Also log each function's `Logs` lines (one or more per message); `LOCAL_HOST_LOG` overrides all logging.
    #[arg(long, short)]
    pub verbose: bool,
    /// Print the timeline of this id (a return id) at the end: the spans of every trace that names it, from the
    /// message in to the notification out. local-host receives the handler's spans itself (it sets
    /// OTEL_EXPORTER_OTLP_ENDPOINT for the handler and stops it with SIGTERM so it exports them); may be repeated.
    #[arg(long = "timeline", value_name = "ID")]
    pub timelines: Vec<String>,
}

/// How long the handler has to export its spans and exit after SIGTERM when a timeline is asked for.
const TIMELINE_STOP_GRACE: Duration = Duration::from_secs(15);

/// The app settings that send the handler's spans to local-host's receiver at `endpoint`: exported every
/// 100 ms, with a queue large enough for a whole demo run, so a timeline misses no span.
fn timeline_settings(endpoint: String) -> [(String, String); 3] {
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY".to_owned(), "100".to_owned()),
        ("OTEL_BSP_MAX_QUEUE_SIZE".to_owned(), "1000000".to_owned()),
    ]
}

/// Runs `local-host run`.
pub async fn run(args: RunArgs) -> Result<ExitStatus, String> {
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
    options.audit_path = args.audit.clone();
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
    let collector = if args.timelines.is_empty() {
        None
    } else {
        let (collector, endpoint) = SpanCollector::start()
            .await
            .map_err(|error| format!("cannot start the span receiver for --timeline: {error}"))?;
        options.settings.extend(timeline_settings(endpoint));
        options.handler_stop_grace = Some(TIMELINE_STOP_GRACE);
        Some(collector)
    };
    let idle = IdleOptions {
        deadline: seconds(args.idle_timeout, "idle-timeout")?,
        settle: Duration::from_millis(args.settle_ms),
        wait_for_published: args.wait_for_published,
        timer_horizon: seconds(args.wait_timers_within, "wait-timers-within")?,
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

    let host = LocalHost::start(options).await.map_err(|error| error.to_string())?;
    let progress = (!args.quiet).then(|| {
        let live = std::io::IsTerminal::is_terminal(&std::io::stderr());
        Progress::start(host.progress_view(idle.timer_horizon), live, Duration::from_secs(2))
    });
    let cpu_before = host.process_cpu().await;
    let outcome = drive(&host, lines, &args, &idle).await;
    if let Some(progress) = progress {
        progress.finish().await;
    }
    let summary = host.stats();
    let cpu = host.process_cpu().await.since(&cpu_before);
    let mut status = match &outcome {
        Ok(reports) => {
            for report in reports {
                print_idle_report(report);
            }
            ExitStatus::Success
        }
        Err(error) => {
            eprintln!("local-host: {error}");
            error_exit_status(error)
        }
    };
    if args.serve && status == ExitStatus::Success {
        if let Some(address) = host.http_address() {
            eprintln!(
                "local-host: serving http://{address}/api/ (Ctrl-C to stop); ask for a status with \
                 `local-host status <id> --url http://{address}`"
            );
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
    if let Some(collector) = &collector {
        let spans = collector.spans();
        for id in &args.timelines {
            println!("\n{}", Timeline::of(&spans, id));
        }
    }
    if !summary.problems.is_empty() {
        eprintln!(
            "local-host: {} lost or stuck:",
            plural(summary.problems.len(), "piece of work")
        );
        for problem in &summary.problems {
            eprintln!("  - {problem}");
        }
    }
    if summary.dead_lettered > 0 {
        eprintln!(
            "local-host: {} dead-lettered{}",
            plural(summary.dead_lettered as usize, "message"),
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

/// Delivers the messages, waits, fires the timers, waits again; the reports of each wait.
async fn drive(
    host: &LocalHost,
    lines: Vec<MessageLine>,
    args: &RunArgs,
    idle: &IdleOptions,
) -> Result<Vec<IdleReport>, HostError> {
    let classified = host.classify(lines)?;
    let plan = PlanOptions {
        shuffle_seed: args.shuffle_seed,
        duplicate_ratio: args.duplicate_ratio,
    };
    host.deliver(&classified.messages, plan).await?;
    let mut reports = vec![host.wait_idle(idle).await?];
    let timers: Vec<&String> = classified.timers.iter().chain(&args.fire_timers).collect();
    if !timers.is_empty() {
        for timer in timers {
            // A failed timer is reported as a problem at the end; the other timers still run.
            if let Err(error) = host.fire_timer(timer).await {
                tracing::warn!("{error}");
            }
        }
        reports.push(
            host.wait_idle(&IdleOptions {
                wait_for_published: None,
                ..idle.clone()
            })
            .await?,
        );
    }
    Ok(reports)
}

/// What the run did not wait for: orchestrations parked on later timers, signals and timers due later.
fn print_idle_report(report: &IdleReport) {
    for instance in &report.parked {
        let waiting = instance
            .next_timer
            .map_or_else(|| format!("{:?}", instance.status), |at| format!("a timer at {at}"));
        eprintln!(
            "local-host: orchestration {} ({}) is waiting for {waiting}",
            instance.instance_id, instance.name
        );
    }
    if let Some(next) = report.later.next_later {
        eprintln!(
            "local-host: {} scheduled later, the first at {}; not waited for (see --wait-timers-within)",
            if report.later.later == 1 {
                "1 signal or timer".to_owned()
            } else {
                format!("{} signals and timers", report.later.later)
            },
            next.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser as _;

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
            "--timeline",
            "RET-1",
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
        assert_eq!(args.wait_timers_within, 60.0);
        assert_eq!(args.timelines, ["RET-1"]);
        assert!(!args.verbose);
    }

    #[test]
    fn help_states_the_exit_codes_and_the_switches() {
        for command in ["run", "status"] {
            let help = Cli::try_parse_from(["local-host", command, "--help"])
                .unwrap_err()
                .to_string();
            assert!(help.contains("Exit codes:"), "{help}");
        }
        let help = Cli::try_parse_from(["local-host", "run", "--help"])
            .unwrap_err()
            .to_string();
        for switch in [
            "--fail-on-dead-letter",
            "--verbose",
            "--wait-timers-within",
            "LOCAL_HOST_LOG",
            "--timeline",
        ] {
            assert!(help.contains(switch), "{switch}: {help}");
        }
    }

    #[test]
    fn rejects_bad_values() {
        assert!(Cli::try_parse_from(["local-host", "run", "--set", "novalue"]).is_err());
        assert!(Cli::try_parse_from(["local-host", "run", "--duplicate-ratio", "1.5"]).is_err());
        assert!(seconds(-1.0, "x").is_err());
    }
}
