//! The custom handler binary the Functions host starts (`host.json` → `customHandler.description`), and the
//! operator commands `handler replay-check` and `handler export-histories` ([`returns_aggregator::replay_check`]).

use std::process::ExitCode;

use returns_aggregator::app::{app, AppState, FUNCTIONS};
use returns_aggregator::config::Config;
use returns_aggregator::function_folders::{check_registrations, read_function_folders};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("replay-check") => return returns_aggregator::replay_check::replay_check(args.collect()).await,
        Some("export-histories") => return returns_aggregator::replay_check::export_histories(args.collect()).await,
        _ => {}
    }
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_ansi(false)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("handler: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    returns_aggregator::host_checks::check_app(&config.app_root).map_err(|e| e.to_string())?;
    let folders = read_function_folders(&config.app_root).map_err(|e| e.to_string())?;
    check_registrations(&config.app_root, &folders, FUNCTIONS).map_err(|e| e.to_string())?;
    let versioning = returns_aggregator::durable::app_versioning(&config.app_root).map_err(|e| e.to_string())?;
    let listener = TcpListener::bind(config.listen_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen_addr))?;
    tracing::info!(
        address = %config.listen_addr,
        functions = FUNCTIONS.len(),
        orchestration_version = versioning.version.as_deref().unwrap_or(""),
        "handler ready"
    );
    axum::serve(listener, app(AppState::with_versioning(config, versioning)))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    tracing::info!("handler stopped");
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
