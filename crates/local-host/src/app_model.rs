//! The function app as the Functions host sees it: `host.json`, `local.settings.json` and one
//! `<Folder>/function.json` per function (the folder name is the function name).
//!
//! Parsing is strict about what the host needs (a trigger, binding names, output destinations) and
//! lenient about everything else, and every error names the file and the field at fault.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

/// Task hub name the Functions host uses locally when `host.json` names none.
pub const DEFAULT_HUB_NAME: &str = "TestHubName";
/// `functionTimeout` when `host.json` sets none (the Consumption plan default).
pub const DEFAULT_FUNCTION_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Why the app model could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AppModelError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is not valid JSON.
    #[error("{path}: invalid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error (with line and column).
        source: serde_json::Error,
    },
    /// A field is missing or has the wrong shape.
    #[error("{path}: {field}: {problem}")]
    Field {
        /// The file.
        path: PathBuf,
        /// The JSON path of the field, e.g. `bindings[0].name`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// The `dataType` of a binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataType {
    /// No `dataType`: the host picks the binding's default type (a string for triggers).
    #[default]
    Unspecified,
    /// `"string"`.
    String,
    /// `"binary"`: bytes, sent base64-encoded.
    Binary,
    /// `"stream"`.
    Stream,
}

/// The trigger of a function, with the properties the local host acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerKind {
    /// `serviceBusTrigger`.
    ServiceBus {
        /// `topicName`, when the trigger reads a topic subscription.
        topic: Option<String>,
        /// `subscriptionName`.
        subscription: Option<String>,
        /// `queueName`, when the trigger reads a queue.
        queue: Option<String>,
        /// `cardinality: "many"` (batches; not supported by the local host's delivery).
        many: bool,
    },
    /// `timerTrigger`.
    Timer {
        /// The 6-field NCRONTAB `schedule`.
        schedule: String,
    },
    /// `httpTrigger`.
    Http {
        /// The `route` template (defaults to the function name).
        route: Option<String>,
        /// Allowed `methods` (lower case); empty means all.
        methods: Vec<String>,
    },
    /// `orchestrationTrigger`.
    Orchestration {
        /// The `orchestration` name override.
        name_override: Option<String>,
    },
    /// `activityTrigger`.
    Activity {
        /// The `activity` name override.
        name_override: Option<String>,
    },
    /// `entityTrigger`.
    Entity {
        /// The `entityName` override.
        name_override: Option<String>,
    },
    /// Any other trigger type (kept so the function is known, but never invoked locally).
    Other {
        /// The binding `type`.
        binding_type: String,
    },
}

/// A function's trigger binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// The binding `name`: the key of the trigger value in `Data`.
    pub binding_name: String,
    /// The binding `dataType`.
    pub data_type: DataType,
    /// The trigger type and its properties.
    pub kind: TriggerKind,
}

/// A non-trigger input binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputBinding {
    /// The binding `name`: its key in `Data`.
    pub name: String,
    /// What the binding is.
    pub kind: InputKind,
}

/// Kinds of input bindings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputKind {
    /// `durableClient`, with its optional `taskHub` and `connectionName` properties.
    DurableClient {
        /// `taskHub` override.
        task_hub: Option<String>,
        /// `connectionName`.
        connection_name: Option<String>,
    },
    /// Any other input binding (not supplied by the local host).
    Other {
        /// The binding `type`.
        binding_type: String,
    },
}

/// An output binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputBinding {
    /// The binding `name`: its key in the response's `Outputs`.
    pub name: String,
    /// The binding `dataType`.
    pub data_type: DataType,
    /// What the binding is.
    pub kind: OutputKind,
}

/// Kinds of output bindings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputKind {
    /// `serviceBus` with its `topicName` or `queueName`.
    ServiceBus {
        /// The topic or queue the host sends to.
        destination: String,
    },
    /// `http`: the response of an HTTP-triggered function.
    Http,
    /// Any other output binding (ignored locally).
    Other {
        /// The binding `type`.
        binding_type: String,
    },
}

/// One function of the app (`<name>/function.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionDefinition {
    /// The function name: the folder name, case preserved. The handler route is `/{name}`.
    pub name: String,
    /// The trigger binding.
    pub trigger: Trigger,
    /// Input bindings other than the trigger.
    pub inputs: Vec<InputBinding>,
    /// Output bindings.
    pub outputs: Vec<OutputBinding>,
    /// `"disabled": true` in function.json.
    pub disabled: bool,
}

