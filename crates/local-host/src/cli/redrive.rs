//! `local-host redrive <returnId>`: the local equivalent of re-driving a return's failed notification in Azure
//! (README, "Guarantees"): posts to the app's re-drive function of a local-host serving HTTP functions
//! (`local-host run --serve --http-port 7071 …`), as the operator does with `curl`, and prints its answer. Safe to
//! repeat: the app never sends a second email.

use std::path::PathBuf;

use clap::Args;

use super::exit::ExitStatus;
use super::resend::report;
use super::status::{status_path, DEFAULT_URL};
use crate::app_model::FunctionApp;
use crate::handler::http_client::{empty_body, HttpClient};

/// `local-host redrive` options.
#[derive(Debug, Args)]
pub struct RedriveArgs {
    /// The return whose notification to re-drive.
    pub return_id: String,
    /// A local-host serving HTTP functions (`local-host run --serve --http-port 7071 …`).
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// The function app root (holding host.json and the function folders).
    #[arg(long, default_value = ".")]
    pub app_root: PathBuf,
    /// The HTTP-triggered re-drive function.
    #[arg(long, default_value = "RedriveNotification")]
    pub function: String,
}

/// Runs `local-host redrive`.
pub async fn redrive(args: RedriveArgs) -> Result<ExitStatus, String> {
    let app = FunctionApp::load(&args.app_root, &[]).map_err(|error| error.to_string())?;
    let path = status_path(&app, &args.function, &args.return_id)?;
    let url = format!("{}{path}", args.url.trim_end_matches('/'));
    println!("POST {url}");
    let request = http::Request::post(&url)
        .body(empty_body())
        .map_err(|error| format!("{url}: {error}"))?;
    let response = HttpClient::default().send(request).await.map_err(|error| {
        format!(
            "POST {url} failed: {error}; is a local-host serving at {}? Start one with `local-host run --serve \
             --http-port 7071 --messages …`",
            args.url
        )
    })?;
    Ok(report(&response))
}
