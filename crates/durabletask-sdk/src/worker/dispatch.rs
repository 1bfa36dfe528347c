//! Running work items: each on its own task, at most a configured number per kind at once, and completing it
//! with the engine (always with the work item's completion token).
//!
//! Orchestration and entity work items only compute (the executors are pure and synchronous), so they run on
//! Tokio's blocking pool; activities are async functions and run as ordinary tasks. A work item that arrives
//! while its kind is at its limit waits for a free slot without holding up the stream, so a burst of slow
//! activities never delays an orchestration.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::{Id, JoinSet};
use tracing::Instrument;

use super::chunking::completion_messages;
use super::WorkerOptions;
use crate::activity::execute_activity;
use crate::client::{ClientError, DurableClient};
use crate::entity::{execute_entity_batch, execute_entity_request};
use crate::orchestration::{execute_orchestrator, VersionFailureStrategy};
use crate::proto::{self, orchestrator_action::OrchestratorActionType as Action, work_item::Request};
use crate::registry::Registry;

/// The kinds of work item, each with its own concurrency limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WorkKind {
    Orchestration,
    Activity,
    Entity,
}

impl fmt::Display for WorkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WorkKind::Orchestration => "orchestration",
            WorkKind::Activity => "activity",
            WorkKind::Entity => "entity",
        })
    }
}

/// A work item this worker holds: what to hand back to the engine if it is given up.
#[derive(Debug)]
struct Claim {
    kind: WorkKind,
    completion_token: String,
}

/// What every work item task needs.
struct Shared {
    registry: Arc<Registry>,
    client: DurableClient,
    orchestration_slots: Semaphore,
    activity_slots: Semaphore,
    entity_slots: Semaphore,
    completion_chunk_size: Option<usize>,
}

/// The entity request shapes: V1 batches (`entityRequest`) and V2 requests (`entityRequestV2`).
enum EntityWork {
    Batch(proto::EntityBatchRequest),
    Request(proto::EntityRequest),
}

/// Starts work items and keeps track of them until they are completed.
pub(super) struct Dispatcher {
    shared: Arc<Shared>,
    in_flight: JoinSet<()>,
    claims: HashMap<Id, Claim>,
}

impl Dispatcher {
    pub(super) fn new(registry: Arc<Registry>, client: DurableClient, options: &WorkerOptions) -> Self {
        Self {
            shared: Arc::new(Shared {
                registry,
                client,
                orchestration_slots: Semaphore::new(options.max_concurrent_orchestrations.max(1)),
                activity_slots: Semaphore::new(options.max_concurrent_activities.max(1)),
                entity_slots: Semaphore::new(options.max_concurrent_entities.max(1)),
                completion_chunk_size: options.completion_chunk_size,
            }),
            in_flight: JoinSet::new(),
            claims: HashMap::new(),
        }
    }