impl FunctionDefinition {
    /// The name the Durable extension registers this function under, when it has a Durable trigger:
    /// the `orchestration` / `activity` / `entityName` override, else the function name.
    pub fn durable_name(&self) -> Option<&str> {
        match &self.trigger.kind {
            TriggerKind::Orchestration { name_override }
            | TriggerKind::Activity { name_override }
            | TriggerKind::Entity { name_override } => Some(name_override.as_deref().unwrap_or(&self.name)),
            _ => None,
        }
    }

    /// The output binding named `name` (binding names are matched case-insensitively, like the host).
    pub fn output(&self, name: &str) -> Option<&OutputBinding> {
        self.outputs
            .iter()
            .find(|binding| binding.name.eq_ignore_ascii_case(name))
    }
}

/// `customHandler.description` of host.json.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HandlerDescription {
    /// `defaultExecutablePath` (relative to the app root, or a command on PATH).
    pub executable: Option<String>,
    /// `arguments`.
    pub arguments: Vec<String>,
    /// `workingDirectory` (relative to the app root; empty means the app root).
    pub working_directory: Option<String>,
}

/// The parts of host.json the local host uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostConfig {
    /// `customHandler.description`.
    pub handler: HandlerDescription,
    /// `extensions.durableTask.hubName`.
    pub hub_name: Option<String>,
    /// `extensions.serviceBus.maxConcurrentCalls`.
    pub max_concurrent_calls: Option<usize>,
    /// `functionTimeout`; `Some(None)` when it is `-1` (unlimited).
    pub function_timeout: Option<Option<Duration>>,
}

impl HostConfig {
    /// The task hub name (host.json's, else the local default).
    pub fn hub_name(&self) -> &str {
        self.hub_name.as_deref().unwrap_or(DEFAULT_HUB_NAME)
    }

    /// The per-invocation timeout: host.json's `functionTimeout`, else 5 minutes; `None` = unlimited.
    pub fn function_timeout(&self) -> Option<Duration> {
        self.function_timeout.unwrap_or(Some(DEFAULT_FUNCTION_TIMEOUT))
    }

    /// Service Bus concurrency: host.json's `maxConcurrentCalls`, else 16 × cores (the extension default).
    pub fn max_concurrent_calls(&self) -> usize {
        self.max_concurrent_calls
            .unwrap_or_else(|| 16 * std::thread::available_parallelism().map(usize::from).unwrap_or(1))
    }
}

/// A loaded function app.
#[derive(Debug, Clone)]
pub struct FunctionApp {
    /// The app root (the folder holding host.json).
    pub root: PathBuf,
    /// host.json.
    pub host: HostConfig,
    /// `Values` of local.settings.json (empty when the file does not exist), in file order.
    pub settings: Vec<(String, String)>,
    /// The functions, by name.
    pub functions: BTreeMap<String, FunctionDefinition>,
}

