//! Unclear input gets a clear answer: invocation bodies a custom handler may receive that cannot be served are
//! [`FailureKind::BadRequest`] errors (answer 400) naming the problem, never a 200 with an empty answer or a
//! "the handler failed" 500. Payloads are exact host bodies (`{"Data":…,"Metadata":…}`).

use durabletask_sdk::functions::{
    handle_activity, handle_entity, handle_orchestrator, ActivityInvocationError, FailureKind, InvokeRequest,
};
use durabletask_sdk::{ActivityContext, EntityContext, Error, OrchestrationContext, Registry};

async fn greet(_ctx: OrchestrationContext, _input: ()) -> Result<(), Error> {
    Ok(())
}

async fn say_hello(_ctx: ActivityContext, city: String) -> Result<String, Error> {
    Ok(format!("Hello, {city}!"))
}

fn counter(_ctx: &mut EntityContext) -> Result<(), Error> {
    Ok(())
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Greet", greet)
        .and_then(|r| r.add_activity("SayHello", say_hello))
        .and_then(|r| r.add_entity("Counter", counter))
        .expect("names are unique");
    registry
}

fn request(body: &str) -> InvokeRequest {
    InvokeRequest::from_slice(body.as_bytes()).expect("a valid envelope")
}

#[test]
fn an_empty_orchestration_context_is_a_bad_request_naming_it() {
    let registry = registry();
    for context in [r#""\"\"""#, r#""""#] {
        let body = format!(r#"{{"Data":{{"context":{context}}},"Metadata":{{"sys":{{"MethodName":"Greet"}}}}}}"#);
        let error = handle_orchestrator(&registry, &request(&body), "context").unwrap_err();
        assert_eq!(error.kind(), FailureKind::BadRequest);
        assert_eq!(error.kind().status_code(), 400);
        assert_eq!(
            error.to_string(),
            "binding 'context': the OrchestratorRequest is empty (no bytes after base64 decoding)"
        );
    }
}

#[test]
fn an_empty_entity_context_is_a_bad_request_naming_it() {
    let body = r#"{"Data":{"context":"\"\""},"Metadata":{"sys":{"MethodName":"Counter"}}}"#;
    let error = handle_entity(&registry(), &request(body), "context").unwrap_err();
    assert_eq!(error.kind(), FailureKind::BadRequest);
    assert_eq!(
        error.to_string(),
        "binding 'context': the EntityBatchRequest is empty (no bytes after base64 decoding)"
    );
}

#[test]
fn a_request_without_an_instance_id_is_a_bad_request_naming_the_field() {
    // base64 of an EntityBatchRequest holding only `entityState = "5"` (field 2), and of an OrchestratorRequest
    // holding only one empty history event (field 4): valid protobuf, but no request the extension would send.
    let entity = r#"{"Data":{"context":"\"EgMKATU=\""},"Metadata":{}}"#;
    let error = handle_entity(&registry(), &request(entity), "context").unwrap_err();
    assert_eq!(
        error.to_string(),
        "binding 'context': the EntityBatchRequest has no instanceId"
    );
    let orchestration = r#"{"Data":{"context":"\"IgA=\""},"Metadata":{}}"#;
    let error = handle_orchestrator(&registry(), &request(orchestration), "context").unwrap_err();
    assert_eq!(
        error.to_string(),
        "binding 'context': the OrchestratorRequest has no instanceId"
    );
}

#[tokio::test]
async fn an_activity_without_its_input_binding_is_a_bad_request_not_a_failed_activity() {
    let body = r#"{"Data":{},"Metadata":{"instanceId":"\"abc123\"","sys":{"MethodName":"SayHello"}}}"#;
    let error = handle_activity(&registry(), "SayHello", &request(body), "name")
        .await
        .unwrap_err();
    assert!(matches!(error, ActivityInvocationError::BadRequest { .. }), "{error:?}");
    assert_eq!(error.kind(), FailureKind::BadRequest);
    assert_eq!(error.to_string(), "activity 'SayHello': binding 'name': it is missing");
}

#[tokio::test]
async fn an_activity_whose_input_is_not_json_is_a_bad_request() {
    let body = r#"{"Data":{"name":"\"Tokyo\""},"Metadata":{"instanceId":"\"abc123\""}}"#;
    let error = handle_activity(&registry(), "SayHello", &request(body), "name")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), FailureKind::BadRequest);
    assert!(
        error
            .to_string()
            .starts_with("activity 'SayHello': binding 'name': expected the JSON text of the activity input"),
        "{error}"
    );
}

#[tokio::test]
async fn an_activity_that_fails_is_a_handler_failure() {
    // No input at all (the text "null"): the activity cannot read its String input, so the activity fails.
    let body = r#"{"Data":{"name":"\"null\""},"Metadata":{"instanceId":"\"abc123\""}}"#;
    let error = handle_activity(&registry(), "SayHello", &request(body), "name")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), FailureKind::HandlerFailed);
    assert_eq!(error.kind().status_code(), 500);
    assert!(error.to_string().starts_with("activity 'SayHello' failed: "), "{error}");
}

#[test]
fn a_body_that_is_not_an_object_is_not_an_empty_envelope() {
    for body in ["[]", "[{}]", "null", "0", r#""{}""#] {
        let error = InvokeRequest::from_slice(body.as_bytes()).unwrap_err();
        assert_eq!(error.kind(), FailureKind::BadRequest);
        let message = error.to_string();
        assert!(
            message.starts_with("invocation body: expected a {\"Data\":…,\"Metadata\":…} object"),
            "{body}: {message}"
        );
    }
}