    /// True while some work item is still running.
    pub(super) fn is_busy(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// Starts running a work item (health pings are acknowledged by ignoring them).
    pub(super) fn dispatch(&mut self, item: proto::WorkItem) {
        let token = item.completion_token;
        let shared = self.shared.clone();
        let (kind, handle) = match item.request {
            Some(Request::OrchestratorRequest(request)) => {
                let span = tracing::info_span!("orchestration", instance_id = %request.instance_id);
                let work = run_orchestration(shared, request, token.clone()).instrument(span);
                (WorkKind::Orchestration, self.in_flight.spawn(work))
            }
            Some(Request::ActivityRequest(request)) => {
                let instance_id = request.orchestration_instance.as_ref().map(|i| i.instance_id.as_str());
                let span = tracing::info_span!(
                    "activity",
                    name = %request.name,
                    task_id = request.task_id,
                    instance_id = instance_id.unwrap_or_default()
                );
                let work = run_activity(shared, request, token.clone()).instrument(span);
                (WorkKind::Activity, self.in_flight.spawn(work))
            }
            Some(Request::EntityRequest(request)) => {
                let span = tracing::info_span!("entity", instance_id = %request.instance_id);
                let work = run_entity(shared, EntityWork::Batch(request), token.clone()).instrument(span);
                (WorkKind::Entity, self.in_flight.spawn(work))
            }
            Some(Request::EntityRequestV2(request)) => {
                let span = tracing::info_span!("entity", instance_id = %request.instance_id);
                let work = run_entity(shared, EntityWork::Request(request), token.clone()).instrument(span);
                (WorkKind::Entity, self.in_flight.spawn(work))
            }
            Some(Request::HealthPing(_)) => {
                tracing::trace!("health ping from the engine");
                return;
            }
            None => {
                tracing::warn!("ignoring a work item of a kind this worker does not know");
                return;
            }
        };
        self.claims.insert(
            handle.id(),
            Claim {
                kind,
                completion_token: token,
            },
        );
    }

    /// Waits until a running work item finishes (never returns while none runs; check [`Self::is_busy`]).
    /// Cancel-safe.
    pub(super) async fn next_finished(&mut self) {
        match self.in_flight.join_next_with_id().await {
            Some(Ok((id, ()))) => {
                self.claims.remove(&id);
            }
            Some(Err(error)) => {
                // Work item tasks catch the user's panics; this is a bug of the worker itself.
                let claim = self.claims.remove(&error.id());
                tracing::error!(%error, "a work item task ended abnormally; handing its work item back");
                if let Some(claim) = claim {
                    // On its own task, so that this stays cancel-safe inside `select!`.
                    let shared = self.shared.clone();
                    self.in_flight.spawn(async move { shared.abandon(&claim).await });
                }
            }
            None => std::future::pending().await,
        }
    }

    /// Lets the running work items finish for up to `timeout`, then cancels the rest and hands their work items
    /// back to the engine.
    pub(super) async fn drain(&mut self, timeout: Duration) {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        while self.is_busy() {
            tokio::select! {
                () = self.next_finished() => {}
                () = &mut deadline => break,
            }
        }
        if !self.is_busy() {
            return;
        }
        tracing::warn!(
            unfinished = self.in_flight.len(),
            ?timeout,
            "in-flight work did not finish in time; abandoning it"
        );
        self.in_flight.abort_all();
        while let Some(joined) = self.in_flight.join_next_with_id().await {
            // A task may have finished (and completed its work item) before the abort reached it.
            if let Ok((id, ())) = joined {
                self.claims.remove(&id);
            }
        }
        for (_, claim) in std::mem::take(&mut self.claims) {
            self.shared.abandon(&claim).await;
        }
    }
}

async fn run_orchestration(shared: Arc<Shared>, mut request: proto::OrchestratorRequest, token: String) {
    let Ok(_slot) = shared.orchestration_slots.acquire().await else {
        return;
    };
    if request.requires_history_streaming {
        match shared.stream_history(&request).await {
            Ok(events) => request.past_events = events,
            Err(error) => {
                tracing::warn!(%error, "cannot fetch the orchestration's history; handing the work item back");
                let claim = Claim {
                    kind: WorkKind::Orchestration,
                    completion_token: token,
                };
                shared.abandon(&claim).await;
                return;
            }
        }
    }
    // The version check of the official workers: a rejected instance goes back to the engine for another worker,
    // a failed one ends without running any of its code.
    let mismatch = shared
        .registry
        .versioning()
        .and_then(|v| v.check_request(&request).err());
    if let Some(mismatch) = &mismatch {
        if mismatch.failure_strategy == VersionFailureStrategy::Reject {
            tracing::info!(%mismatch, "not this worker's version; handing the work item back");
            let claim = Claim {
                kind: WorkKind::Orchestration,
                completion_token: token,
            };
            shared.abandon(&claim).await;
            return;
        }
        tracing::warn!(%mismatch, "not this worker's version; failing the instance");
    }
    let registry = shared.registry.clone();
    let executed = tokio::task::spawn_blocking(move || match mismatch {
        Some(mismatch) => mismatch.failed_response(&request),
        None => {
            crate::tracing_spans::orchestration::run_episode(&request, || execute_orchestrator(&registry, &request))
        }
    })
    .await;
    let mut response = match executed {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(%error, "the orchestration executor failed; handing the work item back");
            shared
                .abandon(&Claim {
                    kind: WorkKind::Orchestration,
                    completion_token: token,
                })
                .await;
            return;
        }
    };
    response.completion_token = token;
    tracing::debug!(actions = response.actions.len(), outcome = %outcome_of(&response), "orchestration episode done");
    let messages = match shared.completion_chunk_size {
        Some(max_bytes) => completion_messages(response, max_bytes),
        None => vec![response],
    };
    if messages.len() > 1 {
        tracing::debug!(chunks = messages.len(), "sending the completion in chunks");
    }
    for message in messages {
        let result = shared
            .client
            .sidecar()
            .complete_orchestrator_task(shared.client.request(message))
            .await;
        if result.is_err() {
            // The engine redelivers the work item; the chunks already sent are discarded with its lease.
            return report_completion("CompleteOrchestratorTask", result);
        }
    }
}

