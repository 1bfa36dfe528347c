//! `RedriveNotification`: `POST /api/returns/{returnId}/redrive` (admin key). An operator re-drives the settled
//! notification of a return whose notification orchestration failed (a handler crash mid-orchestration, a deploy
//! that broke replay, publish retries exhausted). Safe to repeat and never a second email: what it does is decided
//! by [`plan`] from the return's entity, the orchestration's status and, for a failed run, its history.
//!
//! Answers (JSON, naming the return, the orchestration instance and what was done):
//! 200 `action: "none"` (already notified) or `"recorded"` (the email had gone out; the entity now knows it);
//! 202 `"restarted"` or `"rewound"` (the notification is on its way: `GET /api/returns/{returnId}` shows
//! `notificationPublishedAt` once published); 404 no such return; 409 nothing to re-drive (not settled, still
//! running, or whether an email went out cannot be told — the reason says which); 503 the durable engine failed
//! (run it again).

pub mod plan;

use chrono::{DateTime, SecondsFormat, Utc};
use durabletask_sdk::client::{ClientError, Code, DurableClient, RestartOptions};
use durabletask_sdk::functions::{HttpResponseData, InvokeRequest, InvokeResponse};
use serde_json::{json, Value};

use self::plan::{after_history, first_look, FirstLook, History, Redrive, RunSnapshot};
use super::status::{respond, route_return_id};
use crate::domain::notification::MessageKind;
use crate::domain::ReturnId;
use crate::durable::contract::{settled_instance_id, AggregateOperation, Published, CLIENT_BINDING};
use crate::durable::{aggregate_entity_id, AggregateEntityState};
use crate::error::AppError;
use crate::state::AppState;

/// The HTTP trigger binding.
pub const REQUEST_BINDING: &str = "req";
/// The reason recorded in the orchestration's history when it is rewound.
const REWIND_REASON: &str = "notification re-driven by an operator (RedriveNotification)";

/// Re-drives one return's notification.
pub async fn handle(state: &AppState, request: &InvokeRequest) -> Result<InvokeResponse, AppError> {
    let http = request.http_request(REQUEST_BINDING)?;
    let return_id = match route_return_id(request, &http) {
        Ok(return_id) => return_id,
        Err(answer) => return Ok(respond(&answer)),
    };
    let client = state.clients.client_for(&request.durable_client(CLIENT_BINDING)?)?;
    let instance_id = settled_instance_id(&return_id);
    let answer = match redrive(&client, &return_id, &instance_id).await {
        Ok(Ok(done)) => answer(&return_id, &instance_id, &done),
        Ok(Err(unreadable)) => error(500, &return_id, &instance_id, &unreadable),
        Err(failure) => {
            tracing::warn!(return_id = return_id.as_str(), "re-driving failed: {failure}");
            let problem = format!(
                "the durable engine failed ({failure}); run the same request again: re-driving never sends a \
                 second email"
            );
            error(503, &return_id, &instance_id, &problem)
        }
    };
    Ok(respond(&answer))
}

/// Looks, decides and acts. The inner error is an entity state that cannot be read.
async fn redrive(
    client: &DurableClient,
    return_id: &ReturnId,
    instance_id: &str,
) -> Result<Result<Redrive, String>, ClientError> {
    let entity = client.get_entity(&aggregate_entity_id(return_id)).await?;
    let state = match entity.map(|metadata| metadata.state::<AggregateEntityState>()) {
        Some(Ok(state)) => state,
        Some(Err(problem)) => {
            return Ok(Err(format!(
                "the state of return {return_id} cannot be read: {problem}"
            )))
        }
        None => None,
    };
    let run = client
        .get_instance_without_payloads(instance_id)
        .await?
        .map(|run| RunSnapshot {
            status: run.status,
            finished_at: run.completed_at.or(run.last_updated_at).unwrap_or_else(Utc::now),
        });
    let decision = match first_look(state.as_ref(), run.as_ref()) {
        FirstLook::Decided(decision) => decision,
        FirstLook::AskHistory(ended) => after_history(ended, &history(client, instance_id).await?),
    };
    match &decision {
        Redrive::RecordPublished(published_at) => {
            let report = AggregateOperation::Published(Published {
                kind: MessageKind::ReturnSettled,
                published_at: *published_at,
            });
            client
                .signal_entity(&aggregate_entity_id(return_id), report.name(), &report.input())
                .await?;
        }
        Redrive::Restart => match client.restart(instance_id, RestartOptions::default()).await {
            Ok(_) => {}
            // Another re-drive restarted it between our look and this call.
            Err(ClientError::Rpc {
                code: Code::FailedPrecondition,
                ..
            }) => {
                return Ok(Ok(Redrive::InProgress(
                    durabletask_sdk::client::OrchestrationStatus::Running,
                )))
            }
            Err(failure) => return Err(failure),
        },
        Redrive::Rewind => client.rewind(instance_id, Some(REWIND_REASON)).await?,
        _ => {}
    }
    if matches!(
        decision,
        Redrive::RecordPublished(_) | Redrive::Restart | Redrive::Rewind
    ) {
        tracing::warn!(
            return_id = return_id.as_str(),
            instance_id,
            action = action(&decision),
            "notification re-driven by an operator"
        );
    }
    Ok(Ok(decision))
}

