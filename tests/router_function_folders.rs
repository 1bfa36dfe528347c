//! The function folders, `host.json`, the local settings template (`local.settings.example.json`) and the handler's
//! functions agree: the committed folders are exactly the ones generated from the handler's declarations
//! (`handler write-function-folders`), every function the router serves has a folder with the right trigger, every
//! binding name the code reads or writes is declared with the right type and direction, and every setting a binding
//! refers to has a value.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use durabletask_sdk::functions::{read_function_folders, FunctionDefinition as FunctionFolder};
use returns_aggregator::config::Config;
use returns_aggregator::function_app::{definitions, function_app};
use returns_aggregator::functions::{durable, purge, service_bus, status, CLIENT_BINDING};
use returns_aggregator::state::AppState;
use serde_json::Value;
use support::router::app_root;

fn folders() -> BTreeMap<String, FunctionFolder> {
    read_function_folders(&app_root()).unwrap_or_else(|error| panic!("the function folders cannot be read: {error}"))
}

fn read_json(file: &str) -> Value {
    let path = app_root().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
}

/// Asserts that `function` declares a binding `name` of `binding_type` in `direction`.
#[track_caller]
fn assert_binding(
    folders: &BTreeMap<String, FunctionFolder>,
    function: &str,
    name: &str,
    binding_type: &str,
    direction: &str,
) {
    let folder = folders
        .get(function)
        .unwrap_or_else(|| panic!("no {function}/function.json"));
    let binding = folder
        .bindings
        .iter()
        .find(|binding| binding.name == name)
        .unwrap_or_else(|| panic!("{function}/function.json declares no binding named '{name}'"));
    assert!(
        binding.binding_type.eq_ignore_ascii_case(binding_type),
        "{function}.{name} is a {} binding, the handler uses it as {binding_type}",
        binding.binding_type
    );
    assert_eq!(
        binding.direction.as_str(),
        direction,
        "{function}.{name} has the wrong direction"
    );
}

#[test]
fn the_committed_folders_are_the_generated_ones() {
    let problems = returns_aggregator::function_folders::differences(&app_root())
        .unwrap_or_else(|error| panic!("the function folders cannot be read: {error}"));
    assert!(
        problems.is_empty(),
        "the function folders are not the ones `cargo run --bin handler -- write-function-folders` writes:\n  - {}",
        problems.join("\n  - ")
    );
}

#[test]
fn the_folders_and_the_handler_table_agree() {
    let folders = folders();
    let functions =
        function_app(&AppState::new(support::router::config(&[]))).unwrap_or_else(|error| panic!("{error}"));
    functions
        .check_function_folders(&app_root())
        .unwrap_or_else(|error| panic!("{error}"));
    let declared = definitions();
    let served: BTreeSet<&str> = declared.iter().map(|definition| definition.name.as_str()).collect();
    assert_eq!(served.len(), declared.len(), "the handler table names a function twice");
    let on_disk: BTreeSet<&str> = folders.keys().map(String::as_str).collect();
    assert_eq!(served, on_disk);
}

