//! One function of a Functions app as function.json describes it: its name, its trigger and its other bindings.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Which way a binding carries data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `"in"`: a trigger or an input binding (its value arrives in `Data`).
    In,
    /// `"out"`: an output binding (the handler sets it in `Outputs`).
    Out,
    /// `"inout"`.
    InOut,
}

impl Direction {
    /// The function.json spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
            Direction::InOut => "inout",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Direction::In, Direction::Out, Direction::InOut]
            .into_iter()
            .find(|direction| direction.as_str().eq_ignore_ascii_case(text))
    }
}

/// The kind of a function's trigger, from the trigger binding's `type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TriggerKind {
    /// `orchestrationTrigger`: served by the registry's orchestrator of the function's name.
    Orchestration,
    /// `entityTrigger`: served by the registry's entity of the function's name.
    Entity,
    /// `activityTrigger`: served by the registry's activity of the function's name.
    Activity,
    /// `serviceBusTrigger`.
    ServiceBus,
    /// `timerTrigger`.
    Timer,
    /// `httpTrigger`.
    Http,
    /// Any other trigger type (`queueTrigger`, `blobTrigger`, `eventHubTrigger`, …), as written.
    Other(String),
}

impl TriggerKind {
    /// The kind of a binding `type`, or `None` when the type is not a trigger (does not end in `Trigger`).
    pub fn of_binding_type(binding_type: &str) -> Option<Self> {
        let lower = binding_type.to_ascii_lowercase();
        if !lower.ends_with("trigger") {
            return None;
        }
        Some(match lower.as_str() {
            "orchestrationtrigger" => TriggerKind::Orchestration,
            "entitytrigger" => TriggerKind::Entity,
            "activitytrigger" => TriggerKind::Activity,
            "servicebustrigger" => TriggerKind::ServiceBus,
            "timertrigger" => TriggerKind::Timer,
            "httptrigger" => TriggerKind::Http,
            _ => TriggerKind::Other(binding_type.to_string()),
        })
    }

    /// The binding `type` in function.json.
    pub fn binding_type(&self) -> &str {
        match self {
            TriggerKind::Orchestration => "orchestrationTrigger",
            TriggerKind::Entity => "entityTrigger",
            TriggerKind::Activity => "activityTrigger",
            TriggerKind::ServiceBus => "serviceBusTrigger",
            TriggerKind::Timer => "timerTrigger",
            TriggerKind::Http => "httpTrigger",
            TriggerKind::Other(binding_type) => binding_type,
        }
    }

    /// True for the Durable Functions triggers, which the registry serves.
    pub fn is_durable(&self) -> bool {
        matches!(
            self,
            TriggerKind::Orchestration | TriggerKind::Entity | TriggerKind::Activity
        )
    }
}

impl fmt::Display for TriggerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.binding_type())
    }
}

/// One binding of a function: its `name`, `type` and `direction`, and every other property function.json gives
/// it (`topicName`, `connection`, `schedule`, `dataType`, …).
///
/// ```
/// use durabletask_sdk::functions::Binding;
///
/// let trigger = Binding::service_bus_topic_trigger("message", "%TOPIC%", "%SUBSCRIPTION%", "ServiceBusConnection")
///     .with_property("dataType", "binary");
/// assert_eq!(trigger.binding_type, "serviceBusTrigger");
/// assert_eq!(trigger.properties["dataType"], "binary");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The binding name: the key of its value in `Data` (inputs) or `Outputs` (outputs).
    pub name: String,
    /// The binding type, e.g. `serviceBusTrigger`, `durableClient`, `http`.
    pub binding_type: String,
    /// `in`, `out` or `inout`.
    pub direction: Direction,
    /// Every other property, as written in function.json.
    pub properties: Map<String, Value>,
}

impl Binding {
    /// A binding with no other properties.
    pub fn new(name: impl Into<String>, binding_type: impl Into<String>, direction: Direction) -> Self {
        Self {
            name: name.into(),
            binding_type: binding_type.into(),
            direction,
            properties: Map::new(),
        }
    }

    /// Sets a property (`"connection"`, `"dataType"`, …).
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// The trigger kind, when this binding is a trigger.
    pub fn trigger_kind(&self) -> Option<TriggerKind> {
        TriggerKind::of_binding_type(&self.binding_type)
    }

    /// An `orchestrationTrigger` named `name`.
    pub fn orchestration_trigger(name: impl Into<String>) -> Self {
        Self::new(name, "orchestrationTrigger", Direction::In)
    }

    /// An `entityTrigger` named `name`.
    pub fn entity_trigger(name: impl Into<String>) -> Self {
        Self::new(name, "entityTrigger", Direction::In)
    }

    /// An `activityTrigger` named `name`.
    pub fn activity_trigger(name: impl Into<String>) -> Self {
        Self::new(name, "activityTrigger", Direction::In)
    }

