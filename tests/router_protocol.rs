//! The custom-handler protocol at the router's edge: readiness, unknown functions, malformed envelopes, and the
//! shape of every answer (JSON content type; `Outputs`, `Logs`, `ReturnValue` on success).

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::host::{closed_endpoint, durable_client, sys};
use support::router::{get, host_request, invoke, invoke_raw, router, send, HOST_CONTENT_TYPE};

#[tokio::test]
async fn the_readiness_probe_gets_a_2xx() {
    let answer = get(&router(&[]), "/").await;
    assert!(answer.status.is_success(), "GET / answered {}", answer.status);
}

#[tokio::test]
async fn an_unknown_function_is_a_404_naming_it() {
    let invocation = json!({ "Data": {}, "Metadata": { "sys": sys("RefundReport") } });
    let answer = invoke(&router(&[]), "RefundReport", &invocation).await;
    answer.expect_error(StatusCode::NOT_FOUND, &["RefundReport"]);
}

#[tokio::test]
async fn function_names_are_matched_exactly_as_the_host_sends_them() {
    // The host calls the folder name, case preserved; a differently cased path is another (unknown) function.
    let invocation = json!({ "Data": {}, "Metadata": { "sys": sys("orchestrator") } });
    let answer = invoke(&router(&[]), "orchestrator", &invocation).await;
    answer.expect_error(StatusCode::NOT_FOUND, &["orchestrator"]);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_400() {
    let router = router(&[]);
    for function in [
        "Orchestrator",
        "EntityFunction",
        "ServiceBusTrigger",
        "PurgeTimer",
        "ReturnStatus",
    ] {
        for body in [&b"not json"[..], b"", b"[1,2]", b"{\"Data\":"] {
            let answer = invoke_raw(&router, function, body).await;
            answer.expect_error(StatusCode::BAD_REQUEST, &["invocation body"]);
        }
    }
}

#[tokio::test]
async fn a_missing_trigger_binding_is_a_400_naming_the_binding() {
    let router = router(&[]);
    let cases = [
        ("Orchestrator", "context"),
        ("EntityFunction", "context"),
        ("ServiceBusTrigger", "message"),
        ("PurgeTimer", "timer"),
        ("ReturnStatus", "req"),
    ];
    for (function, binding) in cases {
        // Every other binding the function declares is present; only the trigger is missing.
        let invocation = json!({
            "Data": { "client": durable_client(&closed_endpoint()) },
            "Metadata": { "sys": sys(function) },
        });
        let answer = invoke(&router, function, &invocation).await;
        answer.expect_error(StatusCode::BAD_REQUEST, &[&format!("binding '{binding}'"), "missing"]);
    }
}

#[tokio::test]
async fn a_trigger_binding_of_the_wrong_shape_is_a_400_naming_the_binding() {
    let router = router(&[]);
    let cases = [
        ("Orchestrator", json!({ "context": { "instanceId": "x" } }), "context"),
        (
            "Orchestrator",
            json!({ "context": "\"%%% not base64 %%%\"" }),
            "context",
        ),
        ("Orchestrator", json!({ "context": "\"/w==\"" }), "context"),
        ("EntityFunction", json!({ "context": 12 }), "context"),
        (
            "PurgeTimer",
            json!({ "timer": "\"tick\"", "client": durable_client(&closed_endpoint()) }),
            "timer",
        ),
        (
            "ReturnStatus",
            json!({ "req": 3, "client": durable_client(&closed_endpoint()) }),
            "req",
        ),
    ];
    for (function, data, binding) in cases {
        let invocation = json!({ "Data": data, "Metadata": { "sys": sys(function) } });
        let answer = invoke(&router, function, &invocation).await;
        answer.expect_error(StatusCode::BAD_REQUEST, &[&format!("binding '{binding}'")]);
    }
}

#[tokio::test]
async fn a_missing_durable_client_binding_is_a_400_naming_it() {
    let router = router(&[]);
    let timer = json!({ "Schedule": { "AdjustForDST": true }, "ScheduleStatus": null, "IsPastDue": false });
    let invocation = json!({ "Data": { "timer": timer }, "Metadata": { "sys": sys("PurgeTimer") } });
    let answer = invoke(&router, "PurgeTimer", &invocation).await;
    answer.expect_error(StatusCode::BAD_REQUEST, &["binding 'client'"]);
}

#[tokio::test]
async fn a_missing_activity_input_fails_the_invocation() {
    // The host always sends the activity binding (JSON null when there is no input); without it the activity
    // cannot get its message, so the invocation must fail for the orchestration's retry policy to see.
    let router = router(&[]);
    for activity in ["PublishNotification", "PublishAlert"] {
        for data in [json!({}), json!({ "input": null })] {
            let invocation = json!({ "Data": data, "Metadata": { "sys": sys(activity) } });
            let answer = invoke(&router, activity, &invocation).await;
            assert!(
                !answer.status.is_success(),
                "{activity} with {data} answered {}",
                answer.status
            );
            answer.expect_json_content_type();
            assert!(
                answer.body["error"].as_str().is_some_and(|e| e.contains(activity)),
                "{}",
                answer.text()
            );
        }
    }
}

#[tokio::test]
async fn other_methods_on_function_paths_are_refused() {
    let answer = send(
        &router(&[]),
        host_request(Method::GET, "/Orchestrator", Some(HOST_CONTENT_TYPE), Vec::new()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn unclear_input_is_a_400_naming_the_problem() {
    // Exact bodies: an empty durable context (what an empty base64 string decodes to), an activity invocation
    // without its trigger binding, and bodies that are JSON but not an envelope object.
    let router = router(&[]);
    let empty_context = |function: &str| {
        format!(r#"{{"Data":{{"context":"\"\""}},"Metadata":{{"sys":{{"MethodName":"{function}"}}}}}}"#)
    };
    let no_activity_input =
        r#"{"Data":{},"Metadata":{"instanceId":"\"returns-settled-R-1\"","sys":{"MethodName":"PublishNotification"}}}"#;
    let cases = [
        (
            "Orchestrator",
            empty_context("Orchestrator"),
            "the OrchestratorRequest is empty",
        ),
        (
            "EntityFunction",
            empty_context("EntityFunction"),
            "the EntityBatchRequest is empty",
        ),
        (
            "PublishNotification",
            no_activity_input.to_string(),
            "activity 'PublishNotification': binding 'input': it is missing",
        ),
        ("ServiceBusTrigger", "[]".to_string(), "invocation body"),
        ("PurgeTimer", "null".to_string(), "invocation body"),
        ("EntityFunction", "[{}]".to_string(), "invocation body"),
    ];
    for (function, body, problem) in cases {
        let answer = invoke_raw(&router, function, body.as_bytes()).await;
        answer.expect_error(StatusCode::BAD_REQUEST, &[problem]);
    }
}
