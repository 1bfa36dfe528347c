//! Entity locks and a typed entity: the README's "Entity locks and typed entities" code, which `cargo test` compiles
//! (and `tests/readme_example.rs` keeps the README showing verbatim, between the markers below). Running it
//! executes one transfer against a local engine: `cargo run -p durabletask-sdk --example entity_locks --
//! http://127.0.0.1:4001` (see `examples/worker.rs` for starting one).

use std::time::Duration;

use durabletask_sdk::client::{ClientOptions, DurableClient};
use durabletask_sdk::entity::TypedEntity;
use durabletask_sdk::worker::{Worker, WorkerOptions};
use durabletask_sdk::{EntityContext, EntityId, Error, OrchestrationContext, Registry};
use serde::{Deserialize, Serialize};

// README:begin
#[derive(Default, Clone, PartialEq, Serialize, Deserialize)]
struct Account {
    balance: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum AccountOperation {
    Deposit(i64),
    Withdraw(i64),
    Balance,
}

impl TypedEntity for Account {
    type Operation = AccountOperation;
    type Output = i64;
    fn run(&mut self, operation: AccountOperation, _ctx: &mut EntityContext) -> Result<i64, Error> {
        match operation {
            AccountOperation::Deposit(amount) => self.balance += amount,
            AccountOperation::Withdraw(amount) if amount > self.balance => return Err(Error::new("Overdrawn", "no")),
            AccountOperation::Withdraw(amount) => self.balance -= amount,
            AccountOperation::Balance => {}
        }
        Ok(self.balance)
    }
}

async fn transfer(ctx: OrchestrationContext, amount: i64) -> Result<(), Error> {
    let (from, to) = (EntityId::new("account", "alice"), EntityId::new("account", "bob"));
    let lock = ctx.lock_entities(&[from.clone(), to.clone()]).await?;
    ctx.call_entity::<i64>(&from, "withdraw", &amount).await?;
    ctx.call_entity::<i64>(&to, "deposit", &amount).await?;
    lock.release();
    Ok(())
}
// README:end

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:4001".to_string());
    let mut registry = Registry::new();
    registry
        .add_typed_entity::<Account>("account")?
        .add_orchestrator("transfer", transfer)?;
    let worker = Worker::new(registry, WorkerOptions::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            worker
                .run(&endpoint, async {
                    let _ = stopped.await;
                })
                .await
        })
    };
    let client = DurableClient::connect(&endpoint, ClientOptions::default()).await?;
    client
        .signal_entity(&EntityId::new("account", "alice"), "deposit", &100)
        .await?;
    let id = client.start_orchestration("transfer", None, &30).await?;
    let state = client
        .wait_for_instance_completion(&id, Duration::from_secs(60))
        .await?
        .ok_or("the instance disappeared")?;
    println!("{id}: {}", state.status);
    let _ = stop.send(());
    running.await??;
    Ok(())
}