#[test]
fn every_binding_name_the_code_uses_is_declared() {
    let folders = folders();
    // Service Bus trigger: the message (as bytes: `dataType: binary`, which the handler's decoder requires), the
    // durable client, and the invalid-events queue.
    assert_binding(
        &folders,
        "ServiceBusTrigger",
        service_bus::MESSAGE_BINDING,
        "serviceBusTrigger",
        "in",
    );
    assert_binding(&folders, "ServiceBusTrigger", CLIENT_BINDING, "durableClient", "in");
    assert_binding(
        &folders,
        "ServiceBusTrigger",
        service_bus::INVALID_EVENTS_BINDING,
        "serviceBus",
        "out",
    );
    let message = folders["ServiceBusTrigger"].trigger().expect("a trigger");
    assert_eq!(
        message.properties.get("dataType").and_then(Value::as_str),
        Some("binary"),
        "the handler decodes the message as base64: the trigger must declare dataType binary"
    );
    assert_binding(
        &folders,
        "Orchestrator",
        durable::CONTEXT_BINDING,
        "orchestrationTrigger",
        "in",
    );
    assert_binding(
        &folders,
        "EntityFunction",
        durable::CONTEXT_BINDING,
        "entityTrigger",
        "in",
    );
    // The activities' output binding names are constants of a private module (`durable::publish`), so they are
    // spelled here; the activity tests check the handler writes exactly these keys.
    assert_binding(
        &folders,
        "PublishNotification",
        durable::ACTIVITY_BINDING,
        "activityTrigger",
        "in",
    );
    assert_binding(&folders, "PublishNotification", "notification", "serviceBus", "out");
    assert_binding(
        &folders,
        "PublishAlert",
        durable::ACTIVITY_BINDING,
        "activityTrigger",
        "in",
    );
    assert_binding(&folders, "PublishAlert", "alert", "serviceBus", "out");
    assert_binding(&folders, "PurgeTimer", purge::TIMER_BINDING, "timerTrigger", "in");
    assert_binding(&folders, "PurgeTimer", CLIENT_BINDING, "durableClient", "in");
    assert_binding(&folders, "ReturnStatus", status::REQUEST_BINDING, "httpTrigger", "in");
    assert_binding(&folders, "ReturnStatus", CLIENT_BINDING, "durableClient", "in");
    assert_binding(&folders, "ReturnStatus", status::RESPONSE_BINDING, "http", "out");
}

#[test]
fn durable_triggers_declare_no_return_binding() {
    for (name, folder) in folders() {
        let durable = ["orchestrationTrigger", "entityTrigger", "activityTrigger"]
            .iter()
            .any(|kind| {
                folder
                    .bindings
                    .iter()
                    .any(|binding| binding.binding_type.eq_ignore_ascii_case(kind))
            });
        if durable {
            assert!(
                folder.bindings.iter().all(|binding| binding.name != "$return"),
                "{name}: a $return binding makes the host base64-decode the durable response"
            );
        }
    }
}

#[test]
fn the_status_endpoint_is_a_keyed_get_on_the_returns_route() {
    let function = read_json("ReturnStatus/function.json");
    let trigger = &function["bindings"][0];
    assert_eq!(
        trigger["route"], "returns/{returnId}",
        "the handler reads Params.returnId"
    );
    assert_eq!(trigger["methods"], serde_json::json!(["get"]));
    assert_eq!(trigger["authLevel"], "function");
}

#[test]
fn host_json_configures_the_custom_handler_and_the_task_hub() {
    let host = read_json("host.json");
    assert_eq!(host["version"], "2.0");
    assert_eq!(
        host["extensionBundle"]["id"],
        "Microsoft.Azure.Functions.ExtensionBundle"
    );
    assert_eq!(
        host["extensionBundle"]["version"],
        returns_aggregator::host_checks::RECOMMENDED_RANGE
    );
    assert_eq!(host["customHandler"]["description"]["defaultExecutablePath"], "handler");
    assert_ne!(
        host["customHandler"]["enableForwardingHttpRequest"],
        Value::Bool(true),
        "forwarding would bypass the invocation envelope the ReturnStatus handler reads"
    );
    let hub = host["extensions"]["durableTask"]["hubName"]
        .as_str()
        .unwrap_or_default();
    assert!(
        !hub.is_empty() && hub.len() <= 45 && hub.chars().all(|c| c.is_ascii_alphanumeric()),
        "extensions.durableTask.hubName must be set (alphanumeric, at most 45 characters), got {hub:?}"
    );
    assert_eq!(
        hub,
        support::host::TASK_HUB,
        "the fixtures' durable client binding names another hub"
    );
}

