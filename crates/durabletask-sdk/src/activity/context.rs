//! What an activity sees of its call: the calling instance, its task id, the call's tags, and the output bindings
//! it may set. No dependency on the registry, which stores activities as functions of this context.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::value::RawValue;

use crate::failure::Error;

/// What an activity knows about the call that started it, and where it can leave values for output bindings.
///
/// Clones share the same output bindings, so the caller of [`run_activity`](super::run_activity) can keep a clone
/// and read what the activity set with [`ActivityContext::take_outputs`].
#[derive(Debug, Clone)]
pub struct ActivityContext {
    instance_id: String,
    task_id: i32,
    name: String,
    tags: HashMap<String, String>,
    outputs: Arc<Mutex<SerializedOutputs>>,
}

/// Output binding values by binding name, as JSON text (an activity's output goes to the host as it is, so no
/// `serde_json::Value` tree is built for it).
pub type SerializedOutputs = Vec<(String, Box<RawValue>)>;

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
        let value = serde_json::value::to_raw_value(value)?;
        let mut outputs = self.outputs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match outputs.iter_mut().find(|(name, _)| name == binding) {
            Some((_, kept)) => *kept = value,
            None => outputs.push((binding.to_string(), value)),
        }
        Ok(())
    }

    /// Takes the output binding values set so far, in the order their bindings were first set.
    pub fn take_outputs(&self) -> SerializedOutputs {
        std::mem::take(&mut *self.outputs.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}
