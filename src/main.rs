//! The custom handler binary the Functions host starts (`host.json` → `customHandler.description`), and the
//! operator commands `handler replay-check` and `handler export-histories` ([`returns_aggregator::replay_check`]).

use std::process::ExitCode;

use clap::Parser;
use returns_aggregator::allocator;
use std::sync::Arc;

use returns_aggregator::app::router;
use returns_aggregator::config::Config;
use returns_aggregator::function_app::function_app;
use returns_aggregator::server::{serve, ServerLimits};
use returns_aggregator::state::AppState;
use returns_aggregator::telemetry::{Telemetry, TelemetrySettings};
use tokio::net::TcpListener;

/// The returns aggregator: an Azure Functions custom handler.
///
/// The Functions host starts it (host.json → customHandler.description.defaultExecutablePath) with
/// FUNCTIONS_CUSTOMHANDLER_PORT set, and calls POST /{FunctionName} on 127.0.0.1 for every invocation. Every app
/// setting it reads is listed in the README, "Configuration"; all of them are checked at start-up.
///
/// Operator commands, each with its own `--help`: `handler replay-check` (recorded histories replayed through this
/// build) and `handler export-histories` (a running engine's histories to a file). Developer command:
/// `handler write-function-folders [--check] [DIR]` (the function folders, generated from the handler's functions).
///
/// Exit codes: 0 after a clean shutdown (SIGTERM or Ctrl-C); 1 when a setting or a function folder is wrong, the
/// port cannot be bound, or the server fails (the message on stderr names the cause); 2 for a bad command line.
#[derive(Parser)]
#[command(name = "handler", version)]
struct Cli {}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    if matches!(command.as_deref(), Some("replay-check" | "export-histories")) {
        return run_operator_command(command.as_deref().unwrap_or_default(), args.collect());
    }
    if command.as_deref() == Some("write-function-folders") {
        return returns_aggregator::function_folders::command(&args.collect::<Vec<_>>());
    }
    Cli::parse();
    allocator::configure();
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(start()),
        Err(error) => {
            eprintln!("handler: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `replay-check` or `export-histories`, on a runtime of their own (no server, no allocator tuning).
fn run_operator_command(command: &str, args: Vec<String>) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("handler: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match command {
            "replay-check" => returns_aggregator::replay_check::replay_check(args).await,
            _ => returns_aggregator::replay_check::export_histories(args).await,
        }
    })
}

async fn start() -> ExitCode {
    // Settings first: their problems go to stderr (the host logs it at Error level), before any logging exists.
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(errors) => return fail(&errors.to_string()),
    };
    let telemetry = match Telemetry::init(&TelemetrySettings::from_config(&config)) {
        Ok(telemetry) => telemetry,
        Err(error) => return fail(&error.to_string()),
    };
    let outcome = run(config).await;
    // Exports what is left; blocking (bounded by the exporters' timeouts), so off the async workers.
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

/// Once, on stderr: the host logs the handler's stderr at Error level (stdout at Information).
fn fail(message: &str) -> ExitCode {
    eprintln!("handler: {message}");
    ExitCode::FAILURE
}

async fn run(config: Config) -> Result<(), String> {
    returns_aggregator::host_checks::check_app(&config.app_root).map_err(|e| e.to_string())?;
    let versioning = returns_aggregator::durable::app_versioning(&config.app_root).map_err(|e| e.to_string())?;
    let app_root = config.app_root.clone();
    let state = AppState::with_versioning(config, versioning.clone());
    let functions = function_app(&state).map_err(|e| e.to_string())?;
    functions.check_function_folders(&app_root).map_err(|e| e.to_string())?;
    let listen_addr = state.config.listen_addr;
    let listener = TcpListener::bind(listen_addr)
        .await
        .map_err(|e| format!("cannot listen on {listen_addr}: {e}"))?;
    if let Some(schedule) = &state.config.purge_schedule {
        let next = schedule.next_after(chrono::Utc::now());
        tracing::info!(%schedule, next = ?next, "PurgeTimer schedule (the host runs it)");
    }
    tracing::info!(
        address = %listen_addr,
        functions = functions.function_names().len(),
        orchestration_version = versioning.version.as_deref().unwrap_or(""),
        "handler ready"
    );
    let drained = serve(
        listener,
        router(Arc::new(functions)),
        ServerLimits::default(),
        shutdown_signal(),
    )
    .await
    .map_err(|e| format!("server error: {e}"))?;
    tracing::info!(?drained, "handler stopped");
    Ok(())
}

/// Resolves on SIGTERM (what the host sends) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
