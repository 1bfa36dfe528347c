//! `local-host`: runs a custom-handler function app locally, as the Azure Functions host and the Durable
//! extension would, against a real durable engine. See `local-host --help`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    local_host::cli::main_from_args().await
}
