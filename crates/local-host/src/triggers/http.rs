//! HTTP trigger passthrough: serves `/api/<route>` for the app's `httpTrigger` functions, invoking them
//! the non-forwarding way (`POST /{FunctionName}` with `Data.req`) and answering from the `http` output
//! binding (custom-handler-protocol.md §5.2–§5.3).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::app_model::{FunctionApp, FunctionDefinition, OutputKind, TriggerKind};
use crate::invocation::envelope::{host_string, InvocationRequest, InvocationResult, SystemBindingData};
use crate::invocation::invoke::Invoker;
use crate::invocation::payloads::{add_durable_clients, DurableClientSettings};

/// The largest request body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// What the passthrough server needs.
#[derive(Debug)]
pub struct HttpContext {
    /// The app.
    pub app: Arc<FunctionApp>,
    /// The invoker.
    pub invoker: Arc<Invoker>,
    /// The `durableClient` binding settings.
    pub client_settings: DurableClientSettings,
    /// The public base, e.g. `http://127.0.0.1:7071`.
    pub base_url: String,
}

/// The router of the passthrough server.
pub fn router(context: Arc<HttpContext>) -> Router {
    Router::new().fallback(handle).with_state(context)
}

/// Matches `path` (without `/api/`) against a route template with `{name}`, `{name?}` and `{*rest}`
/// segments, case-insensitively; returns the route values.
pub fn match_route(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let template_segments: Vec<&str> = template
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let path_segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let mut values = BTreeMap::new();
    for (index, segment) in template_segments.iter().enumerate() {
        if let Some(parameter) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let parameter = parameter.split(':').next().unwrap_or(parameter);
            if let Some(rest) = parameter.strip_prefix('*') {
                values.insert(
                    rest.to_owned(),
                    path_segments.get(index..).unwrap_or_default().join("/"),
                );
                return Some(values);
            }
            match (parameter.strip_suffix('?'), path_segments.get(index)) {
                (_, Some(value)) => {
                    values.insert(parameter.trim_end_matches('?').to_owned(), (*value).to_owned());
                }
                (Some(_), None) => {}
                (None, None) => return None,
            }
        } else if !path_segments
            .get(index)
            .is_some_and(|value| value.eq_ignore_ascii_case(segment))
        {
            return None;
        }
    }
    (path_segments.len() <= template_segments.len()).then_some(values)
}

fn find_function<'a>(
    app: &'a FunctionApp,
    method: &Method,
    path: &str,
) -> Option<(&'a FunctionDefinition, BTreeMap<String, String>)> {
    app.functions
        .values()
        .filter(|function| !function.disabled)
        .find_map(|function| {
            let TriggerKind::Http { route, methods } = &function.trigger.kind else {
                return None;
            };
            let allowed = methods.is_empty() || methods.iter().any(|m| m.eq_ignore_ascii_case(method.as_str()));
            let values = match_route(route.as_deref().unwrap_or(&function.name), path)?;
            allowed.then_some((function, values))
        })
}

/// Builds `Data.req` and the HTTP binding metadata.
pub fn http_request(
    function: &FunctionDefinition,
    url: &str,
    request: &Parts,
    route_values: &BTreeMap<String, String>,
    body: &[u8],
    sys: &SystemBindingData,
) -> InvocationRequest {
    let (method, uri, headers) = (&request.method, &request.uri, &request.headers);
    let query: Map<String, Value> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), Value::String(percent_decode(value)))
        })
        .collect();
    let mut header_lists: Map<String, Value> = Map::new();
    let mut header_values: Map<String, Value> = Map::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        let display = canonical_header_name(name.as_str());
        header_values.insert(display.clone(), Value::String(values.join(",")));
        header_lists.insert(display, json!(values));
    }
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut req = json!({
        "Url": url,
        "Method": method.as_str(),
        "Query": query,
        "Headers": header_lists,
        "Params": route_values,
        "Identities": [],
    });
    let text_body = String::from_utf8(body.to_vec()).ok();
    if !body.is_empty() {
        let binary = content_type.starts_with("application/octet-stream") || content_type.starts_with("multipart/");
        req["Body"] = match (&text_body, binary) {
            (Some(text), false) => Value::String(text.clone()),
            _ => Value::String(BASE64.encode(body)),
        };
    }
    let mut invocation = InvocationRequest::new(sys);
    invocation.data.insert(function.trigger.binding_name.clone(), req);
    for (key, value) in &query {
        invocation.insert_metadata(key, value.as_str().map(host_string));
    }
    for (key, value) in route_values {
        invocation.insert_metadata(key, Some(host_string(value)));
    }
    invocation.insert_metadata("Query", Some(Value::Object(query)));
    invocation.insert_metadata("Headers", Some(Value::Object(header_values)));
    if let Some(text) = &text_body {
        invocation.apply_trigger_properties(text);
    }
    invocation
}

