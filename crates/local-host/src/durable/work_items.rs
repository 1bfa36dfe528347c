//! The Durable extension emulation: one `GetWorkItems` stream from the engine, each work item turned
//! into the handler invocation the extension makes, and the answer sent back as the engine completion.
//! Work items run concurrently (bounded); the stream is reopened with backoff when the engine goes away.
//!
//! A failed invocation is handled as the extension handles it ([`crate::durable::failure_rules`]): a function timeout of
//! an orchestrator or activity and a stopping host are retried; anything else fails the orchestration, fails the
//! activity's task, or fails the whole entity batch for good (every operation answered with the error, its
//! signals and state change dropped). Failures for good are reported as [`Problem`]s. The in-memory engine
//! ignores `AbandonTaskActivityWorkItem`, so aborted activities are redelivered by the local host itself.
//!
//! Why not the SDK's worker loop (`durabletask_sdk::worker`): that loop runs a `Registry` in process, with no seam
//! for "send this work item somewhere else and read the answer", and it completes every work item it takes; this
//! loop's whole job is what happens between taking a work item and completing it (the extension's payloads, its
//! reading of answers, its failure rules), and it must not share the SDK's code there, so that it can catch the
//! SDK misreading the host. What the two loops share is small: the stream and its reconnect backoff, which is the
//! SDK's [`ReconnectBackoff`]. A rewind of a failed instance is answered here, with the SDK's rewrite of the history
//! ([`rewind`]), as the extension rewinds without the handler.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use durabletask_sdk::orchestration::rewind;
use durabletask_sdk::proto::{
    work_item::Request as WorkRequest, AbandonActivityTaskRequest, AbandonEntityTaskRequest,
    AbandonOrchestrationTaskRequest, ActivityRequest, ActivityResponse, EntityBatchRequest, EntityBatchResult,
    GetWorkItemsRequest, OperationInfo, OrchestratorRequest, OrchestratorResponse, TaskFailureDetails, WorkItem,
};
use durabletask_sdk::worker::ReconnectBackoff;
use prost::Message as _;
use tokio::sync::{watch, Semaphore};

use super::trace_context::TraceContexts;
use crate::app_model::FunctionApp;
use crate::durable::failure_rules::{entity_batch_failure, exception_type, failure_rule, FailureRule, HostFailure};
use crate::durable::protocol::{
    entity_batch_from_v2, entity_completion, entity_name, failed_entity_batch, failed_orchestration, failure_details,
    function_failed_message, function_missing_message, orchestration_name, orchestrator_completion,
    FUNCTION_FAILURE_TYPE,
};
use crate::durable::scheduled::Scheduled;
use crate::engine::client::{with_deadline, SidecarClient};
use crate::invocation::envelope::SystemBindingData;
use crate::invocation::invoke::Invoker;
use crate::invocation::payloads::{
    activity_request, activity_result, add_durable_clients, protobuf_trigger_request, DurableClientSettings,
};
use crate::output::problems::Problem;
use crate::output::stats::{Stats, WorkItemKind};

/// How many times the local host delivers an activity whose invocation timed out before it abandons the work
/// item.
const ACTIVITY_ATTEMPTS: u32 = 5;
/// Attempts to send one completion, and the first pause between them (doubling).
const COMPLETION_ATTEMPTS: u32 = 3;
const COMPLETION_RETRY_PAUSE: Duration = Duration::from_millis(200);
/// Pauses before reopening the work-item stream: from 100 ms, doubling, up to 5 s.
const RECONNECT_BACKOFF: ReconnectBackoff = ReconnectBackoff {
    initial: Duration::from_millis(100),
    max: Duration::from_secs(5),
};

/// Settings of the work-item loop.
#[derive(Debug, Clone)]
pub struct DurableOptions {
    /// Work items processed at once.
    pub concurrency: usize,
    /// The `durableClient` binding settings.
    pub client_settings: DurableClientSettings,
    /// Where the signals and timers scheduled for later are remembered.
    pub scheduled: Arc<Scheduled>,
    /// While true, work items received wait before they run.
    pub paused: watch::Receiver<bool>,
    /// The trace context the extension would keep with the work it queues.
    pub trace_contexts: Arc<TraceContexts>,
}