#[test]
fn every_setting_a_binding_refers_to_has_a_local_value() {
    let settings = read_json("local.settings.example.json");
    let values = settings["Values"]
        .as_object()
        .expect("local.settings.example.json has Values");
    assert_eq!(
        values["FUNCTIONS_WORKER_RUNTIME"]
            .as_str()
            .map(str::to_lowercase)
            .as_deref(),
        Some("custom")
    );
    let mut referenced = BTreeSet::new();
    for name in folders().keys() {
        let function = read_json(&format!("{name}/function.json"));
        for binding in function["bindings"].as_array().expect("bindings") {
            for (key, value) in binding.as_object().expect("a binding object") {
                let Some(text) = value.as_str() else { continue };
                // `%SETTING%` anywhere in a binding property is resolved from the app settings.
                let mut parts = text.split('%');
                parts.next();
                while let (Some(setting), Some(_)) = (parts.next(), parts.next()) {
                    referenced.insert((name.clone(), setting.to_string()));
                }
                if key == "connection" {
                    referenced.insert((name.clone(), text.to_string()));
                }
            }
        }
    }
    assert!(
        !referenced.is_empty(),
        "no binding refers to a setting: the scan is broken"
    );
    for (function, setting) in referenced {
        let identity_based = format!("{setting}__fullyQualifiedNamespace");
        let value = values
            .get(&setting)
            .or_else(|| values.get(&identity_based))
            .and_then(Value::as_str);
        assert!(
            value.is_some_and(|value| !value.trim().is_empty()),
            "{function}/function.json refers to the setting {setting}, which local.settings.example.json does not set"
        );
    }
}

#[test]
fn the_local_settings_are_valid_handler_settings() {
    let settings = read_json("local.settings.example.json");
    let mut values: std::collections::HashMap<&str, &str> = settings["Values"]
        .as_object()
        .expect("Values")
        .iter()
        .filter_map(|(key, value)| value.as_str().map(|value| (key.as_str(), value)))
        .collect();
    // The host sets the port when it starts the handler.
    values.insert("FUNCTIONS_CUSTOMHANDLER_PORT", "7071");
    Config::from_map(&values)
        .unwrap_or_else(|error| panic!("local.settings.example.json would stop the handler: {error}"));
}

/// local-host reads function.json as the Functions host does (its own reader, independent of the SDK's model on
/// purpose: case-insensitive keys, a default direction, `%SETTING%` resolution); it must find in the committed
/// folders exactly the functions, triggers and binding names the handler declares.
#[test]
fn local_host_reads_every_function_as_the_handler_declares_it() {
    let settings: Vec<(String, String)> = read_json("local.settings.example.json")["Values"]
        .as_object()
        .expect("Values")
        .iter()
        .filter_map(|(name, value)| value.as_str().map(|value| (name.clone(), value.to_owned())))
        .collect();
    let emulated = local_host::app_model::FunctionApp::load(&app_root(), &settings)
        .unwrap_or_else(|error| panic!("local-host cannot read the app: {error}"));
    let declared = definitions();
    assert_eq!(
        emulated.functions.keys().collect::<Vec<_>>(),
        declared.iter().map(|definition| &definition.name).collect::<Vec<_>>()
    );
    for definition in &declared {
        let read = &emulated.functions[&definition.name];
        let trigger = definition.trigger().expect("every declared function has a trigger");
        assert_eq!(
            read.trigger.binding_name, trigger.name,
            "{}: trigger binding",
            definition.name
        );
        let mut read_names: Vec<&str> = read
            .inputs
            .iter()
            .map(|input| input.name.as_str())
            .chain(read.outputs.iter().map(|output| output.name.as_str()))
            .collect();
        read_names.push(&read.trigger.binding_name);
        read_names.sort_unstable();
        let mut declared_names: Vec<&str> = definition
            .bindings
            .iter()
            .map(|binding| binding.name.as_str())
            .collect();
        declared_names.sort_unstable();
        assert_eq!(read_names, declared_names, "{}: binding names", definition.name);
    }
}
