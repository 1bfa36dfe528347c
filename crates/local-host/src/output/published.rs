//! What the host does with `Outputs`: Service Bus output bindings become sent messages, recorded in
//! memory and appended to the published-messages JSONL (`{"function", "binding", "destination", "body"}`);
//! dead-lettered input messages are recorded the same way in their own JSONL, and so is the audit copy of every
//! message sent to the app's Service Bus triggers ([`crate::triggers::audit`]).

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::app_model::{DataType, FunctionDefinition, OutputKind};
use crate::triggers::messages::{DeadLetteredMessage, ServiceBusMessage};

/// One message a function sent through a Service Bus output binding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedMessage {
    /// The function that produced it.
    pub function: String,
    /// The output binding name.
    pub binding: String,
    /// The topic or queue.
    pub destination: String,
    /// The message: the JSON value the handler returned for it (a string for text messages).
    pub body: Value,
}

/// `Convert.FromBase64String` acceptance: the host tries it on string outputs of non-binary bindings.
fn is_dotnet_base64(text: &str) -> bool {
    let compact: Vec<u8> = text.bytes().filter(|byte| !byte.is_ascii_whitespace()).collect();
    if !compact.len().is_multiple_of(4) {
        return false;
    }
    let padding = compact.iter().rev().take_while(|&&byte| byte == b'=').count();
    padding <= 2
        && compact[..compact.len() - padding]
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'+' || *byte == b'/')
}

/// The text the host sends for a string output that happens to be valid base64: it is decoded to bytes,
/// and the Service Bus collector then stringifies the byte array.
pub const BASE64_QUIRK_BODY: &str = "System.Byte[]";

/// Splits one Service Bus output value into messages as the host does (`ReadAsEnumerable`): an array
/// gives one message per element, an object one message, a string holding JSON is parsed first, any
/// other string is one text message. A string that is valid base64 on a non-binary binding becomes
/// [`BASE64_QUIRK_BODY`] (the host's base64 output quirk; see custom-handler-protocol.md §4.3).
pub fn service_bus_output_messages(value: &Value, data_type: DataType) -> Vec<Value> {
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().filter(|item| !item.is_null()).cloned().collect(),
        Value::String(text) => {
            if data_type != DataType::Binary && is_dotnet_base64(text) {
                tracing::warn!(
                    output = %text,
                    "a string output that is valid base64 is decoded to bytes by the Functions host and sent as \"{BASE64_QUIRK_BODY}\"; return a JSON object instead"
                );
                return vec![Value::String(BASE64_QUIRK_BODY.into())];
            }
            let trimmed = text.trim();
            let looks_like_json = (trimmed.starts_with('{') && trimmed.ends_with('}'))
                || (trimmed.starts_with('[') && trimmed.ends_with(']'));
            match looks_like_json
                .then(|| serde_json::from_str::<Value>(trimmed))
                .and_then(Result::ok)
            {
                Some(Value::Array(items)) => items.into_iter().filter(|item| !item.is_null()).collect(),
                Some(parsed) => vec![parsed],
                None => vec![value.clone()],
            }
        }
        other => vec![other.clone()],
    }
}

/// The messages a successful invocation of `function` sends through its Service Bus output bindings.
pub fn published_messages(function: &FunctionDefinition, outputs: &Map<String, Value>) -> Vec<PublishedMessage> {
    let mut messages = Vec::new();
    for (name, value) in outputs {
        let Some(binding) = function.output(name) else { continue };
        let OutputKind::ServiceBus { destination } = &binding.kind else {
            continue;
        };
        for body in service_bus_output_messages(value, binding.data_type) {
            messages.push(PublishedMessage {
                function: function.name.clone(),
                binding: binding.name.clone(),
                destination: destination.clone(),
                body,
            });
        }
    }
    messages
}

/// An append-only JSONL file (created or truncated when opened).
#[derive(Debug)]
struct JsonlFile {
    path: PathBuf,
    file: Mutex<File>,
}

impl JsonlFile {
    fn create(path: &Path) -> std::io::Result<Self> {
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            file: Mutex::new(File::create(path)?),
        })
    }

    fn append(&self, line: &impl Serialize) {
        let mut text = serde_json::to_string(line).unwrap_or_default();
        text.push('\n');
        let mut file = self.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(error) = file.write_all(text.as_bytes()).and_then(|()| file.flush()) {
            tracing::error!(path = %self.path.display(), %error, "cannot append to the JSONL file");
        }
    }
}

/// Everything the run sent out or gave up on: kept in memory and mirrored to the JSONL files.
#[derive(Debug, Default)]
pub struct Records {
    published: Mutex<Vec<PublishedMessage>>,
    dead_lettered: Mutex<Vec<DeadLetteredMessage>>,
    audited: Mutex<Vec<ServiceBusMessage>>,
    published_file: Option<JsonlFile>,
    dead_letter_file: Option<JsonlFile>,
    audit_file: Option<JsonlFile>,
}

impl Records {
    /// Records that also write `published` and `dead_letter` JSONL files (truncated now), when given.
    /// The error names the file that could not be created.
    pub fn new(published: Option<&Path>, dead_letter: Option<&Path>) -> Result<Self, (PathBuf, std::io::Error)> {
        let create = |path: &Path| JsonlFile::create(path).map_err(|error| (path.to_path_buf(), error));
        Ok(Self {
            published_file: published.map(create).transpose()?,
            dead_letter_file: dead_letter.map(create).transpose()?,
            ..Self::default()
        })
    }

