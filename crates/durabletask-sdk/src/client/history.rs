//! Reading an instance's history (`StreamInstanceHistory`): for people and tools (a replay check, an operator
//! looking at a failure), and for the worker when an engine sends a work item without its history.

use super::{ClientError, DurableClient};
use crate::proto;

impl DurableClient {
    /// The whole history of an instance's current execution, oldest event first: what the engine recorded, the
    /// events the replay executor reads. Fails with [`ClientError::NotFound`] for an unknown instance.
    ///
    /// Served by the Durable Task Scheduler and durabletask's in-memory engine (in chunks of 100 events); the
    /// Durable Functions extension answers `UNIMPLEMENTED` (its HTTP management API's `showHistory` is the way
    /// there).
    pub async fn get_instance_history(&self, instance_id: &str) -> Result<Vec<proto::HistoryEvent>, ClientError> {
        self.stream_history(instance_id, None, false).await
    }

    /// The history of `instance_id` (of `execution_id` when given), streamed chunk by chunk and collected.
    /// `for_work_item` tells the engine the history completes a work item it handed out.
    pub(crate) async fn stream_history(
        &self,
        instance_id: &str,
        execution_id: Option<String>,
        for_work_item: bool,
    ) -> Result<Vec<proto::HistoryEvent>, ClientError> {
        const RPC: &str = "StreamInstanceHistory";
        let request = proto::StreamInstanceHistoryRequest {
            instance_id: instance_id.to_string(),
            execution_id,
            for_work_item_processing: for_work_item,
        };
        let mut chunks = self
            .sidecar()
            .stream_instance_history(self.request(request))
            .await
            .map_err(|status| ClientError::from_status(RPC, status))?
            .into_inner();
        let mut events = Vec::new();
        while let Some(chunk) = chunks
            .message()
            .await
            .map_err(|status| ClientError::from_status(RPC, status))?
        {
            events.extend(chunk.events);
        }
        Ok(events)
    }
}