    /// A `durableClient` input binding named `name`: the engine endpoint for the function's durable client.
    pub fn durable_client(name: impl Into<String>) -> Self {
        Self::new(name, "durableClient", Direction::In)
    }

    /// A `timerTrigger` named `name` firing on `schedule` (NCRONTAB, a TimeSpan, or a `%SETTING%`).
    pub fn timer_trigger(name: impl Into<String>, schedule: impl Into<String>) -> Self {
        Self::new(name, "timerTrigger", Direction::In).with_property("schedule", schedule.into())
    }

    /// An `httpTrigger` named `name` with the given `authLevel` (`anonymous`, `function`, `admin`) and methods.
    pub fn http_trigger(name: impl Into<String>, auth_level: &str, methods: &[&str]) -> Self {
        Self::new(name, "httpTrigger", Direction::In)
            .with_property("authLevel", auth_level)
            .with_property("methods", json!(methods))
    }

    /// An `http` output binding named `name` (the HTTP response of an `httpTrigger` function).
    pub fn http_output(name: impl Into<String>) -> Self {
        Self::new(name, "http", Direction::Out)
    }

    /// A `serviceBusTrigger` named `name` on a topic subscription.
    pub fn service_bus_topic_trigger(
        name: impl Into<String>,
        topic: impl Into<String>,
        subscription: impl Into<String>,
        connection: impl Into<String>,
    ) -> Self {
        Self::new(name, "serviceBusTrigger", Direction::In)
            .with_property("topicName", topic.into())
            .with_property("subscriptionName", subscription.into())
            .with_property("connection", connection.into())
    }

    /// A `serviceBusTrigger` named `name` on a queue.
    pub fn service_bus_queue_trigger(
        name: impl Into<String>,
        queue: impl Into<String>,
        connection: impl Into<String>,
    ) -> Self {
        Self::new(name, "serviceBusTrigger", Direction::In)
            .with_property("queueName", queue.into())
            .with_property("connection", connection.into())
    }

    /// A `serviceBus` output binding named `name` sending to a topic.
    pub fn service_bus_topic_output(
        name: impl Into<String>,
        topic: impl Into<String>,
        connection: impl Into<String>,
    ) -> Self {
        Self::new(name, "serviceBus", Direction::Out)
            .with_property("topicName", topic.into())
            .with_property("connection", connection.into())
    }

    /// A `serviceBus` output binding named `name` sending to a queue.
    pub fn service_bus_queue_output(
        name: impl Into<String>,
        queue: impl Into<String>,
        connection: impl Into<String>,
    ) -> Self {
        Self::new(name, "serviceBus", Direction::Out)
            .with_property("queueName", queue.into())
            .with_property("connection", connection.into())
    }
}

impl Serialize for Binding {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // name, type and direction first, as people write them; then the other properties.
        let mut map = serializer.serialize_map(Some(3 + self.properties.len()))?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("type", &self.binding_type)?;
        map.serialize_entry("direction", self.direction.as_str())?;
        for (key, value) in &self.properties {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Binding {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut properties = Map::<String, Value>::deserialize(deserializer)?;
        let mut text = |key: &str| match properties.remove(key) {
            Some(Value::String(text)) if !text.is_empty() => Ok(text),
            Some(other) => Err(de::Error::custom(format!(
                "a binding's \"{key}\" must be a non-empty string, found {other}"
            ))),
            None => Err(de::Error::custom(format!("a binding has no \"{key}\""))),
        };
        let name = text("name")?;
        let binding_type = text("type")?;
        let direction = text("direction")?;
        let direction = Direction::parse(&direction).ok_or_else(|| {
            de::Error::custom(format!(
                "binding '{name}': direction \"{direction}\" is not in, out or inout"
            ))
        })?;
        Ok(Self {
            name,
            binding_type,
            direction,
            properties,
        })
    }
}

/// A function as function.json describes it: its name (the folder's name, the path the host calls) and its
/// bindings, trigger included; other top-level properties of function.json (`retry`, `disabled`, …) are kept.
///
/// ```
/// use durabletask_sdk::functions::{Binding, FunctionDefinition, TriggerKind};
///
/// let purge = FunctionDefinition::new("PurgeTimer", Binding::timer_trigger("timer", "0 0 0 * * *"))
///     .with_binding(Binding::durable_client("client"));
/// assert_eq!(purge.trigger_kind(), Some(TriggerKind::Timer));
/// assert_eq!(purge.to_json()["bindings"][1]["type"], "durableClient");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDefinition {
    /// The function name.
    pub name: String,
    /// Every binding, the trigger first.
    pub bindings: Vec<Binding>,
    /// Other top-level properties of function.json.
    pub properties: Map<String, Value>,
}

impl FunctionDefinition {
    /// A function named `name` triggered by `trigger`.
    pub fn new(name: impl Into<String>, trigger: Binding) -> Self {
        Self {
            name: name.into(),
            bindings: vec![trigger],
            properties: Map::new(),
        }
    }