impl FunctionApp {
    /// Reads host.json, local.settings.json (optional) and every `<Folder>/function.json` under `root`.
    ///
    /// `overrides` are app settings that replace or extend local.settings.json `Values`. Binding
    /// properties of the form `%NAME%` are resolved from the settings, then the environment, as the
    /// host's name resolver does; one that does not resolve is an error.
    pub fn load(root: &Path, overrides: &[(String, String)]) -> Result<Self, AppModelError> {
        let host_path = root.join("host.json");
        let host = parse_host_json(&host_path, &read_json(&host_path)?)?;
        let settings_path = root.join("local.settings.json");
        let mut settings = if settings_path.is_file() {
            parse_local_settings(&settings_path, &read_json(&settings_path)?)?
        } else {
            Vec::new()
        };
        for (name, value) in overrides {
            settings.retain(|(existing, _)| existing != name);
            settings.push((name.clone(), value.clone()));
        }
        let lookup = |name: &str| {
            settings
                .iter()
                .rev()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
                .or_else(|| std::env::var(name).ok())
        };
        let mut functions = BTreeMap::new();
        let entries = std::fs::read_dir(root).map_err(|source| AppModelError::Read {
            path: root.into(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| AppModelError::Read {
                path: root.into(),
                source,
            })?;
            let function_json = entry.path().join("function.json");
            if !function_json.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let mut definition = parse_function_json(&name, &function_json, &read_json(&function_json)?)?;
            resolve_setting_references(&mut definition, &function_json, &lookup)?;
            functions.insert(name, definition);
        }
        Ok(Self {
            root: root.to_path_buf(),
            host,
            settings,
            functions,
        })
    }

    /// The function called `name` (exact, as in the URL path).
    pub fn function(&self, name: &str) -> Option<&FunctionDefinition> {
        self.functions.get(name)
    }

    /// The orchestrator function registered for orchestration `name` (case-insensitive).
    pub fn orchestrator(&self, name: &str) -> Option<&FunctionDefinition> {
        self.durable_function(name, |kind| matches!(kind, TriggerKind::Orchestration { .. }))
    }

    /// The activity function registered for activity `name` (case-insensitive).
    pub fn activity(&self, name: &str) -> Option<&FunctionDefinition> {
        self.durable_function(name, |kind| matches!(kind, TriggerKind::Activity { .. }))
    }

    /// The entity function registered for entity `name` (the `name` part of `@name@key`, case-insensitive).
    pub fn entity(&self, name: &str) -> Option<&FunctionDefinition> {
        self.durable_function(name, |kind| matches!(kind, TriggerKind::Entity { .. }))
    }

    fn durable_function(&self, name: &str, is_kind: impl Fn(&TriggerKind) -> bool) -> Option<&FunctionDefinition> {
        self.functions.values().find(|function| {
            is_kind(&function.trigger.kind)
                && !function.disabled
                && function
                    .durable_name()
                    .is_some_and(|durable| durable.eq_ignore_ascii_case(name))
        })
    }
}

fn read_json(path: &Path) -> Result<Value, AppModelError> {
    let text = std::fs::read_to_string(path).map_err(|source| AppModelError::Read {
        path: path.into(),
        source,
    })?;
    // The Functions host tolerates a UTF-8 byte order mark (Visual Studio writes one).
    serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|source| AppModelError::Json {
        path: path.into(),
        source,
    })
}

/// Field accessors that report errors with the file and the JSON path.
struct Fields<'a> {
    path: &'a Path,
}

impl Fields<'_> {
    fn error(&self, field: impl Into<String>, problem: impl Into<String>) -> AppModelError {
        AppModelError::Field {
            path: self.path.to_path_buf(),
            field: field.into(),
            problem: problem.into(),
        }
    }

    fn object<'v>(&self, value: &'v Value, field: &str) -> Result<&'v Map<String, Value>, AppModelError> {
        value
            .as_object()
            .ok_or_else(|| self.error(field, format!("expected an object, found {}", kind(value))))
    }

    /// An optional member: absent or `null` gives `None`; another type than string is an error.
    fn optional_string(
        &self,
        object: &Map<String, Value>,
        key: &str,
        field: &str,
    ) -> Result<Option<String>, AppModelError> {
        match get_ignore_case(object, key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(self.error(
                format!("{field}.{key}"),
                format!("expected a string, found {}", kind(other)),
            )),
        }
    }

    fn required_string(&self, object: &Map<String, Value>, key: &str, field: &str) -> Result<String, AppModelError> {
        match self.optional_string(object, key, field)? {
            Some(text) if !text.trim().is_empty() => Ok(text),
            Some(_) => Err(self.error(format!("{field}.{key}"), "must not be empty")),
            None => Err(self.error(format!("{field}.{key}"), "missing")),
        }
    }
}

/// host.json and function.json keys are read case-insensitively by the host (.NET configuration binding).
fn get_ignore_case<'v>(object: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| value)
    })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses the parts of host.json the local host uses.