async fn run_activity(shared: Arc<Shared>, request: proto::ActivityRequest, token: String) {
    let Ok(_slot) = shared.activity_slots.acquire().await else {
        return;
    };
    let instance_id = request
        .orchestration_instance
        .as_ref()
        .map_or("", |i| i.instance_id.as_str());
    let span = crate::tracing_spans::activity::activity_span(
        &request.name,
        instance_id,
        request.task_id,
        crate::tracing_spans::activity::parent_of_request(&request),
    );
    let response = execute_activity(&shared.registry, &request, &token)
        .instrument(span.clone())
        .await;
    match &response.failure_details {
        Some(details) => {
            crate::tracing_spans::activity::record_failure(&span, &details.error_type);
            tracing::debug!(error_type = %details.error_type, "activity failed");
        }
        None => tracing::debug!("activity completed"),
    }
    let result = shared
        .client
        .sidecar()
        .complete_activity_task(shared.client.request(response))
        .await;
    report_completion("CompleteActivityTask", result);
}

async fn run_entity(shared: Arc<Shared>, work: EntityWork, token: String) {
    let Ok(_slot) = shared.entity_slots.acquire().await else {
        return;
    };
    let registry = shared.registry.clone();
    let executed = tokio::task::spawn_blocking(move || match work {
        EntityWork::Batch(request) => execute_entity_batch(&registry, &request, chrono::Utc::now()),
        EntityWork::Request(request) => execute_entity_request(&registry, &request, chrono::Utc::now()),
    })
    .await;
    let mut result = match executed {
        Ok(result) => result,
        Err(error) => {
            tracing::error!(%error, "the entity executor failed; handing the work item back");
            shared
                .abandon(&Claim {
                    kind: WorkKind::Entity,
                    completion_token: token,
                })
                .await;
            return;
        }
    };
    result.completion_token = token;
    tracing::debug!(operations = result.results.len(), "entity batch done");
    let result = shared
        .client
        .sidecar()
        .complete_entity_task(shared.client.request(result))
        .await;
    report_completion("CompleteEntityTask", result);
}

/// Logs a completion call that failed: the engine will hand the work item out again once its lock expires.
fn report_completion<T>(rpc: &'static str, result: Result<T, tonic::Status>) {
    if let Err(status) = result {
        let error = ClientError::from_status(rpc, status);
        tracing::warn!(%error, "the engine did not accept the completion; it will redeliver the work item");
    }
}

/// How an episode ended, for the logs: the completion's status, or "running".
fn outcome_of(response: &proto::OrchestratorResponse) -> String {
    response
        .actions
        .iter()
        .find_map(|action| match &action.orchestrator_action_type {
            Some(Action::CompleteOrchestration(complete)) => Some(
                proto::OrchestrationStatus::try_from(complete.orchestration_status).map_or_else(
                    |_| format!("status {}", complete.orchestration_status),
                    |s| s.as_str_name().into(),
                ),
            ),
            _ => None,
        })
        .unwrap_or_else(|| "running".to_string())
}

impl Shared {
    /// Hands a work item back to the engine so that it can be given to a worker again (best effort: an engine
    /// that cannot be reached redelivers it when its lock expires anyway).
    async fn abandon(&self, claim: &Claim) {
        let token = claim.completion_token.clone();
        let mut sidecar = self.client.sidecar();
        let (rpc, result) = match claim.kind {
            WorkKind::Orchestration => {
                let request = proto::AbandonOrchestrationTaskRequest {
                    completion_token: token,
                };
                let result = sidecar
                    .abandon_task_orchestrator_work_item(self.client.request(request))
                    .await;
                ("AbandonTaskOrchestratorWorkItem", result.map(drop))
            }
            WorkKind::Activity => {
                let request = proto::AbandonActivityTaskRequest {
                    completion_token: token,
                };
                let result = sidecar
                    .abandon_task_activity_work_item(self.client.request(request))
                    .await;
                ("AbandonTaskActivityWorkItem", result.map(drop))
            }
            WorkKind::Entity => {
                let request = proto::AbandonEntityTaskRequest {
                    completion_token: token,
                };
                let result = sidecar
                    .abandon_task_entity_work_item(self.client.request(request))
                    .await;
                ("AbandonTaskEntityWorkItem", result.map(drop))
            }
        };
        match result {
            Ok(()) => tracing::info!(kind = %claim.kind, "handed a work item back to the engine"),
            Err(status) => {
                let error = ClientError::from_status(rpc, status);
                tracing::warn!(kind = %claim.kind, %error, "could not hand a work item back to the engine");
            }
        }
    }

    /// The whole past history of an orchestration whose work item came without it (`requiresHistoryStreaming`).
    async fn stream_history(
        &self,
        request: &proto::OrchestratorRequest,
    ) -> Result<Vec<proto::HistoryEvent>, ClientError> {
        self.client
            .stream_history(&request.instance_id, request.execution_id.clone(), true)
            .await
    }
}
