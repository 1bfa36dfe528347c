//! Running a registered activity: by name with JSON input ([`run_activity`]), or for an engine's
//! `ActivityRequest` ([`execute_activity`]).

use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use super::context::ActivityContext;
use crate::failure::{error_types, FailureDetails};
use crate::proto;
use crate::registry::Registry;

/// Runs a registered activity with JSON-encoded input; a panic or an unknown name becomes failure details.
pub async fn run_activity(
    registry: &Registry,
    ctx: ActivityContext,
    input: Option<String>,
) -> Result<Option<String>, FailureDetails> {
    let Some(activity) = registry.activity(ctx.name()) else {
        return Err(FailureDetails::new(
            error_types::ACTIVITY_NOT_REGISTERED,
            format!("no activity named '{}' is registered", ctx.name()),
        ));
    };
    match AssertUnwindSafe(activity(ctx, input)).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => Err(FailureDetails::from_panic(payload.as_ref())),
    }
}

/// Executes an engine's `ActivityRequest` and builds the `ActivityResponse` to complete it with.
pub async fn execute_activity(
    registry: &Registry,
    request: &proto::ActivityRequest,
    completion_token: &str,
) -> proto::ActivityResponse {
    let instance_id = request
        .orchestration_instance
        .as_ref()
        .map(|instance| instance.instance_id.clone())
        .unwrap_or_default();
    let ctx = ActivityContext::new(instance_id.clone(), request.task_id, request.name.clone())
        .with_tags(request.tags.clone());
    let outcome = run_activity(registry, ctx, request.input.clone()).await;
    let (result, failure_details) = match outcome {
        Ok(result) => (result, None),
        Err(details) => (None, Some(details.into())),
    };
    proto::ActivityResponse {
        instance_id,
        task_id: request.task_id,
        result,
        failure_details,
        completion_token: completion_token.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_tags_reach_the_activity() {
        let mut registry = Registry::new();
        registry
            .add_activity("team", |ctx: ActivityContext, _: ()| async move {
                Ok(ctx.tags().get("team").cloned())
            })
            .unwrap();
        let request = proto::ActivityRequest {
            name: "team".into(),
            task_id: 3,
            tags: [("team".to_string(), "returns".to_string())].into(),
            ..Default::default()
        };
        let response = futures::executor::block_on(execute_activity(&registry, &request, "token"));
        assert_eq!(response.result.as_deref(), Some("\"returns\""));
        assert_eq!((response.task_id, response.completion_token.as_str()), (3, "token"));
    }
}