/// The failed run's history, or [`History::NotServed`] where the engine answers `UNIMPLEMENTED` (the Durable
/// Functions extension: `TaskHubGrpcServer` does not override `StreamInstanceHistory`).
async fn history(client: &DurableClient, instance_id: &str) -> Result<History, ClientError> {
    match client.get_instance_history(instance_id).await {
        Ok(events) => Ok(History::Read(events)),
        Err(ClientError::Rpc {
            code: Code::Unimplemented,
            ..
        }) => Ok(History::NotServed),
        Err(failure) => Err(failure),
    }
}

fn action(decision: &Redrive) -> &'static str {
    match decision {
        Redrive::RecordPublished(_) => "recorded",
        Redrive::Restart => "restarted",
        Redrive::Rewind => "rewound",
        _ => "none",
    }
}

fn answer(return_id: &ReturnId, instance_id: &str, decision: &Redrive) -> HttpResponseData {
    let (status, detail) = match decision {
        Redrive::NoReturn => (
            404,
            format!("no events are recorded for return {return_id} (never received, or purged after retention)"),
        ),
        Redrive::NotSettled(status) => (
            409,
            format!(
                "return {return_id} is {}: only a settled return has a notification to re-drive",
                status.as_str()
            ),
        ),
        Redrive::AlreadyNotified(at) => (
            200,
            format!("the notification went out at {}; nothing was sent", timestamp(at)),
        ),
        Redrive::InProgress(status) => (
            409,
            format!("the notification orchestration is {status:?}: let it finish, then look again"),
        ),
        Redrive::NoRunOnRecord => (
            409,
            "the return settled but no notification orchestration is on record (purged?): whether the email went \
             out cannot be told, so nothing was sent; check the notifications topic"
                .to_owned(),
        ),
        Redrive::CannotTell(status) => (
            409,
            format!(
                "the notification orchestration was {status:?} and the engine serves no history: whether the email \
                 went out cannot be told, so nothing was sent; check its history (showHistory) and the \
                 notifications topic"
            ),
        ),
        Redrive::RecordPublished(at) => (
            200,
            format!(
                "the email had gone out at {}; the return now records it and nothing was sent",
                timestamp(at)
            ),
        ),
        Redrive::Restart => (
            202,
            "the failed orchestration never published: it was restarted and sends the notification once".to_owned(),
        ),
        Redrive::Rewind => (
            202,
            "the failed orchestration was rewound: it runs again from its failure, completed steps are not repeated"
                .to_owned(),
        ),
    };
    let mut body = json!({
        "returnId": return_id,
        "instanceId": instance_id,
        "action": action(decision),
    });
    body[if status >= 400 { "error" } else { "detail" }] = Value::String(detail);
    if status == 202 {
        body["next"] = Value::String(format!(
            "GET /api/returns/{return_id} shows notificationPublishedAt once the notification is published"
        ));
    }
    HttpResponseData::json(status, &body).expect("JSON values serialise")
}

fn timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn error(status: u16, return_id: &ReturnId, instance_id: &str, problem: &str) -> HttpResponseData {
    let body = json!({ "returnId": return_id, "instanceId": instance_id, "error": problem });
    HttpResponseData::json(status, &body).expect("JSON values serialise")
}