/// The HTTP response a function answers through its `http` output binding (or `$return`).
pub fn http_response(function: &FunctionDefinition, result: &InvocationResult) -> Response {
    let binding = function.outputs.iter().find(|output| output.kind == OutputKind::Http);
    let value = match binding {
        Some(binding) if binding.name == "$return" => Some(&result.return_value),
        Some(binding) => result
            .outputs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&binding.name))
            .map(|(_, v)| v),
        None => None,
    };
    let Some(Value::Object(response)) = value else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the function set no valid http output",
        )
            .into_response();
    };
    let member = |name: &str| {
        response
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let status = match member("statusCode") {
        Some(Value::Number(number)) => number.as_u64(),
        Some(Value::String(text)) => text.parse().ok(),
        _ => Some(200),
    }
    .and_then(|code| u16::try_from(code).ok())
    .and_then(|code| StatusCode::from_u16(code).ok())
    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match member("body") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    let mut reply = Response::new(Body::from(body));
    *reply.status_mut() = status;
    if let Some(Value::Object(headers)) = member("headers") {
        for (name, value) in headers {
            let text = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::try_from(text)) {
                reply.headers_mut().insert(name, value);
            }
        }
    }
    reply
}

async fn handle(State(context): State<Arc<HttpContext>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let Some(path) = parts
        .uri
        .path()
        .strip_prefix("/api/")
        .or_else(|| (parts.uri.path() == "/api").then_some(""))
    else {
        return (StatusCode::NOT_FOUND, "not an /api/ route").into_response();
    };
    let Some((function, route_values)) = find_function(&context.app, &parts.method, path) else {
        return (StatusCode::NOT_FOUND, "no HTTP-triggered function serves this route").into_response();
    };
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{}{path_and_query}", context.base_url);
    let sys = SystemBindingData::now(&function.name);
    let mut invocation = http_request(function, &url, &parts, &route_values, &body, &sys);
    add_durable_clients(function, &context.client_settings, &mut invocation);
    match context.invoker.invoke(function, &invocation).await {
        Ok(result) => http_response(function, &result),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

fn canonical_header_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn percent_decode(text: &str) -> String {
    let hex = |byte: u8| char::from(byte).to_digit(16).and_then(|digit| u8::try_from(digit).ok());
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%' && index + 2 < bytes.len())
            .then(|| Some(hex(bytes[index + 1])? * 16 + hex(bytes[index + 2])?))
            .flatten();
        match (bytes[index], escaped) {
            (_, Some(byte)) => {
                decoded.push(byte);
                index += 2;
            }
            (b'+', None) => decoded.push(b' '),
            (byte, None) => decoded.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_model::parse_function_json;
    use std::path::Path;

    #[test]
    fn routes() {
        assert_eq!(match_route("ReturnStatus", "returnstatus"), Some(BTreeMap::new()));
        let values = match_route("returns/{id}/status", "returns/R-1/status").unwrap();
        assert_eq!(values.get("id").map(String::as_str), Some("R-1"));
        assert_eq!(match_route("returns/{id}", "returns"), None);
        assert_eq!(match_route("returns/{id?}", "returns"), Some(BTreeMap::new()));
        assert_eq!(match_route("returns/{id}", "returns/1/extra"), None);
        assert_eq!(match_route("files/{*path}", "files/a/b").unwrap()["path"], "a/b");
        assert_eq!(match_route("returns/{id:int}", "returns/5").unwrap()["id"], "5");
    }

    #[test]
    fn data_req_matches_the_research_shape() {
        let function = parse_function_json(
            "Order",
            Path::new("Order/function.json"),
            &json!({"bindings": [{"name": "req", "type": "httpTrigger", "route": "order"}, {"name": "res", "type": "http", "direction": "out"}]}),
        )
        .unwrap();
        let (parts, ()) = Request::post("/api/order?x=1")
            .header("content-type", "application/json")
            .body(())
            .unwrap()
            .into_parts();
        let sys = SystemBindingData::now("Order");
        let request = http_request(
            &function,
            "http://localhost:7071/api/order?x=1",
            &parts,
            &BTreeMap::new(),
            br#"{"id":1005,"quantity":2}"#,
            &sys,
        );
        assert_eq!(
            request.data["req"],
            json!({"Url": "http://localhost:7071/api/order?x=1", "Method": "POST", "Query": {"x": "1"},
                   "Headers": {"Content-Type": ["application/json"]}, "Params": {}, "Identities": [],
                   "Body": "{\"id\":1005,\"quantity\":2}"})
        );
        assert_eq!(request.metadata["x"], json!("\"1\""));
        assert_eq!(request.metadata["id"], json!("\"1005\""));
        assert_eq!(request.metadata["Query"], json!({"x": "1"}));
        assert_eq!(request.metadata["Headers"], json!({"Content-Type": "application/json"}));
    }

    #[test]
    fn responses_come_from_the_http_output() {
        let function = parse_function_json(
            "Status",
            Path::new("Status/function.json"),
            &json!({"bindings": [{"name": "req", "type": "httpTrigger"}, {"name": "res", "type": "http", "direction": "out"}]}),
        )
        .unwrap();
        let result = InvocationResult {
            outputs: json!({"res": {"statusCode": "201", "body": {"ok": true}, "headers": {"X-Id": "42"}}})
                .as_object()
                .unwrap()
                .clone(),
            ..InvocationResult::default()
        };
        let response = http_response(&function, &result);
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["x-id"], "42");
        let missing = http_response(&function, &InvocationResult::default());
        assert_eq!(missing.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn query_decoding() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