pub fn parse_host_json(path: &Path, json: &Value) -> Result<HostConfig, AppModelError> {
    let fields = Fields { path };
    let root = fields.object(json, "$")?;
    let mut config = HostConfig::default();

    if let Some(custom_handler) = get_ignore_case(root, "customHandler") {
        let custom_handler = fields.object(custom_handler, "customHandler")?;
        if let Some(description) = get_ignore_case(custom_handler, "description") {
            let field = "customHandler.description";
            let description = fields.object(description, field)?;
            config.handler.executable = fields.optional_string(description, "defaultExecutablePath", field)?;
            config.handler.working_directory = fields
                .optional_string(description, "workingDirectory", field)?
                .filter(|directory| !directory.is_empty());
            config.handler.arguments = match get_ignore_case(description, "arguments") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| {
                        item.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| fields.error(format!("{field}.arguments[{index}]"), "expected a string"))
                    })
                    .collect::<Result<_, _>>()?,
                Some(other) => {
                    return Err(fields.error(
                        format!("{field}.arguments"),
                        format!("expected an array of strings, found {}", kind(other)),
                    ))
                }
            };
        }
    }

    if let Some(extensions) = get_ignore_case(root, "extensions") {
        let extensions = fields.object(extensions, "extensions")?;
        if let Some(durable) = get_ignore_case(extensions, "durableTask") {
            let durable = fields.object(durable, "extensions.durableTask")?;
            config.hub_name = fields.optional_string(durable, "hubName", "extensions.durableTask")?;
        }
        if let Some(service_bus) = get_ignore_case(extensions, "serviceBus") {
            let service_bus = fields.object(service_bus, "extensions.serviceBus")?;
            config.max_concurrent_calls = match get_ignore_case(service_bus, "maxConcurrentCalls") {
                None | Some(Value::Null) => None,
                Some(value) => match value.as_u64() {
                    Some(calls) if calls > 0 => Some(usize::try_from(calls).unwrap_or(usize::MAX)),
                    _ => {
                        return Err(fields.error(
                            "extensions.serviceBus.maxConcurrentCalls",
                            format!("expected a positive integer, found {value}"),
                        ))
                    }
                },
            };
        }
    }

    config.function_timeout = match get_ignore_case(root, "functionTimeout") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(
            parse_timespan(text)
                .map_err(|problem| fields.error("functionTimeout", format!("{problem} (got \"{text}\")")))?,
        ),
        Some(other) => {
            return Err(fields.error(
                "functionTimeout",
                format!("expected a \"hh:mm:ss\" string, found {}", kind(other)),
            ))
        }
    };
    Ok(config)
}

/// Parses a .NET `TimeSpan` as used by `functionTimeout`: `[d.]hh:mm:ss[.fffffff]` (read as the host's
/// `TimeSpan.Parse` reads it, by the SDK's [`durabletask_sdk::functions::parse_timespan`]), or `-1` for unlimited
/// (`Ok(None)`).
pub fn parse_timespan(text: &str) -> Result<Option<Duration>, String> {
    let text = text.trim();
    if text == "-1" || text == "-00:00:01" {
        return Ok(None);
    }
    durabletask_sdk::functions::parse_timespan(text)
        .map(Some)
        .map_err(|problem| format!("expected [d.]hh:mm:ss[.fff] or -1: {problem}"))
}

/// Parses `Values` of local.settings.json into (name, value) pairs; non-string values are kept as their
/// JSON text, as Core Tools does when it exports them as environment variables.
pub fn parse_local_settings(path: &Path, json: &Value) -> Result<Vec<(String, String)>, AppModelError> {
    let fields = Fields { path };
    let root = fields.object(json, "$")?;
    let Some(values) = get_ignore_case(root, "Values") else {
        return Ok(Vec::new());
    };
    let values = fields.object(values, "Values")?;
    Ok(values
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(name, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            (name.clone(), text)
        })
        .collect())
}

