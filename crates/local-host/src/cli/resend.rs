//! `local-host resend <returnId> --audit FILE`: the local equivalent of the operator's recovery in Azure (README,
//! "Recovering lost events"). It picks the return's messages from the audit copy a run wrote (`local-host run
//! --audit FILE`), as the operator exports them from the audit subscription, and posts them to the app's re-send
//! function of a local-host serving HTTP functions (`local-host run --serve --http-port 7071 …`), as the operator
//! does with `curl`. Safe to repeat: the return de-duplicates.

use std::path::PathBuf;

use clap::Args;
use serde_json::Value;

use super::exit::ExitStatus;
use super::status::{status_path, DEFAULT_URL};
use crate::app_model::FunctionApp;
use crate::handler::http_client::BufferedResponse;
use crate::triggers::audit::{messages_of_return, resend as post_messages};
use crate::triggers::messages::read_message_file;

/// `local-host resend` options.
#[derive(Debug, Args)]
pub struct ResendArgs {
    /// The return whose messages to re-send.
    pub return_id: String,
    /// The audit copy written by `local-host run --audit FILE`.
    #[arg(long, value_name = "FILE")]
    pub audit: PathBuf,
    /// A local-host serving HTTP functions (`local-host run --serve --http-port 7071 …`).
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// The function app root (holding host.json and the function folders).
    #[arg(long, default_value = ".")]
    pub app_root: PathBuf,
    /// The HTTP-triggered re-send function.
    #[arg(long, default_value = "ResendEvents")]
    pub function: String,
}

/// Runs `local-host resend`.
pub async fn resend(args: ResendArgs) -> Result<ExitStatus, String> {
    let app = FunctionApp::load(&args.app_root, &[]).map_err(|error| error.to_string())?;
    let path = status_path(&app, &args.function, &args.return_id)?;
    let audited: Vec<_> = read_message_file(&args.audit)
        .map_err(|error| error.to_string())?
        .into_iter()
        .map(|line| line.message)
        .collect();
    let messages = messages_of_return(&audited, &args.return_id);
    if messages.is_empty() {
        return Err(format!(
            "the audit copy {} holds no message about return {}",
            args.audit.display(),
            args.return_id
        ));
    }
    // The audit copy holds the messages the ingress refused too; they are on the invalid-events queue already.
    let url = format!("{}{path}?skipInvalid=true", args.url.trim_end_matches('/'));
    println!("POST {url}: {} message(s) of return {}", messages.len(), args.return_id);
    let response = post_messages(&url, &messages).await.map_err(|error| {
        format!(
            "{error}; is a local-host serving at {}? Start one with `local-host run --serve --http-port 7071 --audit \
             FILE --messages …`",
            args.url
        )
    })?;
    Ok(report(&response))
}

/// Prints an admin function's answer (status and JSON) and tells how it went: success for a 2xx.
pub(super) fn report(response: &BufferedResponse) -> ExitStatus {
    println!("-> HTTP {}", response.status);
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(json) => println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default()),
        Err(_) => println!("{}", String::from_utf8_lossy(&response.body)),
    }
    if (200..300).contains(&response.status) {
        ExitStatus::Success
    } else {
        ExitStatus::CouldNotRun
    }
}
