//! `ReturnStatus`: `GET /api/returns/{returnId}` (function-key auth) answers what has arrived for a return, what
//! is missing, and whether the notification went out — read from the return's entity through the durable client.

use durabletask_sdk::functions::{HttpRequestData, HttpResponseData, InvokeRequest, InvokeResponse};
use serde_json::json;

use crate::domain::{ReturnId, ReturnStatusReport};
use crate::durable::{aggregate_entity_id, AggregateEntityState};
use crate::error::AppError;
use crate::state::AppState;

use crate::durable::contract::CLIENT_BINDING;

/// The HTTP trigger binding.
pub const REQUEST_BINDING: &str = "req";
/// The HTTP output binding.
pub const RESPONSE_BINDING: &str = "res";

/// Answers one status request.
pub async fn handle(state: &AppState, request: &InvokeRequest) -> Result<InvokeResponse, AppError> {
    let http = request.http_request(REQUEST_BINDING)?;
    let return_id = match route_return_id(request, &http) {
        Ok(return_id) => return_id,
        Err(answer) => return Ok(respond(&answer)),
    };
    let client = state.clients.client_for(&request.durable_client(CLIENT_BINDING)?)?;
    let entity = client.get_entity(&aggregate_entity_id(&return_id)).await?;
    let entity_state = match entity.map(|metadata| metadata.state::<AggregateEntityState>()) {
        Some(Ok(Some(entity_state))) => entity_state,
        Some(Err(problem)) => {
            return Ok(respond(&error(
                500,
                &format!("the state of return {return_id} could not be read: {problem}"),
            )))
        }
        Some(Ok(None)) | None => {
            return Ok(respond(&error(
                404,
                &format!("no events are recorded for return {return_id} (never received, or purged after retention)"),
            )))
        }
    };
    let report = ReturnStatusReport::of(&entity_state.aggregate, &state.durable_settings.domain);
    let body = json!({
        "report": report,
        "notificationPublishedAt": entity_state.notification_published_at,
        "alertPublishedAt": entity_state.alert_published_at,
    });
    Ok(respond(
        &HttpResponseData::json(200, &body).expect("JSON values serialise"),
    ))
}

/// The `{returnId}` of the route, or the 400 answer naming what is wrong with it.
pub(super) fn route_return_id(request: &InvokeRequest, http: &HttpRequestData) -> Result<ReturnId, HttpResponseData> {
    let raw_id = http
        .params
        .get("returnId")
        .cloned()
        .or_else(|| request.metadata_string("returnId").ok().flatten());
    let Some(raw_id) = raw_id else {
        return Err(error(400, "the route has no returnId"));
    };
    ReturnId::parse(&raw_id).map_err(|problem| error(400, &format!("returnId '{raw_id}' is invalid: {problem}")))
}

/// The answer through the `res` output binding.
pub(super) fn respond(response: &HttpResponseData) -> InvokeResponse {
    InvokeResponse::new().with_http_output(RESPONSE_BINDING, response)
}

fn error(status: u16, message: &str) -> HttpResponseData {
    HttpResponseData::json(status, &json!({ "error": message })).expect("JSON values serialise")
}
