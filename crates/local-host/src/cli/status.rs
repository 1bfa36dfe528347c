//! `local-host status <id>`: what the app's status function (an HTTP function whose route takes one parameter,
//! `ReturnStatus` by default) answers for one id, asked of a local-host that serves HTTP functions
//! (`local-host run --serve --http-port 7071 …`), or of a handler started here against a running engine
//! (`--engine`, e.g. one started by `local-host engine`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::Value;

use super::exit::ExitStatus;
use crate::app_model::{FunctionApp, TriggerKind};
use crate::handler::http_client::{empty_body, HttpClient};
use crate::handler::process::HandlerOutput;
use crate::host::{EngineChoice, HostOptions, LocalHost};

/// The default address of a serving local-host.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7071";

/// `local-host status` options.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The id to ask about (the status function's route parameter), e.g. a return id.
    pub id: String,
    /// A local-host serving HTTP functions (`local-host run --serve --http-port 7071 …`).
    #[arg(long, default_value = DEFAULT_URL, conflicts_with = "engine")]
    pub url: String,
    /// Instead, start the handler against this running engine (`local-host engine` prints its address) and ask it.
    #[arg(long, value_name = "ADDR")]
    pub engine: Option<String>,
    /// The function app root (holding host.json and the function folders).
    #[arg(long, default_value = ".")]
    pub app_root: PathBuf,
    /// The HTTP-triggered status function.
    #[arg(long, default_value = "ReturnStatus")]
    pub function: String,
    /// The handler executable (with --engine; instead of host.json's defaultExecutablePath).
    #[arg(long, value_name = "PATH")]
    pub handler: Option<PathBuf>,
    /// An app setting for the handler (with --engine); may be repeated.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = super::parse_setting)]
    pub settings: Vec<(String, String)>,
}

/// The request path of `function` for `id`: `/api/` and its route with the route's one parameter filled in.
pub fn status_path(app: &FunctionApp, function: &str, id: &str) -> Result<String, String> {
    let definition = app
        .function(function)
        .or_else(|| app.functions.values().find(|f| f.name.eq_ignore_ascii_case(function)))
        .ok_or_else(|| format!("the app has no function \"{function}\" (pass --function)"))?;
    let TriggerKind::Http { route, .. } = &definition.trigger.kind else {
        return Err(format!("{} is not an HTTP-triggered function", definition.name));
    };
    let route = route.clone().unwrap_or_else(|| definition.name.clone());
    let parameters = route.matches('{').count();
    let (Some(open), Some(close), 1) = (route.find('{'), route.find('}'), parameters) else {
        return Err(format!(
            "the route \"{route}\" of {} does not take exactly one parameter",
            definition.name
        ));
    };
    if id.is_empty() || id.contains(['/', '?', '#', ' ']) {
        return Err(format!("\"{id}\" cannot be a route parameter"));
    }
    Ok(format!("/api/{}{id}{}", &route[..open], &route[close + 1..]))
}

/// Runs `local-host status`.
pub async fn status(args: StatusArgs) -> Result<ExitStatus, String> {
    let app = FunctionApp::load(&args.app_root, &args.settings).map_err(|error| error.to_string())?;
    let path = status_path(&app, &args.function, &args.id)?;
    let Some(engine) = &args.engine else {
        return ask(&format!("{}{path}", args.url.trim_end_matches('/')), Some(&args.url)).await;
    };
    let mut options = HostOptions::new(&args.app_root, EngineChoice::Address(engine.clone()));
    options.handler = args.handler.clone();
    options.settings = args.settings.clone();
    options.http_port = Some(0);
    options.handler_output = HandlerOutput::Discard;
    let host = LocalHost::start(options).await.map_err(|error| error.to_string())?;
    let address = host.http_address().ok_or("the HTTP passthrough did not start")?;
    let outcome = ask(&format!("http://{address}{path}"), None).await;
    host.shutdown().await;
    outcome
}

/// `GET url`, printing the status line and the body (JSON pretty-printed).
async fn ask(url: &str, serving: Option<&str>) -> Result<ExitStatus, String> {
    let request = http::Request::get(url)
        .body(empty_body())
        .map_err(|error| format!("{url}: {error}"))?;
    let response = match tokio::time::timeout(Duration::from_secs(60), HttpClient::default().send(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => {
            let hint = serving.map_or_else(String::new, |base| {
                format!(
                    "; is a local-host serving at {base}? Start one with `local-host run --serve --http-port 7071 \
                     --messages …`, or ask a running engine with --engine ADDR"
                )
            });
            return Err(format!("GET {url} failed: {error}{hint}"));
        }
        Err(_) => return Err(format!("GET {url}: no answer within 60 s")),
    };
    println!("GET {url} -> HTTP {}", response.status);
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(json) => println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default()),
        Err(_) => println!("{}", String::from_utf8_lossy(&response.body)),
    }
    if (200..300).contains(&response.status) {
        Ok(ExitStatus::Success)
    } else {
        Ok(ExitStatus::CouldNotRun)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_model::{parse_function_json, HostConfig};
    use serde_json::json;

    fn app_with(route: Option<&str>) -> FunctionApp {
        let mut binding = json!({"name": "req", "type": "httpTrigger", "direction": "in", "methods": ["get"]});
        if let Some(route) = route {
            binding["route"] = json!(route);
        }
        let path = PathBuf::from("ReturnStatus/function.json");
        let function = parse_function_json("ReturnStatus", &path, &json!({ "bindings": [binding] })).unwrap();
        FunctionApp {
            root: PathBuf::from("."),
            host: HostConfig::default(),
            settings: Vec::new(),
            functions: [("ReturnStatus".to_owned(), function)].into_iter().collect(),
        }
    }

    #[test]
    fn the_route_parameter_is_filled_in() {
        let app = app_with(Some("returns/{returnId}"));
        assert_eq!(
            status_path(&app, "ReturnStatus", "RET-2025-000001").unwrap(),
            "/api/returns/RET-2025-000001"
        );
        assert_eq!(status_path(&app, "returnstatus", "R1").unwrap(), "/api/returns/R1");
        assert!(status_path(&app, "ReturnStatus", "a/b").is_err());
        assert!(status_path(&app, "Nope", "R1")
            .unwrap_err()
            .contains("no function \"Nope\""));
        let without = app_with(None);
        assert!(status_path(&without, "ReturnStatus", "R1")
            .unwrap_err()
            .contains("does not take exactly one parameter"));
    }
}