/// Parses one function.json.
pub fn parse_function_json(name: &str, path: &Path, json: &Value) -> Result<FunctionDefinition, AppModelError> {
    let fields = Fields { path };
    let root = fields.object(json, "$")?;
    let bindings = match get_ignore_case(root, "bindings") {
        Some(Value::Array(bindings)) => bindings,
        Some(other) => return Err(fields.error("bindings", format!("expected an array, found {}", kind(other)))),
        None => return Err(fields.error("bindings", "missing")),
    };
    let disabled = matches!(get_ignore_case(root, "disabled"), Some(Value::Bool(true)));

    let mut trigger: Option<Trigger> = None;
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    for (index, binding) in bindings.iter().enumerate() {
        let field = format!("bindings[{index}]");
        let binding = fields.object(binding, &field)?;
        let binding_type = fields.required_string(binding, "type", &field)?;
        let binding_name = fields.required_string(binding, "name", &field)?;
        let direction = fields
            .optional_string(binding, "direction", &field)?
            .unwrap_or_else(|| "in".into());
        let data_type = parse_data_type(&fields, binding, &field)?;
        let is_trigger = binding_type.to_ascii_lowercase().ends_with("trigger");

        if is_trigger {
            if let Some(first) = &trigger {
                return Err(fields.error(
                    format!("{field}.type"),
                    format!(
                        "a function has exactly one trigger, and \"{}\" is already one",
                        first.binding_name
                    ),
                ));
            }
            let kind = parse_trigger_kind(&fields, binding, &binding_type, &field)?;
            trigger = Some(Trigger {
                binding_name,
                data_type,
                kind,
            });
        } else if direction.eq_ignore_ascii_case("out") || direction.eq_ignore_ascii_case("inout") {
            let kind = parse_output_kind(&fields, binding, &binding_type, &field)?;
            outputs.push(OutputBinding {
                name: binding_name,
                data_type,
                kind,
            });
        } else if direction.eq_ignore_ascii_case("in") {
            let kind = if binding_type.eq_ignore_ascii_case("durableClient")
                || binding_type.eq_ignore_ascii_case("orchestrationClient")
            {
                InputKind::DurableClient {
                    task_hub: fields.optional_string(binding, "taskHub", &field)?,
                    connection_name: fields.optional_string(binding, "connectionName", &field)?,
                }
            } else {
                InputKind::Other { binding_type }
            };
            inputs.push(InputBinding {
                name: binding_name,
                kind,
            });
        } else {
            return Err(fields.error(
                format!("{field}.direction"),
                format!("expected \"in\" or \"out\", got \"{direction}\""),
            ));
        }
    }
    let trigger = trigger.ok_or_else(|| {
        fields.error(
            "bindings",
            "no trigger binding (a binding whose type ends in \"Trigger\")",
        )
    })?;
    Ok(FunctionDefinition {
        name: name.to_owned(),
        trigger,
        inputs,
        outputs,
        disabled,
    })
}

/// Replaces `%NAME%` references in `text` with `lookup(NAME)`.
pub fn resolve_references(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut resolved = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        let Some(length) = rest[start + 1..].find('%') else {
            return Err(format!("\"{text}\" has an unmatched %"));
        };
        let name = &rest[start + 1..start + 1 + length];
        let value = lookup(name).ok_or_else(|| {
            format!("%{name}% does not resolve to a value (no app setting \"{name}\" in local.settings.json Values or the environment)")
        })?;
        resolved.push_str(&rest[..start]);
        resolved.push_str(&value);
        rest = &rest[start + length + 2..];
    }
    resolved.push_str(rest);
    Ok(resolved)
}

/// Resolves `%NAME%` in the binding properties the host resolves and the local host uses: Service Bus
/// topic, queue and subscription names, timer schedules and durable client task hubs.
fn resolve_setting_references(
    definition: &mut FunctionDefinition,
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), AppModelError> {
    let resolve = |binding: &str, property: &str, value: &mut String| -> Result<(), AppModelError> {
        *value = resolve_references(value, lookup).map_err(|problem| AppModelError::Field {
            path: path.to_path_buf(),
            field: format!("binding \"{binding}\" {property}"),
            problem,
        })?;
        Ok(())
    };
    let trigger = &mut definition.trigger;
    match &mut trigger.kind {
        TriggerKind::ServiceBus {
            topic,
            subscription,
            queue,
            ..
        } => {
            for (property, value) in [
                ("topicName", topic),
                ("subscriptionName", subscription),
                ("queueName", queue),
            ] {
                if let Some(value) = value {
                    resolve(&trigger.binding_name, property, value)?;
                }
            }
        }
        TriggerKind::Timer { schedule } => resolve(&trigger.binding_name, "schedule", schedule)?,
        _ => {}
    }
    for output in &mut definition.outputs {
        if let OutputKind::ServiceBus { destination } = &mut output.kind {
            resolve(&output.name, "topicName/queueName", destination)?;
        }
    }
    for input in &mut definition.inputs {
        if let InputKind::DurableClient {
            task_hub: Some(task_hub),
            ..
        } = &mut input.kind
        {
            resolve(&input.name, "taskHub", task_hub)?;
        }
    }
    Ok(())
}

