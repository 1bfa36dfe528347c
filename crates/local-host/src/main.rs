//! `local-host`: runs a custom-handler function app locally, as the Azure Functions host and the Durable
//! extension would, against a real durable engine. See `local-host run --help`.

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("LOCAL_HOST_LOG").unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    local_host::cli::main_from_args().await
}
