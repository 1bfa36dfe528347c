//! Client calls on durable entities: signal, read, query and clean up.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::orchestrations::repeated_token;
use super::page::next_token;
use super::{
    CleanEntityStorageOptions, CleanEntityStorageResult, ClientError, DurableClient, EntityMetadata, EntityQuery, Page,
};
use crate::time::to_timestamp;
use crate::{json, proto, EntityId};
use tracing::Instrument as _;

impl DurableClient {
    /// Sends the one-way operation `operation` with `input` (serialized as JSON; `()` for none) to an
    /// entity. Each signal gets a fresh request id (a GUID, as the Functions extension requires), so a
    /// retried call may deliver the operation twice: make entity operations idempotent.
    pub async fn signal_entity<T: Serialize + ?Sized>(
        &self,
        entity: &EntityId,
        operation: &str,
        input: &T,
    ) -> Result<(), ClientError> {
        self.send_signal(entity, operation, input, None).await
    }

    /// Like [`DurableClient::signal_entity`], delivered no earlier than `at` (engines may cap how far
    /// ahead a signal can be scheduled).
    pub async fn signal_entity_at<T: Serialize + ?Sized>(
        &self,
        entity: &EntityId,
        operation: &str,
        input: &T,
        at: DateTime<Utc>,
    ) -> Result<(), ClientError> {
        self.send_signal(entity, operation, input, Some(at)).await
    }

    async fn send_signal<T: Serialize + ?Sized>(
        &self,
        entity: &EntityId,
        operation: &str,
        input: &T,
        scheduled_time: Option<DateTime<Utc>>,
    ) -> Result<(), ClientError> {
        let instance_id = entity.to_string();
        let span = crate::tracing_spans::client::signal_entity_span(&instance_id, operation);
        let request = proto::SignalEntityRequest {
            instance_id,
            name: operation.to_string(),
            input: json::encode(input)?,
            request_id: uuid::Uuid::new_v4().to_string(),
            scheduled_time: scheduled_time.map(to_timestamp),
            parent_trace_context: crate::tracing_spans::trace_context_of_span(&span),
            request_time: Some(to_timestamp(Utc::now())),
        };
        self.call(
            "SignalEntity",
            request,
            self.call_timeout,
            |mut sidecar, request| async move { sidecar.signal_entity(request).await },
        )
        .instrument(span)
        .await?;
        Ok(())
    }

    /// The stored entity with its state, or `None` when it does not exist.
    pub async fn get_entity(&self, entity: &EntityId) -> Result<Option<EntityMetadata>, ClientError> {
        self.fetch_entity(entity, true).await
    }

    /// The stored entity without its state (last change, backlog, lock: a smaller answer), or `None` when it does
    /// not exist.
    pub async fn get_entity_without_state(&self, entity: &EntityId) -> Result<Option<EntityMetadata>, ClientError> {
        self.fetch_entity(entity, false).await
    }

    async fn fetch_entity(
        &self,
        entity: &EntityId,
        include_state: bool,
    ) -> Result<Option<EntityMetadata>, ClientError> {
        const RPC: &str = "GetEntity";
        let request = proto::GetEntityRequest {
            instance_id: entity.to_string(),
            include_state,
        };
        let response = self
            .call(RPC, request, self.call_timeout, |mut sidecar, request| async move {
                sidecar.get_entity(request).await
            })
            .await?;
        match (response.exists, response.entity) {
            (true, Some(entity)) => Ok(Some(entity.into())),
            (true, None) => Err(ClientError::UnexpectedResponse {
                rpc: RPC,
                message: "the entity exists but its metadata is missing".into(),
            }),
            (false, _) => Ok(None),
        }
    }

    /// One page of the entities matching `query`; pass the previous page's continuation token to get the
    /// next one.
    pub async fn query_entities(
        &self,
        query: &EntityQuery,
        continuation_token: Option<&str>,
    ) -> Result<Page<EntityMetadata>, ClientError> {
        let request = proto::QueryEntitiesRequest {
            query: Some(query.to_proto(continuation_token)),
        };
        let response = self
            .call(
                "QueryEntities",
                request,
                self.call_timeout,
                |mut sidecar, request| async move { sidecar.query_entities(request).await },
            )
            .await?;
        Ok(Page {
            items: response.entities.into_iter().map(EntityMetadata::from).collect(),
            continuation_token: next_token(response.continuation_token),
        })
    }

    /// Every entity matching `query`, fetching page after page.
    pub async fn query_all_entities(&self, query: &EntityQuery) -> Result<Vec<EntityMetadata>, ClientError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.query_entities(query, token.as_deref()).await?;
            all.extend(page.items);
            match page.continuation_token {
                Some(next) if token.as_deref() != Some(next.as_str()) => token = Some(next),
                Some(_) => return Err(repeated_token("QueryEntities")),
                None => return Ok(all),
            }
        }
    }

    /// Cleans entity storage as `options` say (remove entities that have neither state nor pending work, release
    /// locks held by orchestrations that no longer exist), going through every page of the clean-up and summing
    /// the counts.
    ///
    /// ```no_run
    /// # async fn example(client: durabletask_sdk::client::DurableClient) -> Result<(), durabletask_sdk::client::ClientError> {
    /// use durabletask_sdk::client::CleanEntityStorageOptions;
    ///
    /// let cleaned = client.clean_entity_storage(CleanEntityStorageOptions::all()).await?;
    /// println!("{} empty entities removed", cleaned.empty_entities_removed);
    /// # Ok(()) }
    /// ```
    pub async fn clean_entity_storage(
        &self,
        options: CleanEntityStorageOptions,
    ) -> Result<CleanEntityStorageResult, ClientError> {
        const RPC: &str = "CleanEntityStorage";
        let mut total = CleanEntityStorageResult::default();
        let mut token: Option<String> = None;
        loop {
            let request = proto::CleanEntityStorageRequest {
                continuation_token: token.clone(),
                remove_empty_entities: options.remove_empty_entities,
                release_orphaned_locks: options.release_orphaned_locks,
            };
            let response = self
                .call(RPC, request, self.call_timeout, |mut sidecar, request| async move {
                    sidecar.clean_entity_storage(request).await
                })
                .await?;
            total.empty_entities_removed += u32::try_from(response.empty_entities_removed).unwrap_or(0);
            total.orphaned_locks_released += u32::try_from(response.orphaned_locks_released).unwrap_or(0);
            match next_token(response.continuation_token) {
                Some(next) if token.as_deref() != Some(next.as_str()) => token = Some(next),
                Some(_) => return Err(repeated_token(RPC)),
                None => return Ok(total),
            }
        }
    }
}
