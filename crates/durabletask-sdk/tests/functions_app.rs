//! `FunctionApp`: the router (`axum` feature) with exact host payloads (`tests/fixtures/host/`), the dispatch to the
//! registry and to handlers, the statuses of failures, and the function folders written from and checked against
//! the model.

use std::fs;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use durabletask_sdk::functions::{
    Binding, FailureKind, FunctionApp, FunctionDefinition, InvocationError, InvokeRequest, InvokeResponse,
};
use durabletask_sdk::proto;
use durabletask_sdk::{ActivityContext, EntityContext, EntityId, Error, OrchestrationContext, Registry};
use http_body_util::BodyExt;
use prost::Message;
use serde_json::{json, Value};
use tower::ServiceExt;

async fn hello_cities(ctx: OrchestrationContext, city: String) -> Result<String, Error> {
    ctx.signal_entity(&EntityId::new("Counter", "greetings"), "add", &1);
    Ok(ctx.call_activity::<String>("SayHello", &city).await?)
}

async fn say_hello(_ctx: ActivityContext, city: String) -> Result<String, Error> {
    if city == "Atlantis" {
        return Err(Error::msg("no such city"));
    }
    Ok(format!("Hello, {city}!"))
}

fn counter(ctx: &mut EntityContext) -> Result<i64, Error> {
    let next = ctx.get_state::<i64>()?.unwrap_or(0) + ctx.input::<i64>()?;
    ctx.set_state(&next)?;
    Ok(next)
}

/// A timer handler whose answer depends on the request: past due → the engine is "unavailable".
async fn nightly(request: InvokeRequest) -> Result<InvokeResponse, InvocationError> {
    let timer = request.timer("myTimer")?;
    if timer.is_past_due {
        return Err(InvocationError::unavailable("the durable engine is unreachable"));
    }
    Ok(InvokeResponse::new().with_log("nightly run"))
}

fn app() -> FunctionApp {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("HelloCities", hello_cities)
        .and_then(|r| r.add_activity("SayHello", say_hello))
        .and_then(|r| r.add_entity("Counter", counter))
        .expect("names are unique");
    FunctionApp::builder(registry)
        .orchestrator("HelloCities")
        .activity("SayHello", "name")
        .entity("Counter")
        .function(
            FunctionDefinition::new("Nightly", Binding::timer_trigger("myTimer", "0 0 0 * * *"))
                .with_binding(Binding::durable_client("client")),
            nightly,
        )
        .build()
        .expect("a valid model")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/host/{name}", env!("CARGO_MANIFEST_DIR"));
    fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    body: Value,
}

async fn post(function: &str, body: impl Into<Vec<u8>>) -> Answer {
    let request = Request::post(format!("/{function}"))
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from(body.into()))
        .unwrap();
    let response = app().into_router().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_string());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Answer {
        status,
        content_type,
        body,
    }
}

#[track_caller]
fn expect_error(answer: &Answer, status: StatusCode, needle: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    let message = answer.body["error"].as_str().expect("an error message");
    assert!(message.contains(needle), "{needle:?} not in {message:?}");
}