    /// Also writes the audit copy to `path` (JSONL in the message-file format, truncated now), when given.
    pub fn with_audit_file(mut self, path: Option<&Path>) -> Result<Self, (PathBuf, std::io::Error)> {
        self.audit_file = path
            .map(|path| JsonlFile::create(path).map_err(|error| (path.to_path_buf(), error)))
            .transpose()?;
        Ok(self)
    }

    /// Keeps the audit copy of messages sent to the app's Service Bus triggers.
    pub fn audit<'a>(&self, messages: impl IntoIterator<Item = &'a ServiceBusMessage>) {
        let mut audited = self.audited.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for message in messages {
            if let Some(file) = &self.audit_file {
                file.append(message);
            }
            audited.push(message.clone());
        }
    }

    /// The audit copy so far: every message sent to the app's Service Bus triggers, in the order sent.
    pub fn audited(&self) -> Vec<ServiceBusMessage> {
        self.audited
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Records sent messages.
    pub fn publish(&self, messages: Vec<PublishedMessage>) {
        if messages.is_empty() {
            return;
        }
        if let Some(file) = &self.published_file {
            messages.iter().for_each(|message| file.append(message));
        }
        self.published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(messages);
    }

    /// Records a dead-lettered message.
    pub fn dead_letter(&self, message: DeadLetteredMessage) {
        if let Some(file) = &self.dead_letter_file {
            file.append(&message);
        }
        self.dead_lettered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(message);
    }

    /// The messages sent so far, in order.
    pub fn published(&self) -> Vec<PublishedMessage> {
        self.published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// How many messages were sent so far.
    pub fn published_count(&self) -> usize {
        self.published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// The dead-lettered messages so far, in order.
    pub fn dead_lettered(&self) -> Vec<DeadLetteredMessage> {
        self.dead_lettered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_model::parse_function_json;
    use serde_json::json;

    #[test]
    fn splitting_follows_read_as_enumerable() {
        let none = DataType::Unspecified;
        assert_eq!(
            service_bus_output_messages(&json!([{"a": 1}, {"a": 2}]), none),
            vec![json!({"a": 1}), json!({"a": 2})]
        );
        assert_eq!(
            service_bus_output_messages(&json!({"a": 1}), none),
            vec![json!({"a": 1})]
        );
        assert_eq!(
            service_bus_output_messages(&json!("[{\"a\":1},\"x\"]"), none),
            vec![json!({"a": 1}), json!("x")]
        );
        assert_eq!(
            service_bus_output_messages(&json!("{\"a\":1}"), none),
            vec![json!({"a": 1})]
        );
        assert_eq!(
            service_bus_output_messages(&json!("hello world"), none),
            vec![json!("hello world")]
        );
        assert_eq!(
            service_bus_output_messages(&json!("{not json}"), none),
            vec![json!("{not json}")]
        );
        assert_eq!(service_bus_output_messages(&Value::Null, none), Vec::<Value>::new());
    }

    #[test]
    fn base64_looking_strings_hit_the_host_quirk() {
        assert_eq!(
            service_bus_output_messages(&json!("done"), DataType::Unspecified),
            vec![json!(BASE64_QUIRK_BODY)]
        );
        assert_eq!(
            service_bus_output_messages(&json!("aGk="), DataType::String),
            vec![json!(BASE64_QUIRK_BODY)]
        );
        assert_eq!(
            service_bus_output_messages(&json!("done"), DataType::Binary),
            vec![json!("done")]
        );
        assert_eq!(
            service_bus_output_messages(&json!("done!"), DataType::Unspecified),
            vec![json!("done!")]
        );
        assert!(!is_dotnet_base64("abc"));
        assert!(!is_dotnet_base64("a==="));
    }

    #[test]
    fn only_service_bus_outputs_are_published() {
        let function = parse_function_json(
            "PublishNotification",
            Path::new("PublishNotification/function.json"),
            &json!({"bindings": [
                {"name": "input", "type": "activityTrigger"},
                {"name": "email", "type": "serviceBus", "direction": "out", "topicName": "notifications"},
                {"name": "blob", "type": "blob", "direction": "out", "path": "x"}
            ]}),
        )
        .unwrap();
        let outputs = json!({"Email": [{"to": "a"}, {"to": "b"}], "blob": "x", "unknown": {"a": 1}});
        let messages = published_messages(&function, outputs.as_object().unwrap());
        assert_eq!(messages.len(), 2);
        assert_eq!(
            serde_json::to_value(&messages[0]).unwrap(),
            json!({"function": "PublishNotification", "binding": "email", "destination": "notifications", "body": {"to": "a"}})
        );
    }

    #[test]
    fn records_mirror_to_jsonl_files() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("out/published.jsonl");
        let records = Records::new(Some(&path), None).unwrap();
        let message = PublishedMessage {
            function: "F".into(),
            binding: "b".into(),
            destination: "t".into(),
            body: json!({"x": 1}),
        };
        records.publish(vec![message.clone(), message.clone()]);
        assert_eq!(records.published_count(), 2);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<PublishedMessage> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(lines, vec![message.clone(), message]);
    }
}
