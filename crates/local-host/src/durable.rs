//! The Durable extension emulation: one `GetWorkItems` stream from the engine, each work item turned
//! into the handler invocation the extension makes, and the answer sent back as the engine completion.
//! Work items run concurrently (bounded); the stream is reopened with backoff when the engine goes away.
//!
//! Failure handling follows the extension: a failed orchestrator invocation fails the instance, a failed
//! activity becomes a task failure, a failed entity batch is abandoned (and retried by the engine), and
//! platform aborts (function timeout, handler exit) are retried. The in-memory engine ignores
//! `AbandonTaskActivityWorkItem`, so activities are redelivered by the local host itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use durabletask_sdk::proto::{
    work_item::Request as WorkRequest, AbandonActivityTaskRequest, AbandonEntityTaskRequest,
    AbandonOrchestrationTaskRequest, ActivityRequest, ActivityResponse, EntityBatchRequest, EntityBatchResult,
    GetWorkItemsRequest, OperationInfo, OrchestratorRequest, OrchestratorResponse, WorkItem,
};
use prost::Message as _;
use tokio::sync::{watch, Semaphore};

use crate::app_model::FunctionApp;
use crate::durable_protocol::{
    entity_batch_from_v2, entity_completion, entity_name, failed_entity_batch, failed_orchestration, failure_details,
    function_failed_message, function_missing_message, orchestration_name, orchestrator_completion,
    FUNCTION_FAILURE_TYPE,
};
use crate::engine_client::{with_deadline, SidecarClient};
use crate::envelope::SystemBindingData;
use crate::invoke::{InvokeError, Invoker};
use crate::payloads::{
    activity_request, activity_result, add_durable_clients, protobuf_trigger_request, DurableClientSettings,
};
use crate::stats::{Stats, WorkItemKind};

/// How many times the local host delivers an activity whose invocation was aborted by a timeout or a
/// handler exit before it abandons the work item.
const ACTIVITY_ATTEMPTS: u32 = 5;
/// First and largest pause before reopening the work-item stream.
const RECONNECT_BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));
/// First and largest pause before abandoning a failed entity batch (so a broken entity does not spin).
const ENTITY_RETRY_BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(10));

/// Settings of the work-item loop.
#[derive(Debug, Clone)]
pub struct DurableOptions {
    /// Work items processed at once.
    pub concurrency: usize,
    /// The `durableClient` binding settings.
    pub client_settings: DurableClientSettings,
}

/// Everything a work item needs.
#[derive(Debug)]
struct Context {
    app: Arc<FunctionApp>,
    invoker: Arc<Invoker>,
    stats: Arc<Stats>,
    engine: SidecarClient,
    client_settings: DurableClientSettings,
    entity_failures: Mutex<HashMap<String, u32>>,
}