fn parse_data_type(fields: &Fields<'_>, binding: &Map<String, Value>, field: &str) -> Result<DataType, AppModelError> {
    Ok(
        match fields
            .optional_string(binding, "dataType", field)?
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => DataType::Unspecified,
            Some("string") => DataType::String,
            Some("binary") => DataType::Binary,
            Some("stream") => DataType::Stream,
            Some(other) => {
                return Err(fields.error(
                    format!("{field}.dataType"),
                    format!("expected \"string\", \"binary\" or \"stream\", got \"{other}\""),
                ))
            }
        },
    )
}

fn parse_trigger_kind(
    fields: &Fields<'_>,
    binding: &Map<String, Value>,
    binding_type: &str,
    field: &str,
) -> Result<TriggerKind, AppModelError> {
    Ok(match binding_type.to_ascii_lowercase().as_str() {
        "servicebustrigger" => {
            let topic = fields.optional_string(binding, "topicName", field)?;
            let queue = fields.optional_string(binding, "queueName", field)?;
            if topic.is_none() && queue.is_none() {
                return Err(fields.error(
                    field,
                    "a serviceBusTrigger needs \"topicName\" (with \"subscriptionName\") or \"queueName\"",
                ));
            }
            let many = fields
                .optional_string(binding, "cardinality", field)?
                .is_some_and(|cardinality| cardinality.eq_ignore_ascii_case("many"));
            TriggerKind::ServiceBus {
                subscription: fields.optional_string(binding, "subscriptionName", field)?,
                topic,
                queue,
                many,
            }
        }
        "timertrigger" => TriggerKind::Timer {
            schedule: fields.required_string(binding, "schedule", field)?,
        },
        "httptrigger" => {
            let methods = match get_ignore_case(binding, "methods") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| {
                        item.as_str()
                            .map(str::to_ascii_lowercase)
                            .ok_or_else(|| fields.error(format!("{field}.methods[{index}]"), "expected a string"))
                    })
                    .collect::<Result<_, _>>()?,
                Some(other) => {
                    return Err(fields.error(
                        format!("{field}.methods"),
                        format!("expected an array, found {}", kind(other)),
                    ))
                }
            };
            TriggerKind::Http {
                route: fields.optional_string(binding, "route", field)?,
                methods,
            }
        }
        "orchestrationtrigger" => TriggerKind::Orchestration {
            name_override: fields.optional_string(binding, "orchestration", field)?,
        },
        "activitytrigger" => TriggerKind::Activity {
            name_override: fields.optional_string(binding, "activity", field)?,
        },
        "entitytrigger" => TriggerKind::Entity {
            name_override: fields.optional_string(binding, "entityName", field)?,
        },
        _ => TriggerKind::Other {
            binding_type: binding_type.to_owned(),
        },
    })
}

