//! A complete Azure Durable Functions custom handler in Rust: an orchestrator, an activity and an entity, served
//! to the Functions host with axum. Function folders it expects (one `function.json` each):
//! `HelloCities` (orchestrationTrigger "context"), `SayHello` (activityTrigger "name"), `Counter` (entityTrigger
//! "context").
//!
//! Run with `FUNCTIONS_CUSTOMHANDLER_PORT=7071 cargo run -p durabletask-sdk --example functions_handler`
//! (under `func start`, the host sets the port and starts the binary itself).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use durabletask_sdk::functions::{handle_activity, handle_entity, handle_orchestrator, InvokeRequest};
use durabletask_sdk::{ActivityContext, EntityContext, EntityId, Error, OrchestrationContext, Registry};

/// Greets three cities in turn, counting the greetings in an entity.
async fn hello_cities(ctx: OrchestrationContext, _input: ()) -> Result<Vec<String>, Error> {
    let mut greetings = Vec::new();
    for city in ["Tokyo", "Seattle", "London"] {
        greetings.push(ctx.call_activity::<String>("SayHello", &city).await?);
        ctx.signal_entity(&EntityId::new("Counter", "greetings"), "add", &1);
    }
    Ok(greetings)
}

/// An activity: the place for I/O.
async fn say_hello(_ctx: ActivityContext, city: String) -> Result<String, Error> {
    Ok(format!("Hello, {city}!"))
}

/// An entity: a durable counter.
fn counter(ctx: &mut EntityContext) -> Result<i64, Error> {
    let current: i64 = ctx.get_state()?.unwrap_or(0);
    match ctx.operation() {
        "add" => {
            let next = current + ctx.input::<i64>()?;
            ctx.set_state(&next)?;
            Ok(next)
        }
        "reset" => {
            ctx.delete_state();
            Ok(0)
        }
        _ => Ok(current),
    }
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("HelloCities", hello_cities)
        .and_then(|r| r.add_activity("SayHello", say_hello))
        .and_then(|r| r.add_entity("Counter", counter))
        .expect("names are unique");
    registry
}

/// `POST /{FunctionName}`: the host's invocation of one function.
async fn invoke(State(registry): State<Arc<Registry>>, Path(function): Path<String>, body: Bytes) -> Response {
    let request = match InvokeRequest::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    };
    let answer = match function.as_str() {
        "HelloCities" => handle_orchestrator(&registry, &request, "context").map_err(|e| e.to_string()),
        "Counter" => handle_entity(&registry, &request, "context").map_err(|e| e.to_string()),
        "SayHello" => handle_activity(&registry, &function, &request, "name")
            .await
            .map_err(|e| e.to_string()),
        other => Err(format!("no function named {other}")),
    };
    match answer {
        Ok(answer) => ([(header::CONTENT_TYPE, "application/json")], answer.to_json_bytes()).into_response(),
        Err(message) => (StatusCode::INTERNAL_SERVER_ERROR, message).into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("FUNCTIONS_CUSTOMHANDLER_PORT")?.parse()?;
    let app = Router::new()
        .route("/", get(|| async { "ready" }))
        .route("/{function}", post(invoke))
        .with_state(Arc::new(registry()));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