fn decode_return_value<M: Message + Default>(answer: &Answer) -> M {
    use base64::Engine as _;
    let base64 = answer.body["ReturnValue"].as_str().expect("a base64 ReturnValue");
    M::decode(
        base64::engine::general_purpose::STANDARD
            .decode(base64)
            .unwrap()
            .as_slice(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_readiness_probe_is_answered() {
    let response = app()
        .into_router()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(response.status().is_success());
}

#[tokio::test]
async fn durable_triggers_are_served_by_the_registry() {
    let answer = post("HelloCities", fixture("orchestrator.json")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    let response: proto::OrchestratorResponse = decode_return_value(&answer);
    assert_eq!(response.instance_id, "abc123");
    let kinds: Vec<_> = response
        .actions
        .iter()
        .map(|action| match &action.orchestrator_action_type {
            Some(proto::orchestrator_action::OrchestratorActionType::ScheduleTask(task)) => task.name.clone(),
            Some(proto::orchestrator_action::OrchestratorActionType::SendEntityMessage(_)) => "signal".into(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["signal", "SayHello"]);

    let answer = post("Counter", fixture("entity.json")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let result: proto::EntityBatchResult = decode_return_value(&answer);
    assert_eq!(result.entity_state.as_deref(), Some("6"), "5 + 1");

    let answer = post("SayHello", fixture("activity_string_input.json")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["ReturnValue"], json!("Hello, Tokyo!"));
}

#[tokio::test]
async fn other_triggers_are_served_by_their_handler_with_its_status() {
    let answer = post("Nightly", fixture("timer.json")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["Logs"], json!(["nightly run"]));

    let mut past_due: Value = serde_json::from_slice(&fixture("timer.json")).unwrap();
    past_due["Data"]["myTimer"]["IsPastDue"] = json!(true);
    let answer = post("Nightly", past_due.to_string()).await;
    expect_error(
        &answer,
        StatusCode::SERVICE_UNAVAILABLE,
        "the durable engine is unreachable",
    );

    let answer = post("Nightly", r#"{"Data":{},"Metadata":{}}"#).await;
    expect_error(&answer, StatusCode::BAD_REQUEST, "binding 'myTimer': it is missing");
}

#[tokio::test]
async fn unclear_input_is_a_400_naming_the_problem() {
    let cases = [
        (
            "HelloCities",
            r#"{"Data":{"context":"\"\""},"Metadata":{}}"#,
            "binding 'context': the OrchestratorRequest is empty",
        ),
        (
            "Counter",
            r#"{"Data":{"context":""},"Metadata":{}}"#,
            "binding 'context': the EntityBatchRequest is empty",
        ),
        (
            "SayHello",
            r#"{"Data":{},"Metadata":{"instanceId":"\"abc123\""}}"#,
            "activity 'SayHello': binding 'name': it is missing",
        ),
        ("SayHello", "[]", "invocation body: expected a {\"Data\""),
        ("HelloCities", "null", "invocation body"),
        ("Nightly", "not json", "invocation body"),
    ];
    for (function, body, problem) in cases {
        let answer = post(function, body).await;
        expect_error(&answer, StatusCode::BAD_REQUEST, problem);
        assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    }
}

#[tokio::test]
async fn a_failed_activity_is_a_500_and_an_unknown_function_a_404() {
    let body = r#"{"Data":{"name":"\"\\\"Atlantis\\\"\""},"Metadata":{"instanceId":"\"abc123\""}}"#;
    let answer = post("SayHello", body).await;
    expect_error(&answer, StatusCode::INTERNAL_SERVER_ERROR, "activity 'SayHello' failed");
    expect_error(&answer, StatusCode::INTERNAL_SERVER_ERROR, "no such city");

    let answer = post("sayhello", body).await;
    expect_error(&answer, StatusCode::NOT_FOUND, "no function named 'sayhello'");
}

#[tokio::test]
async fn invoke_reports_the_failure_kind() {
    let app = app();
    let error = app.invoke("Missing", b"{}").await.unwrap_err();
    assert_eq!(error.kind(), FailureKind::NotFound);
    let error = app.invoke("SayHello", b"[]").await.unwrap_err();
    assert_eq!(error.kind(), FailureKind::BadRequest);
}

#[test]
fn the_folders_written_from_the_model_pass_its_check() {
    let root = tempfile::tempdir().unwrap();
    let app = app();
    let written = app.write_function_folders(root.path()).unwrap();
    assert_eq!(written.len(), 4);
    app.check_function_folders(root.path()).unwrap();
    let text = fs::read_to_string(root.path().join("Nightly/function.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        json,
        json!({"bindings": [
            {"name": "myTimer", "type": "timerTrigger", "direction": "in", "schedule": "0 0 0 * * *"},
            {"name": "client", "type": "durableClient", "direction": "in"}
        ]})
    );
    // Folders of other kinds of content are not functions.
    fs::create_dir(root.path().join("target")).unwrap();
    app.check_function_folders(root.path()).unwrap();
}

#[test]
fn every_difference_between_the_folders_and_the_model_is_named() {
    let root = tempfile::tempdir().unwrap();
    let app = app();
    app.write_function_folders(root.path()).unwrap();
    let nightly = root.path().join("Nightly/function.json");
    let mut json: Value = serde_json::from_str(&fs::read_to_string(&nightly).unwrap()).unwrap();
    json["bindings"][0]["schedule"] = json!("0 */5 * * * *");
    json["bindings"][1]["type"] = json!("durableclientx");
    json["bindings"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "out", "type": "queue", "direction": "out"}));
    fs::write(&nightly, json.to_string()).unwrap();
    fs::remove_dir_all(root.path().join("Counter")).unwrap();
    fs::create_dir(root.path().join("Legacy")).unwrap();
    fs::write(
        root.path().join("Legacy/function.json"),
        r#"{"bindings":[{"name":"req","type":"httpTrigger","direction":"in"}]}"#,
    )
    .unwrap();

    let message = app.check_function_folders(root.path()).unwrap_err().to_string();
    for needle in [
        "the app has Counter (entityTrigger) but there is no Counter/function.json",
        "Nightly/function.json: binding 'myTimer': property 'schedule' is \"0 */5 * * * *\" in the folder, \"0 0 0 * * *\" in the app",
        "Nightly/function.json: binding 'client' has type durableclientx in the folder, durableClient in the app",
        "Nightly/function.json: binding 'out' (queue out) is not in the app",
        "Legacy/function.json exists but the app has no function named Legacy",
    ] {
        assert!(message.contains(needle), "{needle:?} not in:\n{message}");
    }

    fs::write(root.path().join("HelloCities/function.json"), "{").unwrap();
    let message = app.check_function_folders(root.path()).unwrap_err().to_string();
    assert!(
        message.contains("HelloCities") && message.contains("not a valid function.json"),
        "{message}"
    );
}