fn parse_output_kind(
    fields: &Fields<'_>,
    binding: &Map<String, Value>,
    binding_type: &str,
    field: &str,
) -> Result<OutputKind, AppModelError> {
    Ok(match binding_type.to_ascii_lowercase().as_str() {
        "servicebus" => {
            let topic = fields.optional_string(binding, "topicName", field)?;
            let queue = fields.optional_string(binding, "queueName", field)?;
            let destination = topic
                .or(queue)
                .ok_or_else(|| fields.error(field, "a serviceBus output needs \"topicName\" or \"queueName\""))?;
            OutputKind::ServiceBus { destination }
        }
        "http" => OutputKind::Http,
        _ => OutputKind::Other {
            binding_type: binding_type.to_owned(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn function(json: Value) -> Result<FunctionDefinition, AppModelError> {
        parse_function_json("F", Path::new("F/function.json"), &json)
    }

    #[test]
    fn service_bus_function_with_output_and_durable_client() {
        let definition = function(json!({"bindings": [
            {"name": "message", "type": "serviceBusTrigger", "direction": "in", "topicName": "returns",
             "subscriptionName": "aggregator", "connection": "ServiceBusConnection", "dataType": "binary"},
            {"name": "starter", "type": "durableClient", "direction": "in", "taskHub": "Other"},
            {"name": "invalid", "type": "serviceBus", "direction": "out", "queueName": "invalid-events"}
        ]}))
        .unwrap();
        assert_eq!(definition.trigger.binding_name, "message");
        assert_eq!(definition.trigger.data_type, DataType::Binary);
        assert!(matches!(&definition.trigger.kind, TriggerKind::ServiceBus { topic: Some(t), .. } if t == "returns"));
        assert_eq!(
            definition.inputs,
            vec![InputBinding {
                name: "starter".into(),
                kind: InputKind::DurableClient {
                    task_hub: Some("Other".into()),
                    connection_name: None
                }
            }]
        );
        assert_eq!(
            definition.outputs[0].kind,
            OutputKind::ServiceBus {
                destination: "invalid-events".into()
            }
        );
        assert_eq!(definition.output("INVALID").map(|o| o.name.as_str()), Some("invalid"));
    }

    #[test]
    fn errors_name_the_file_and_field() {
        let error = function(json!({"bindings": [{"type": "activityTrigger", "direction": "in"}]})).unwrap_err();
        assert_eq!(error.to_string(), "F/function.json: bindings[0].name: missing");
        let error = function(json!({"bindings": [{"name": "x", "type": "serviceBusTrigger"}]})).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("F/function.json: bindings[0]: a serviceBusTrigger needs"),
            "{error}"
        );
        let error = function(json!({"bindings": [{"name": "x", "type": "queue", "direction": "out"}]})).unwrap_err();
        assert!(error.to_string().contains("no trigger binding"), "{error}");
        let error = function(json!({"bindings": [
            {"name": "a", "type": "timerTrigger", "schedule": "* * * * * *"},
            {"name": "b", "type": "httpTrigger"}
        ]}))
        .unwrap_err();
        assert!(error
            .to_string()
            .starts_with("F/function.json: bindings[1].type: a function has exactly one"));
        let error =
            function(json!({"bindings": [{"name": "a", "type": "activityTrigger", "dataType": 3}]})).unwrap_err();
        assert_eq!(
            error.to_string(),
            "F/function.json: bindings[0].dataType: expected a string, found a number"
        );
    }

    #[test]
    fn host_json_fields() {
        let config = parse_host_json(
            Path::new("host.json"),
            &json!({
                "version": "2.0",
                "customHandler": {"description": {"defaultExecutablePath": "handler", "arguments": ["--x"], "workingDirectory": ""}},
                "extensions": {"durableTask": {"hubName": "ReturnsHub"}, "serviceBus": {"maxConcurrentCalls": 8}},
                "functionTimeout": "00:10:00"
            }),
        )
        .unwrap();
        assert_eq!(config.handler.executable.as_deref(), Some("handler"));
        assert_eq!(config.handler.arguments, vec!["--x".to_owned()]);
        assert_eq!(config.handler.working_directory, None);
        assert_eq!(config.hub_name(), "ReturnsHub");
        assert_eq!(config.max_concurrent_calls(), 8);
        assert_eq!(config.function_timeout(), Some(Duration::from_secs(600)));

        let defaults = parse_host_json(Path::new("host.json"), &json!({"version": "2.0"})).unwrap();
        assert_eq!(defaults.hub_name(), DEFAULT_HUB_NAME);
        assert_eq!(defaults.function_timeout(), Some(DEFAULT_FUNCTION_TIMEOUT));

        let error = parse_host_json(Path::new("host.json"), &json!({"functionTimeout": "ten minutes"})).unwrap_err();
        assert!(
            error.to_string().starts_with("host.json: functionTimeout: expected"),
            "{error}"
        );
    }

    #[test]
    fn setting_references_are_resolved() {
        let mut definition = function(json!({"bindings": [
            {"name": "message", "type": "serviceBusTrigger", "topicName": "%TOPIC%", "subscriptionName": "sub-%ENV%"},
            {"name": "out", "type": "serviceBus", "direction": "out", "queueName": "%QUEUE%"}
        ]}))
        .unwrap();
        let settings = |name: &str| match name {
            "TOPIC" => Some("return-events".to_owned()),
            "ENV" => Some("dev".to_owned()),
            _ => None,
        };
        let error = resolve_setting_references(&mut definition, Path::new("F/function.json"), &settings).unwrap_err();
        assert_eq!(
            error.to_string(),
            "F/function.json: binding \"out\" topicName/queueName: %QUEUE% does not resolve to a value (no app setting \"QUEUE\" in local.settings.json Values or the environment)"
        );
        assert!(matches!(&definition.trigger.kind,
            TriggerKind::ServiceBus { topic: Some(t), subscription: Some(s), .. } if t == "return-events" && s == "sub-dev"));
        assert_eq!(
            resolve_references("100%", &settings),
            Err("\"100%\" has an unmatched %".into())
        );
        assert_eq!(resolve_references("plain", &settings), Ok("plain".into()));
    }

    #[test]
    fn loads_an_app_folder() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("host.json"), r#"{"version": "2.0"}"#).unwrap();
        std::fs::write(
            root.path().join("local.settings.json"),
            r#"{"Values": {"SCHEDULE": "0 0 0 * * *", "X": "1"}}"#,
        )
        .unwrap();
        std::fs::create_dir(root.path().join("Nightly")).unwrap();
        std::fs::write(
            root.path().join("Nightly/function.json"),
            r#"{"bindings": [{"name": "timer", "type": "timerTrigger", "schedule": "%SCHEDULE%"}]}"#,
        )
        .unwrap();
        std::fs::create_dir(root.path().join("NotAFunction")).unwrap();
        let app = FunctionApp::load(root.path(), &[("X".into(), "2".into())]).unwrap();
        assert_eq!(app.functions.len(), 1);
        assert_eq!(
            app.functions["Nightly"].trigger.kind,
            TriggerKind::Timer {
                schedule: "0 0 0 * * *".into()
            }
        );
        assert!(app.settings.contains(&("X".into(), "2".into())));
        assert!(!app.settings.contains(&("X".into(), "1".into())));

        std::fs::write(root.path().join("Nightly/function.json"), "{\"bindings\": [").unwrap();
        let error = FunctionApp::load(root.path(), &[]).unwrap_err();
        assert!(
            error.to_string().contains("Nightly/function.json: invalid JSON"),
            "{error}"
        );
    }

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("00:05:00"), Ok(Some(Duration::from_secs(300))));
        assert_eq!(
            parse_timespan("1.02:00:00"),
            Ok(Some(Duration::from_secs(86_400 + 7_200)))
        );
        assert_eq!(parse_timespan("00:00:01.5"), Ok(Some(Duration::from_millis(1_500))));
        assert_eq!(parse_timespan("-1"), Ok(None));
        assert!(parse_timespan("5m").is_err());
        assert!(parse_timespan("00:61:00").is_err());
    }

    #[test]
    fn local_settings_values() {
        let values = parse_local_settings(
            Path::new("local.settings.json"),
            &json!({"IsEncrypted": false, "Values": {"FUNCTIONS_WORKER_RUNTIME": "custom", "Retries": 3, "Gone": null}}),
        )
        .unwrap();
        assert!(values.contains(&("FUNCTIONS_WORKER_RUNTIME".into(), "custom".into())));
        assert!(values.contains(&("Retries".into(), "3".into())));
        assert_eq!(values.len(), 2);
    }

    #[test]
    fn durable_functions_are_found_by_name_case_insensitively() {
        let entity =
            function(json!({"bindings": [{"name": "context", "type": "entityTrigger", "direction": "in"}]})).unwrap();
        let mut renamed = parse_function_json(
            "ReturnEntity",
            Path::new("ReturnEntity/function.json"),
            &json!({"bindings": [{"name": "ctx", "type": "entityTrigger", "entityName": "ReturnAggregate"}]}),
        )
        .unwrap();
        renamed.name = "ReturnEntity".into();
        let app = FunctionApp {
            root: PathBuf::new(),
            host: HostConfig::default(),
            settings: Vec::new(),
            functions: [("F".to_owned(), entity), ("ReturnEntity".to_owned(), renamed)]
                .into_iter()
                .collect(),
        };
        assert_eq!(app.entity("f").map(|f| f.name.as_str()), Some("F"));
        assert_eq!(
            app.entity("returnaggregate").map(|f| f.name.as_str()),
            Some("ReturnEntity")
        );
        assert!(
            app.entity("returnentity").is_none(),
            "the override replaces the folder name"
        );
        assert!(app.orchestrator("f").is_none());
    }
}
