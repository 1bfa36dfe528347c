//! A standalone worker saying hello to three cities, against any durabletask engine.
//!
//! Run with the local engine:
//!
//! ```text
//! bash scripts/setup-venv.sh
//! .venv/bin/python scripts/local_engine.py 4001 --no-stdin-watch &   # prints LISTENING 4001
//! cargo run -p durabletask-sdk --example worker -- http://127.0.0.1:4001
//! ```
//!
//! It registers the `hello_cities` orchestrator and its `say_hello` activity, starts the worker, schedules one
//! instance through the client, prints its output and shuts the worker down gracefully. Add `--serve` to keep the
//! worker running (until Ctrl-C) for instances started by other clients.
//!
//! In place of the URL, a Durable Task Scheduler connection string works too (the README's "Running a worker on
//! the Durable Task Scheduler"): `Endpoint=http://localhost:8080;Authentication=None;TaskHub=default` for the
//! emulator, or `Endpoint=https://…;Authentication=AzureCli;TaskHub=…` with `--features azure-identity`.

use std::time::Duration;

use durabletask_sdk::client::{ClientOptions, DurableClient};
use durabletask_sdk::worker::{Worker, WorkerOptions};
use durabletask_sdk::{ActivityContext, Error, OrchestrationContext, Registry};
use tokio::sync::oneshot;

async fn say_hello(_ctx: ActivityContext, city: String) -> Result<String, Error> {
    Ok(format!("Hello, {city}!"))
}

async fn hello_cities(ctx: OrchestrationContext, _input: ()) -> Result<Vec<String>, Error> {
    let mut greetings = Vec::new();
    for city in ["Tokyo", "Seattle", "London"] {
        greetings.push(ctx.call_activity::<String>("say_hello", &city).await?);
    }
    Ok(greetings)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let target = args.next().unwrap_or_else(|| "http://127.0.0.1:4001".to_string());
    let serve = args.any(|arg| arg == "--serve");
    // `Endpoint=…;Authentication=…;TaskHub=…` is a scheduler connection string; anything else an engine URL.
    let is_connection_string = target.contains('=');

    let mut registry = Registry::new();
    registry
        .add_activity("say_hello", say_hello)?
        .add_orchestrator("hello_cities", hello_cities)?;
    let worker = Worker::new(registry, WorkerOptions::default());

    let (stop, stopped) = oneshot::channel::<()>();
    let running = {
        let target = target.clone();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if is_connection_string {
                worker.run_with_connection_string(&target, shutdown).await
            } else {
                worker.run(&target, shutdown).await
            }
        })
    };

    let client = if is_connection_string {
        DurableClient::from_connection_string(&target, ClientOptions::default())?
    } else {
        DurableClient::connect(&target, ClientOptions::default()).await?
    };
    let id = client.start_orchestration("hello_cities", None, &()).await?;
    let state = client
        .wait_for_instance_completion(&id, Duration::from_secs(60))
        .await?
        .ok_or("the instance disappeared")?;
    println!("{id}: {} {}", state.status, state.output.as_deref().unwrap_or("null"));

    if serve {
        println!("serving; press Ctrl-C to stop");
        tokio::signal::ctrl_c().await?;
    }
    let _ = stop.send(());
    running.await??;
    Ok(())
}