    /// An orchestrator function: an `orchestrationTrigger` named `context`.
    pub fn orchestrator(name: impl Into<String>) -> Self {
        Self::new(name, Binding::orchestration_trigger("context"))
    }

    /// An entity function: an `entityTrigger` named `context`.
    pub fn entity(name: impl Into<String>) -> Self {
        Self::new(name, Binding::entity_trigger("context"))
    }

    /// An activity function whose `activityTrigger` is named `binding`.
    pub fn activity(name: impl Into<String>, binding: impl Into<String>) -> Self {
        Self::new(name, Binding::activity_trigger(binding))
    }

    /// Adds an input or output binding.
    pub fn with_binding(mut self, binding: Binding) -> Self {
        self.bindings.push(binding);
        self
    }

    /// Sets a top-level property of function.json (for example `retry`).
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// The trigger binding: the first binding whose type ends in `Trigger`.
    pub fn trigger(&self) -> Option<&Binding> {
        self.bindings.iter().find(|binding| binding.trigger_kind().is_some())
    }

    /// The trigger's kind.
    pub fn trigger_kind(&self) -> Option<TriggerKind> {
        self.trigger().and_then(Binding::trigger_kind)
    }

    /// The binding named `name` (binding names are matched without regard to case, as the host does).
    pub fn binding(&self, name: &str) -> Option<&Binding> {
        self.bindings
            .iter()
            .find(|binding| binding.name.eq_ignore_ascii_case(name))
    }

    /// The function.json content: `{"bindings": [...], ...}`.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(FunctionJson(self)).unwrap_or_default()
    }

    /// The function.json text, as [`write_function_folders`](super::FunctionApp::write_function_folders) writes
    /// it: pretty-printed with two-space indents and a final newline, `bindings` first and each binding's `name`,
    /// `type` and `direction` before its other properties.
    pub fn to_function_json_text(&self) -> String {
        // A map of JSON values always serializes.
        let mut text = serde_json::to_string_pretty(&FunctionJson(self)).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a function.json for the function `name`.
    pub fn from_json(name: impl Into<String>, json: &Value) -> Result<Self, String> {
        let Value::Object(object) = json else {
            return Err("function.json must hold a JSON object".into());
        };
        let mut properties = object.clone();
        let bindings = match properties.remove("bindings") {
            Some(bindings @ Value::Array(_)) => {
                Vec::<Binding>::deserialize(bindings).map_err(|error| error.to_string())?
            }
            Some(other) => return Err(format!("\"bindings\" must be an array, found {other}")),
            None => return Err("function.json has no \"bindings\"".into()),
        };
        Ok(Self {
            name: name.into(),
            bindings,
            properties,
        })
    }
}

/// The function.json shape of a definition (its name is the folder's, not in the file).
struct FunctionJson<'a>(&'a FunctionDefinition);

impl Serialize for FunctionJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let definition = self.0;
        let mut map = serializer.serialize_map(Some(1 + definition.properties.len()))?;
        map.serialize_entry("bindings", &definition.bindings)?;
        for (key, value) in &definition.properties {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_kinds_are_read_without_regard_to_case() {
        assert_eq!(
            TriggerKind::of_binding_type("OrchestrationTrigger"),
            Some(TriggerKind::Orchestration)
        );
        assert_eq!(
            TriggerKind::of_binding_type("queueTrigger"),
            Some(TriggerKind::Other("queueTrigger".into()))
        );
        assert_eq!(TriggerKind::of_binding_type("durableClient"), None);
        assert!(TriggerKind::Activity.is_durable() && !TriggerKind::Http.is_durable());
    }

    #[test]
    fn function_json_round_trips_with_name_type_and_direction_first() {
        let definition = FunctionDefinition::new(
            "ReturnStatus",
            Binding::http_trigger("req", "function", &["get"]).with_property("route", "returns/{returnId}"),
        )
        .with_binding(Binding::durable_client("client"))
        .with_binding(Binding::http_output("res"))
        .with_property("disabled", false);
        let text = definition.to_function_json_text();
        assert!(
            text.contains("\"name\": \"req\",\n      \"type\": \"httpTrigger\",\n      \"direction\": \"in\""),
            "{text}"
        );
        let back = FunctionDefinition::from_json("ReturnStatus", &serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back, definition);
    }

    #[test]
    fn malformed_function_json_is_named() {
        let error = FunctionDefinition::from_json("F", &json!({"bindings": [{"name": "x", "type": "t"}]})).unwrap_err();
        assert!(error.contains("no \"direction\""), "{error}");
        let error = FunctionDefinition::from_json(
            "F",
            &json!({"bindings": [{"name": "x", "type": "t", "direction": "sideways"}]}),
        )
        .unwrap_err();
        assert!(error.contains("sideways"), "{error}");
        assert!(FunctionDefinition::from_json("F", &json!([])).is_err());
        assert!(FunctionDefinition::from_json("F", &json!({})).is_err());
    }
}
