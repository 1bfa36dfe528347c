//! Activities: the functions orchestrators call to do I/O, and their executor.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::failure::{error_types, Error, FailureDetails};
use crate::proto;
use crate::registry::Registry;

/// What an activity knows about the call that started it, and where it can leave values for output bindings.
///
/// Clones share the same output bindings, so the caller of [`run_activity`] can keep a clone and read what the
/// activity set with [`ActivityContext::take_outputs`].
#[derive(Debug, Clone)]
pub struct ActivityContext {
    instance_id: String,
    task_id: i32,
    name: String,
    tags: HashMap<String, String>,
    outputs: Arc<Mutex<Map<String, Value>>>,
}

impl ActivityContext {
    /// A context for an activity called by `instance_id` as task `task_id`.
    pub fn new(instance_id: impl Into<String>, task_id: i32, name: impl Into<String>) -> Self {
        Self {
            instance_id: instance_id.into(),
            task_id,
            name: name.into(),
            tags: HashMap::new(),
            outputs: Arc::default(),
        }
    }

    /// The context with the tags the orchestrator sent with the call.
    pub fn with_tags(mut self, tags: HashMap<String, String>) -> Self {
        self.tags = tags;
        self
    }

    /// The tags the orchestrator sent with the call (`CallTask::with_tags`); engines that do not forward tags
    /// (the Functions host) leave them empty.
    pub fn tags(&self) -> &HashMap<String, String> {
        &self.tags
    }

    /// The orchestration instance that called the activity.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// The task's sequence number in the calling orchestration (-1 when unknown, as on the Functions host).
    pub fn task_id(&self) -> i32 {
        self.task_id
    }

    /// The activity's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets the value of an output binding (on Azure Functions, e.g. a `serviceBus` output named in
    /// `function.json`; the host sends it when the activity succeeds). Setting a binding twice keeps the last value.
    pub fn set_output(&self, binding: &str, value: &impl Serialize) -> Result<(), Error> {
        let value = serde_json::to_value(value)?;
        self.outputs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(binding.to_string(), value);
        Ok(())
    }

    /// Takes the output binding values set so far.
    pub fn take_outputs(&self) -> Map<String, Value> {
        std::mem::take(&mut *self.outputs.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

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
