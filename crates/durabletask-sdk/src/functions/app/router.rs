//! The custom handler's HTTP face, with the `axum` feature: `GET /` for the host's readiness probe,
//! `POST /{function}` for invocations.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::FunctionApp;
use crate::tracing_spans::activity::with_invocation_headers;

impl FunctionApp {
    /// An axum router serving the app to the Functions host: `GET /` answers `ready` (the host polls it until the
    /// handler answers), `POST /{function}` runs [`invoke`](FunctionApp::invoke) and answers the invocation's JSON
    /// (`Content-Type: application/json`), or the error's status with `{"error": "<message>"}`. Bodies up to
    /// [`max_request_bytes`](FunctionApp::max_request_bytes) are read.
    ///
    /// ```no_run
    /// # async fn serve(app: durabletask_sdk::functions::FunctionApp) -> std::io::Result<()> {
    /// let port: u16 = std::env::var("FUNCTIONS_CUSTOMHANDLER_PORT").unwrap().parse().unwrap();
    /// let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    /// axum::serve(listener, app.into_router()).await
    /// # }
    /// ```
    pub fn into_router(self) -> Router {
        let limit = self.max_request_bytes;
        Router::new()
            .route("/", get(|| async { "ready" }))
            .route("/{function}", post(invoke))
            .layer(DefaultBodyLimit::max(limit))
            .with_state(Arc::new(self))
    }
}

async fn invoke(
    State(app): State<Arc<FunctionApp>>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    // An activity's trace parent is the host's `traceparent` (the protocol gives it none of its own).
    let answer = with_invocation_headers(
        header("traceparent"),
        header("tracestate"),
        app.invoke(&function, &body),
    );
    match answer.await {
        Ok(answer) => ([(header::CONTENT_TYPE, "application/json")], answer.to_json_bytes()).into_response(),
        Err(error) => {
            let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            tracing::warn!(function, status = status.as_u16(), error = %error, "invocation failed");
            (status, Json(json!({ "error": error.to_string() }))).into_response()
        }
    }
}