/// Runs the work-item loop until `shutdown` becomes true.
pub async fn run_work_items(
    app: Arc<FunctionApp>,
    invoker: Arc<Invoker>,
    stats: Arc<Stats>,
    engine: SidecarClient,
    options: DurableOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let concurrency = options.concurrency.max(1);
    let context = Arc::new(Context {
        app,
        invoker,
        stats,
        engine: engine.clone(),
        client_settings: options.client_settings,
        entity_failures: Mutex::new(HashMap::new()),
    });
    let permits = Arc::new(Semaphore::new(concurrency));
    let limit = i32::try_from(concurrency).unwrap_or(i32::MAX);
    let worker_id = format!("local-host-{}", uuid::Uuid::new_v4().simple());
    let mut backoff = RECONNECT_BACKOFF.0;
    let mut warned = false;
    while !*shutdown.borrow() {
        let request = GetWorkItemsRequest {
            max_concurrent_orchestration_work_items: limit,
            max_concurrent_activity_work_items: limit,
            max_concurrent_entity_work_items: limit,
            worker_instance_id: worker_id.clone(),
            ..GetWorkItemsRequest::default()
        };
        let mut client = engine.clone();
        let opened = tokio::select! {
            opened = client.get_work_items(request) => opened,
            _ = shutdown.changed() => return,
        };
        match opened {
            Ok(response) => {
                if warned {
                    tracing::info!("work-item stream reopened");
                    warned = false;
                }
                backoff = RECONNECT_BACKOFF.0;
                let mut stream = response.into_inner();
                loop {
                    let received = tokio::select! {
                        received = stream.message() => received,
                        _ = shutdown.changed() => return,
                    };
                    match received {
                        Ok(Some(item)) => {
                            let permit = tokio::select! {
                                permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                                _ = shutdown.changed() => return,
                            };
                            let context = context.clone();
                            tokio::spawn(async move {
                                handle_work_item(&context, item).await;
                                drop(permit);
                            });
                        }
                        Ok(None) => {
                            tracing::warn!("the engine closed the work-item stream");
                            break;
                        }
                        Err(status) => {
                            tracing::warn!("the work-item stream failed: {}", status.message());
                            break;
                        }
                    }
                }
            }
            Err(status) => {
                if !warned {
                    tracing::warn!("cannot open the work-item stream ({}); retrying", status.message());
                    warned = true;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => return,
        }
        backoff = (backoff * 2).min(RECONNECT_BACKOFF.1);
    }
}

async fn handle_work_item(context: &Context, item: WorkItem) {
    let token = item.completion_token;
    match item.request {
        Some(WorkRequest::OrchestratorRequest(request)) => {
            context.stats.work_item_received(WorkItemKind::Orchestration);
            run_orchestrator(context, request, &token).await;
        }
        Some(WorkRequest::ActivityRequest(request)) => {
            context.stats.work_item_received(WorkItemKind::Activity);
            run_activity(context, request, &token).await;
        }
        Some(WorkRequest::EntityRequestV2(request)) => {
            context.stats.work_item_received(WorkItemKind::Entity);
            let converted = entity_batch_from_v2(&request);
            if converted.skipped_events > 0 {
                tracing::warn!(
                    entity = %request.instance_id,
                    "{} entity history events that are neither signals nor calls were left out",
                    converted.skipped_events
                );
            }
            run_entity(context, converted.batch, converted.operation_infos, &token).await;
        }
        Some(WorkRequest::EntityRequest(batch)) => {
            context.stats.work_item_received(WorkItemKind::Entity);
            run_entity(context, batch, Vec::new(), &token).await;
        }
        Some(WorkRequest::HealthPing(_)) | None => {}
    }
}

async fn run_orchestrator(context: &Context, request: OrchestratorRequest, token: &str) {
    let instance_id = request.instance_id.clone();
    let name = orchestration_name(&request).unwrap_or_default().to_owned();
    let Some(function) = context.app.orchestrator(&name) else {
        tracing::error!(%instance_id, "no orchestrator function for orchestration \"{name}\"");
        let failure = failure_details("FunctionNotFound", function_missing_message(&name, "an orchestrator"));
        complete_orchestration(context, failed_orchestration(&instance_id, token, failure)).await;
        return;
    };
    let mut invocation = protobuf_trigger_request(
        function,
        &request.encode_to_vec(),
        &SystemBindingData::now(&function.name),
    );
    add_durable_clients(function, &context.client_settings, &mut invocation);
    let completion = match context.invoker.invoke(function, &invocation).await {
        Ok(result) => match orchestrator_completion(&result.return_value, &instance_id, token) {
            Ok(completion) => completion,
            Err(problem) => {
                tracing::error!(%instance_id, function = %function.name, "{problem}; the instance fails");
                let failure = failure_details(FUNCTION_FAILURE_TYPE, function_failed_message(&function.name));
                failed_orchestration(&instance_id, token, failure)
            }
        },
        Err(error) if error.is_platform_abort() => {
            let request = AbandonOrchestrationTaskRequest {
                completion_token: token.to_owned(),
            };
            if let Err(status) = context
                .engine
                .clone()
                .abandon_task_orchestrator_work_item(with_deadline(request))
                .await
            {
                tracing::error!(%instance_id, "abandoning the orchestration work item failed: {}", status.message());
            }
            return;
        }
        Err(InvokeError::Unavailable(_)) => return,
        Err(_) => {
            let failure = failure_details(FUNCTION_FAILURE_TYPE, function_failed_message(&function.name));
            failed_orchestration(&instance_id, token, failure)
        }
    };
    complete_orchestration(context, completion).await;
}

async fn complete_orchestration(context: &Context, completion: OrchestratorResponse) {
    let instance_id = completion.instance_id.clone();
    if let Err(status) = context
        .engine
        .clone()
        .complete_orchestrator_task(with_deadline(completion))
        .await
    {
        tracing::error!(%instance_id, "completing the orchestration work item failed: {}", status.message());
    }
}

async fn run_activity(context: &Context, request: ActivityRequest, token: &str) {
    let instance = request.orchestration_instance.clone().unwrap_or_default();
    let response = |result: Option<String>, failure: Option<String>, error_type: &str| ActivityResponse {
        instance_id: instance.instance_id.clone(),
        task_id: request.task_id,
        result,
        failure_details: failure.map(|message| failure_details(error_type, message)),
        completion_token: token.to_owned(),
    };
    let Some(function) = context.app.activity(&request.name) else {
        tracing::error!(instance_id = %instance.instance_id, "no activity function for activity \"{}\"", request.name);
        let message = function_missing_message(&request.name, "an activity");
        complete_activity(context, response(None, Some(message), "FunctionNotFound")).await;
        return;
    };
    let sys = SystemBindingData::now(&function.name);
    let mut invocation = match activity_request(function, &instance.instance_id, request.input.as_deref(), &sys) {
        Ok(invocation) => invocation,
        Err(error) => {
            complete_activity(context, response(None, Some(error.to_string()), FUNCTION_FAILURE_TYPE)).await;
            return;
        }
    };
    add_durable_clients(function, &context.client_settings, &mut invocation);
    for attempt in 1..=ACTIVITY_ATTEMPTS {
        match context.invoker.invoke(function, &invocation).await {
            Ok(result) => {
                complete_activity(context, response(activity_result(&result.return_value), None, "")).await;
                return;
            }
            Err(error) if error.is_platform_abort() => {
                tracing::warn!(function = %function.name, attempt, "activity aborted ({error}); delivering it again");
            }
            Err(InvokeError::Unavailable(_)) => return,
            Err(_) => {
                let message = function_failed_message(&function.name);
                complete_activity(context, response(None, Some(message), FUNCTION_FAILURE_TYPE)).await;
                return;
            }
        }
    }
    tracing::error!(function = %function.name, "activity aborted {ACTIVITY_ATTEMPTS} times; abandoning the work item");
    let abandon = AbandonActivityTaskRequest {
        completion_token: token.to_owned(),
    };
    if let Err(status) = context
        .engine
        .clone()
        .abandon_task_activity_work_item(with_deadline(abandon))
        .await
    {
        tracing::error!("abandoning the activity work item failed: {}", status.message());
    }
}

async fn complete_activity(context: &Context, response: ActivityResponse) {
    let instance_id = response.instance_id.clone();
    if let Err(status) = context
        .engine
        .clone()
        .complete_activity_task(with_deadline(response))
        .await
    {
        tracing::error!(%instance_id, "completing the activity work item failed: {}", status.message());
    }
}

async fn run_entity(context: &Context, batch: EntityBatchRequest, operation_infos: Vec<OperationInfo>, token: &str) {
    let instance_id = batch.instance_id.clone();
    let name = entity_name(&instance_id).unwrap_or_default().to_owned();
    let Some(function) = context.app.entity(&name) else {
        tracing::error!(entity = %instance_id, "no entity function for entity \"{name}\"");
        let failure = failure_details("FunctionNotFound", function_missing_message(&name, "an entity"));
        complete_entity(context, failed_entity_batch(&batch, token, operation_infos, &failure)).await;
        return;
    };
    let mut invocation = protobuf_trigger_request(
        function,
        &batch.encode_to_vec(),
        &SystemBindingData::now(&function.name),
    );
    add_durable_clients(function, &context.client_settings, &mut invocation);
    let problem = match context.invoker.invoke(function, &invocation).await {
        Ok(result) => match entity_completion(&result.return_value, token, operation_infos) {
            Ok(completion) => {
                if completion.results.len() != batch.operations.len() {
                    tracing::warn!(
                        entity = %instance_id,
                        "the entity answered {} results for {} operations",
                        completion.results.len(),
                        batch.operations.len()
                    );
                }
                context
                    .entity_failures
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&instance_id);
                complete_entity(context, completion).await;
                return;
            }
            Err(problem) => problem.to_string(),
        },
        Err(InvokeError::Unavailable(_)) => return,
        Err(error) => error.to_string(),
    };
    let failures = {
        let mut failures = context
            .entity_failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = failures.entry(instance_id.clone()).or_default();
        *count += 1;
        *count
    };
    let pause = ENTITY_RETRY_BACKOFF
        .0
        .saturating_mul(2_u32.saturating_pow(failures.min(16) - 1))
        .min(ENTITY_RETRY_BACKOFF.1);
    tracing::warn!(entity = %instance_id, failures, "entity batch failed ({problem}); abandoning it for a retry in {pause:?}");
    tokio::time::sleep(pause).await;
    let abandon = AbandonEntityTaskRequest {
        completion_token: token.to_owned(),
    };
    if let Err(status) = context
        .engine
        .clone()
        .abandon_task_entity_work_item(with_deadline(abandon))
        .await
    {
        tracing::error!(entity = %instance_id, "abandoning the entity work item failed: {}", status.message());
    }
}

async fn complete_entity(context: &Context, completion: EntityBatchResult) {
    if let Err(status) = context
        .engine
        .clone()
        .complete_entity_task(with_deadline(completion))
        .await
    {
        tracing::error!("completing the entity work item failed: {}", status.message());
    }
}
