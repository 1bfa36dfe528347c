//! Histories from a live task hub: the instances a query selects, each history read with `StreamInstanceHistory`.
//!
//! Engines that serve it: the Durable Task Scheduler and durabletask's in-memory engine (the local engine of this
//! project). The Durable Functions extension's gRPC endpoint does not (`UNIMPLEMENTED`), and it is reachable only
//! from inside the Functions host anyway.

use tonic::Code;

use super::InstanceHistory;
use crate::client::{ClientError, DurableClient, InstanceQuery};
use crate::proto;

/// The history of one instance's current execution, oldest event first.
// TODO(p-parity): use `DurableClient::get_instance_history` once the client offers it.
pub async fn instance_history(client: &DurableClient, instance_id: &str) -> Result<InstanceHistory, ClientError> {
    const RPC: &str = "StreamInstanceHistory";
    let request = proto::StreamInstanceHistoryRequest {
        instance_id: instance_id.to_string(),
        ..Default::default()
    };
    let status_error = |status: tonic::Status| match status.code() {
        Code::Unimplemented => ClientError::Rpc {
            rpc: RPC,
            code: Code::Unimplemented,
            message: "this engine does not serve instance histories (the Durable Functions extension does not; \
                      the Durable Task Scheduler and durabletask's in-memory engine do)"
                .to_string(),
        },
        _ => ClientError::from_status(RPC, status),
    };
    let mut chunks = client
        .sidecar()
        .stream_instance_history(client.request(request))
        .await
        .map_err(status_error)?
        .into_inner();
    let mut events = Vec::new();
    while let Some(chunk) = chunks.message().await.map_err(status_error)? {
        events.extend(chunk.events);
    }
    Ok(InstanceHistory::new(instance_id, events))
}

/// The histories of every instance `query` selects (all its pages), in the engine's order.
pub async fn task_hub_histories(
    client: &DurableClient,
    query: &InstanceQuery,
) -> Result<Vec<InstanceHistory>, ClientError> {
    let instances = client.query_all_instances(query).await?;
    let mut histories = Vec::with_capacity(instances.len());
    for instance in instances {
        histories.push(instance_history(client, &instance.instance_id).await?);
    }
    Ok(histories)
}
