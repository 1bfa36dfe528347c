//! A complete Azure Durable Functions custom handler in Rust: an orchestrator, an activity and an entity, described
//! once as a `FunctionApp` and served to the Functions host with axum (the SDK's `axum` feature).
//!
//! `cargo run -p durabletask-sdk --example functions_handler -- write-function-folders <app root>` writes the
//! function folders the host needs (`HelloCities/`, `SayHello/`, `Counter/`, one `function.json` each). Run it with
//! `FUNCTIONS_CUSTOMHANDLER_PORT=7071 cargo run -p durabletask-sdk --example functions_handler` (under `func start`
//! the host sets the port and starts the binary itself).

use std::path::Path;

use durabletask_sdk::functions::FunctionApp;
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

/// The functions the host sees, each served by the registry entry of its name.
fn app() -> Result<FunctionApp, Box<dyn std::error::Error>> {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("HelloCities", hello_cities)?
        .add_activity("SayHello", say_hello)?
        .add_entity("Counter", counter)?;
    let app = FunctionApp::builder(registry)
        .orchestrator("HelloCities") // orchestrationTrigger "context"
        .activity("SayHello", "name") // activityTrigger "name"
        .entity("Counter") // entityTrigger "context"
        .build()?;
    Ok(app)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = app()?;
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("write-function-folders") {
        let root = args.next().unwrap_or_else(|| ".".into());
        for file in app.write_function_folders(Path::new(&root))? {
            println!("wrote {}", file.display());
        }
        return Ok(());
    }
    // Under the host, refuse to start when the deployed folders are not the ones this handler serves.
    if let Some(root) = std::env::var_os("FUNCTIONS_APP_ROOT_PATH") {
        app.check_function_folders(Path::new(&root))?;
    }
    let port: u16 = std::env::var("FUNCTIONS_CUSTOMHANDLER_PORT")?.parse()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app.into_router()).await?;
    Ok(())
}
