//! Drives the handler's router in-process, the way the Functions host calls it, and reads its answers.

use std::collections::HashMap;
use std::path::PathBuf;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use returns_aggregator::app::app;
use returns_aggregator::config::Config;
use returns_aggregator::state::AppState;
use serde_json::Value;
use tower::ServiceExt;

/// The `Content-Type` the host's JSON formatter sends.
pub const HOST_CONTENT_TYPE: &str = "application/json; charset=utf-8";
/// The host version the fake host reports.
pub const HOST_VERSION: &str = "4.1037.0.23568";

/// The repository root (the function app root: `host.json` and the function folders).
pub fn app_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The settings with `overrides` applied over the port (the only required setting) and the app root.
pub fn config(overrides: &[(&str, &str)]) -> Config {
    let root = app_root();
    let root = root.to_str().expect("the repository path is UTF-8");
    let mut values: HashMap<&str, &str> = HashMap::from([
        ("FUNCTIONS_CUSTOMHANDLER_PORT", "7071"),
        ("FUNCTIONS_APP_ROOT_PATH", root),
    ]);
    values.extend(overrides.iter().copied());
    Config::from_map(&values).unwrap_or_else(|error| panic!("test settings {overrides:?} are invalid: {error}"))
}

/// The router over a fresh state with `overrides` applied to the settings.
pub fn router(overrides: &[(&str, &str)]) -> Router {
    app(AppState::new(config(overrides)))
}

/// What the handler answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `Content-Type` header, when present.
    pub content_type: Option<String>,
    /// The body, parsed as JSON (`Value::Null` for an empty body).
    pub body: Value,
    /// The body as received.
    pub raw_body: Vec<u8>,
}

impl Answer {
    /// Asserts a 2xx answer in the shape the host reads (`Outputs`, `Logs`, `ReturnValue`, JSON content type) and
    /// returns it for further checks.
    #[track_caller]
    pub fn expect_success(&self) -> &Self {
        assert!(
            self.status.is_success(),
            "expected 2xx, got {}: {}",
            self.status,
            self.text()
        );
        self.expect_json_content_type();
        let object = self
            .body
            .as_object()
            .unwrap_or_else(|| panic!("the answer is not a JSON object: {}", self.text()));
        for key in ["Outputs", "Logs", "ReturnValue"] {
            assert!(object.contains_key(key), "the answer has no {key}: {}", self.text());
        }
        assert!(
            self.body["Outputs"].is_object(),
            "Outputs is not an object: {}",
            self.text()
        );
        assert!(
            self.body["Logs"]
                .as_array()
                .is_some_and(|logs| logs.iter().all(Value::is_string)),
            "Logs is not a list of strings: {}",
            self.text()
        );
        self
    }

    /// Asserts a 2xx answer whose HTTP output binding `res` holds a JSON response, and returns that response's
    /// status code and parsed body.
    #[track_caller]
    pub fn http_response(&self) -> (u64, Value) {
        self.expect_success();
        let response = self.output("res");
        let status = response["statusCode"]
            .as_u64()
            .unwrap_or_else(|| panic!("Outputs.res has no statusCode: {response}"));
        assert_eq!(response["headers"]["Content-Type"], "application/json", "{response}");
        let body = serde_json::from_str(response["body"].as_str().expect("a text body")).expect("a JSON body");
        (status, body)
    }

    /// Asserts a failed invocation (`status`) with a JSON error body whose message contains every `needle`; returns
    /// the message.
    #[track_caller]
    pub fn expect_error(&self, status: StatusCode, needles: &[&str]) -> String {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text());
        self.expect_json_content_type();
        let message = self.body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("the error answer has no \"error\" text: {}", self.text()))
            .to_string();
        for needle in needles {
            assert!(
                message.contains(needle),
                "the error does not mention {needle:?}: {message}"
            );
        }
        message
    }

    /// Asserts the `Content-Type` is JSON (what the host's formatter requires).
    #[track_caller]
    pub fn expect_json_content_type(&self) {
        let content_type = self.content_type.as_deref().unwrap_or("<none>");
        assert!(
            content_type.starts_with("application/json"),
            "Content-Type is {content_type}, the host only reads application/json"
        );
    }

    /// `Outputs.<name>`, or `Value::Null`.
    pub fn output(&self, name: &str) -> &Value {
        &self.body["Outputs"][name]
    }

    /// The `Logs` lines.
    pub fn logs(&self) -> Vec<&str> {
        self.body["Logs"]
            .as_array()
            .map(|logs| logs.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// The `ReturnValue`.
    pub fn return_value(&self) -> &Value {
        &self.body["ReturnValue"]
    }

    /// The body as text, for failure messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw_body).into_owned()
    }
}

/// `POST /{function}` with `invocation` as the body, with the host's headers.
pub async fn invoke(router: &Router, function: &str, invocation: &Value) -> Answer {
    let body = serde_json::to_vec(invocation).expect("invocations serialize");
    send(
        router,
        host_request(Method::POST, &format!("/{function}"), Some(HOST_CONTENT_TYPE), body),
    )
    .await
}

/// `POST /{function}` with raw bytes as the body, with the host's headers.
pub async fn invoke_raw(router: &Router, function: &str, body: &[u8]) -> Answer {
    send(
        router,
        host_request(
            Method::POST,
            &format!("/{function}"),
            Some(HOST_CONTENT_TYPE),
            body.to_vec(),
        ),
    )
    .await
}

/// `GET {path}` with the host's headers (the readiness probe).
pub async fn get(router: &Router, path: &str) -> Answer {
    send(router, host_request(Method::GET, path, None, Vec::new())).await
}

/// A request carrying the headers the host adds to every call.
pub fn host_request(method: Method, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "127.0.0.1:7071")
        .header(header::USER_AGENT, format!("Azure-Functions-Host/{HOST_VERSION}"))
        .header("X-Azure-Functions-HostVersion", HOST_VERSION)
        .header("X-Azure-Functions-InvocationId", uuid::Uuid::new_v4().to_string());
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    builder.body(Body::from(body)).expect("valid request")
}

/// Sends `request` through a clone of `router` and reads the whole answer.
pub async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.expect("the router is infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let raw_body = response
        .into_body()
        .collect()
        .await
        .expect("the body is readable")
        .to_bytes()
        .to_vec();
    let body = if raw_body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&raw_body).unwrap_or(Value::Null)
    };
    Answer {
        status,
        content_type,
        body,
        raw_body,
    }
}