/// Everything a work item needs.
#[derive(Debug)]
struct Context {
    app: Arc<FunctionApp>,
    invoker: Arc<Invoker>,
    stats: Arc<Stats>,
    engine: SidecarClient,
    client_settings: DurableClientSettings,
    scheduled: Arc<Scheduled>,
    trace_contexts: Arc<TraceContexts>,
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
    let mut paused = options.paused.clone();
    let context = Arc::new(Context {
        app,
        invoker,
        stats,
        engine: engine.clone(),
        client_settings: options.client_settings,
        scheduled: options.scheduled,
        trace_contexts: options.trace_contexts,
    });
    let permits = Arc::new(Semaphore::new(concurrency));
    let limit = i32::try_from(concurrency).unwrap_or(i32::MAX);
    let worker_id = format!("local-host-{}", uuid::Uuid::new_v4().simple());
    let mut failures: u32 = 0;
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
                failures = 0;
                let mut stream = response.into_inner();
                loop {
                    let received = tokio::select! {
                        received = stream.message() => received,
                        _ = shutdown.changed() => return,
                    };
                    match received {
                        Ok(Some(item)) => {
                            // While paused (a fault test lining up its fault), work items wait here.
                            tokio::select! {
                                _ = paused.wait_for(|&paused| !paused) => {}
                                _ = shutdown.changed() => return,
                            }
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
        failures = failures.saturating_add(1);
        tokio::select! {
            () = tokio::time::sleep(RECONNECT_BACKOFF.delay(failures, 1.0)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn handle_work_item(context: &Context, item: WorkItem) {
    let kind = match &item.request {
        Some(WorkRequest::OrchestratorRequest(_)) => WorkItemKind::Orchestration,
        Some(WorkRequest::ActivityRequest(_)) => WorkItemKind::Activity,
        Some(WorkRequest::EntityRequestV2(_) | WorkRequest::EntityRequest(_)) => WorkItemKind::Entity,
        Some(WorkRequest::HealthPing(_)) | None => return,
    };
    context.stats.work_item_received(kind);
    let token = item.completion_token;
    match item.request {
        Some(WorkRequest::OrchestratorRequest(request)) => {
            run_orchestrator(context, request, &token).await;
        }
        Some(WorkRequest::ActivityRequest(request)) => {
            run_activity(context, request, &token).await;
        }
        Some(WorkRequest::EntityRequestV2(request)) => {
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
            run_entity(context, batch, Vec::new(), &token).await;
        }
        Some(WorkRequest::HealthPing(_)) | None => {}
    }
    context.stats.work_item_done();
}

async fn run_orchestrator(context: &Context, mut request: OrchestratorRequest, token: &str) {
    context.trace_contexts.fill_orchestrator_request(&mut request);
    let instance_id = request.instance_id.clone();
    // The extension rewinds a failed instance in the task hub and never shows the handler a rewind; the in-memory
    // engine leaves the rewrite of the history to its worker, which is the local host here.
    if rewind::is_rewind_request(&request) {
        tracing::info!(%instance_id, "rewinding the failed orchestration");
        let mut completion = rewind::rewind_response(&request);
        completion.completion_token = token.to_owned();
        complete_orchestration(context, completion).await;
        return;
    }
    context
        .scheduled
        .timers_fired(&instance_id, &request.new_events, Utc::now());
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
    let failed = |reason: String| {
        // OutOfProcMiddleware.CallOrchestratorAsync, the generic `else` branch:
        // `OrchestratorExecutionResult.ForFailure("Function '…' failed with an unhandled exception.")`.
        context.stats.problem(Problem::WorkItemFailed {
            kind: WorkItemKind::Orchestration,
            instance_id: instance_id.clone(),
            operations: Vec::new(),
            reason,
        });
        let failure = failure_details(FUNCTION_FAILURE_TYPE, function_failed_message(&function.name));
        failed_orchestration(&instance_id, token, failure)
    };
    let completion = match context.invoker.invoke(function, &invocation).await {
        Ok(result) => match orchestrator_completion(&result.return_value, &instance_id, token) {
            Ok(completion) => {
                context
                    .scheduled
                    .from_orchestrator_actions(&instance_id, &completion.actions, Utc::now());
                context
                    .trace_contexts
                    .from_orchestrator_actions(&instance_id, &completion.actions);
                completion
            }
            // The middleware's InvokeHandler throws while decoding the ReturnValue: the function fails.
            Err(problem) => failed(problem.to_string()),
        },
        Err(error) => match failure_rule(WorkItemKind::Orchestration, error.host_failure()) {
            FailureRule::Retry => {
                tracing::warn!(%instance_id, "orchestrator invocation aborted ({error}); the episode runs again");
                let abandon = AbandonOrchestrationTaskRequest {
                    completion_token: token.to_owned(),
                };
                if let Err(status) = context
                    .engine
                    .clone()
                    .abandon_task_orchestrator_work_item(with_deadline(abandon))
                    .await
                {
                    tracing::warn!(%instance_id, "abandoning the orchestration work item failed: {}", status.message());
                }
                return;
            }
            FailureRule::Fail => failed(error.to_string()),
        },
    };
    complete_orchestration(context, completion).await;
}

async fn complete_orchestration(context: &Context, completion: OrchestratorResponse) {
    let instance_id = completion.instance_id.clone();
    send_completion(
        context,
        WorkItemKind::Orchestration,
        &instance_id,
        completion,
        |mut engine, request| async move { engine.complete_orchestrator_task(request).await },
    )
    .await;
}

async fn run_activity(context: &Context, request: ActivityRequest, token: &str) {
    let instance = request.orchestration_instance.clone().unwrap_or_default();
    let response = |result: Option<String>, failure: Option<TaskFailureDetails>| ActivityResponse {
        instance_id: instance.instance_id.clone(),
        task_id: request.task_id,
        result,
        failure_details: failure,
        completion_token: token.to_owned(),
    };
    let Some(function) = context.app.activity(&request.name) else {
        tracing::error!(instance_id = %instance.instance_id, "no activity function for activity \"{}\"", request.name);
        let message = function_missing_message(&request.name, "an activity");
        complete_activity(
            context,
            response(None, Some(failure_details("FunctionNotFound", message))),
        )
        .await;
        return;
    };
    let sys = SystemBindingData::now(&function.name);
    let mut invocation = match activity_request(function, &instance.instance_id, request.input.as_deref(), &sys) {
        Ok(invocation) => invocation,
        Err(error) => {
            let failure = failure_details(FUNCTION_FAILURE_TYPE, error.to_string());
            complete_activity(context, response(None, Some(failure))).await;
            return;
        }
    };
    add_durable_clients(function, &context.client_settings, &mut invocation);
    invocation.traceparent = context
        .trace_contexts
        .activity_traceparent(&instance.instance_id, request.task_id);
    for attempt in 1..=ACTIVITY_ATTEMPTS {
        let error = match context.invoker.invoke(function, &invocation).await {
            Ok(result) => {
                complete_activity(context, response(activity_result(&result.return_value), None)).await;
                return;
            }
            Err(error) => error,
        };
        let host_failure = error.host_failure();
        match failure_rule(WorkItemKind::Activity, host_failure) {
            FailureRule::Retry if host_failure == HostFailure::HostStopping => return,
            FailureRule::Retry => {
                tracing::warn!(function = %function.name, attempt, "activity aborted ({error}); delivering it again");
            }
            FailureRule::Fail => {
                // OutOfProcMiddleware.CallActivityAsync: `TaskFailedEvent` with reason "Function '…' failed with an
                // unhandled exception." and the failure details of the host's exception.
                tracing::warn!(function = %function.name, instance_id = %instance.instance_id, "activity failed ({error}); the orchestration sees a task failure");
                let failure = TaskFailureDetails {
                    inner_failure: Some(Box::new(failure_details(
                        exception_type(host_failure),
                        error.to_string(),
                    ))),
                    ..failure_details(FUNCTION_FAILURE_TYPE, function_failed_message(&function.name))
                };
                complete_activity(context, response(None, Some(failure))).await;
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
    send_completion(
        context,
        WorkItemKind::Activity,
        &instance_id,
        response,
        |mut engine, request| async move { engine.complete_activity_task(request).await },
    )
    .await;
}

async fn run_entity(
    context: &Context,
    mut batch: EntityBatchRequest,
    operation_infos: Vec<OperationInfo>,
    token: &str,
) {
    context.trace_contexts.fill_entity_batch(&mut batch);
    let instance_id = batch.instance_id.clone();
    let name = entity_name(&instance_id).unwrap_or_default().to_owned();
    let Some(function) = context.app.entity(&name) else {
        tracing::error!(entity = %instance_id, "no entity function for entity \"{name}\"");
        // OutOfProcMiddleware.CallEntityAsync: `SetErrorResult("EntityFunctionNotFound", …, isNonRetriable: true)`.
        let failure = TaskFailureDetails {
            is_non_retriable: true,
            ..failure_details("EntityFunctionNotFound", function_missing_message(&name, "an entity"))
        };
        complete_entity(
            context,
            &instance_id,
            failed_entity_batch(&batch, token, operation_infos, &failure),
        )
        .await;
        return;
    };
    let operations: Vec<String> = batch
        .operations
        .iter()
        .map(|operation| operation.operation.clone())
        .collect();
    context.scheduled.delivered(&instance_id, &operations, Utc::now());
    let mut invocation = protobuf_trigger_request(
        function,
        &batch.encode_to_vec(),
        &SystemBindingData::now(&function.name),
    );
    add_durable_clients(function, &context.client_settings, &mut invocation);
    let (host_failure, reason) = match context.invoker.invoke(function, &invocation).await {
        Ok(result) => match entity_completion(&result.return_value, token, operation_infos.clone()) {
            Ok(completion) => {
                if completion.results.len() != batch.operations.len() {
                    tracing::warn!(
                        entity = %instance_id,
                        "the entity answered {} results for {} operations",
                        completion.results.len(),
                        batch.operations.len()
                    );
                }
                context.scheduled.from_entity_actions(&completion.actions, Utc::now());
                context.trace_contexts.from_entity_actions(&completion.actions);
                complete_entity(context, &instance_id, completion).await;
                return;
            }
            // The middleware's InvokeHandler throws while decoding the ReturnValue: the function fails.
            Err(problem) => (HostFailure::FunctionFailed, problem.to_string()),
        },
        Err(error) => (error.host_failure(), error.to_string()),
    };
    match failure_rule(WorkItemKind::Entity, host_failure) {
        FailureRule::Retry => {
            tracing::warn!(entity = %instance_id, "entity invocation aborted ({reason}); the batch runs again");
            let abandon = AbandonEntityTaskRequest {
                completion_token: token.to_owned(),
            };
            if let Err(status) = context
                .engine
                .clone()
                .abandon_task_entity_work_item(with_deadline(abandon))
                .await
            {
                tracing::warn!(entity = %instance_id, "abandoning the entity work item failed: {}", status.message());
            }
        }
        FailureRule::Fail => {
            // CallEntityAsync's `SetErrorResult(FunctionInvocationFailed, isNonRetriable: true)`: no results, no
            // actions, the state it was given. DTFx TaskEntityDispatcher then answers every operation with the
            // failure, sends no signal and starts no orchestration, and keeps the state: the batch is consumed.
            context.stats.problem(Problem::WorkItemFailed {
                kind: WorkItemKind::Entity,
                instance_id: instance_id.clone(),
                operations,
                reason: reason.clone(),
            });
            let failure = entity_batch_failure(&function.name, host_failure, &reason);
            complete_entity(
                context,
                &instance_id,
                failed_entity_batch(&batch, token, operation_infos, &failure),
            )
            .await;
        }
    }
}

async fn complete_entity(context: &Context, instance_id: &str, completion: EntityBatchResult) {
    send_completion(
        context,
        WorkItemKind::Entity,
        instance_id,
        completion,
        |mut engine, request| async move { engine.complete_entity_task(request).await },
    )
    .await;
}

/// Sends a completion, trying again while the engine is down or busy. A completion that keeps failing while the
/// engine answers other calls is refused for good (too large for it, or invalid), and the work item stays
/// unfinished: a [`Problem`]. (How a refusal shows depends on the transport: the local engine's 4 MiB limit has
/// been seen as `ResourceExhausted`, `Unknown` and `Unavailable`, so the code alone cannot tell.)
async fn send_completion<M, Send, Sent, Answer>(
    context: &Context,
    kind: WorkItemKind,
    instance_id: &str,
    completion: M,
    send: Send,
) where
    M: prost::Message + Clone,
    Send: Fn(SidecarClient, tonic::Request<M>) -> Sent,
    Sent: std::future::Future<Output = Result<Answer, tonic::Status>>,
{
    let mut pause = COMPLETION_RETRY_PAUSE;
    let mut attempt = 1;
    let status = loop {
        match send(context.engine.clone(), with_deadline(completion.clone())).await {
            Ok(_) => return,
            Err(status) if attempt == COMPLETION_ATTEMPTS => break status,
            Err(status) => {
                tracing::debug!(%instance_id, attempt, "completing the work item failed: {}", status.message());
            }
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
        attempt += 1;
    };
    let engine_answers = context.engine.clone().hello(with_deadline(())).await.is_ok();
    if engine_answers {
        context.stats.problem(Problem::CompletionRefused {
            kind,
            instance_id: instance_id.to_owned(),
            reason: format!(
                "{:?}: {}; the result is {} bytes",
                status.code(),
                status.message(),
                completion.encoded_len()
            ),
        });
    } else {
        tracing::warn!(%instance_id, "the engine is unreachable; the work item was not completed: {}", status.message());
    }
}
