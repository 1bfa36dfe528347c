//! The body of a Service Bus message, read from the `serviceBusTrigger` binding value in whichever shape the
//! Functions host chose for it.

use serde_json::Value;

use super::error::EnvelopeError;
use super::value::{decode_base64, strip_json_string_layer};

/// The bytes of a Service Bus message body, whatever shape the host used to put it into the invocation.
///
/// The shape depends on the trigger's `dataType` in function.json and on the host version, so a handler that
/// reads only one of them breaks when the configuration changes. Every shape is accepted:
///
/// | on the wire (`Data.<name>`) | when | the body |
/// |---|---|---|
/// | `"eyJhIjoxfQ=="` | `"dataType": "binary"` (recommended) | the base64-decoded bytes |
/// | `"\"{\\\"a\\\":1}\""` | no `dataType`, or `"string"`: the text JSON-encoded once more | the text's UTF-8 |
/// | `{"a":1}`, `[1,2]` | the body bound as an object | the value's compact JSON text |
/// | `12`, `true` | a tool that passed a JSON body as is | the value's JSON text |
/// | `"hello"` (not base64) | a tool that passed text without the extra layer | the text's UTF-8 |
///
/// A string carrying the host's extra JSON string layer (it starts with `"`) is text; base64 never starts with
/// a quote, so the two cannot be confused. Only JSON `null` (no body at all) is an error. Batches
/// (`"cardinality": "many"`) are not read here.
///
/// ```
/// use durabletask_sdk::functions::service_bus_body;
/// use serde_json::json;
///
/// let body = br#"{"a":1}"#.to_vec();
/// assert_eq!(service_bus_body(&json!("eyJhIjoxfQ==")).unwrap(), body);
/// assert_eq!(service_bus_body(&json!("\"{\\\"a\\\":1}\"")).unwrap(), body);
/// assert_eq!(service_bus_body(&json!({"a": 1})).unwrap(), body);
/// ```
pub fn service_bus_body(value: &Value) -> Result<Vec<u8>, EnvelopeError> {
    match value {
        Value::String(text) => Ok(string_body(text)),
        Value::Null => Err(EnvelopeError::shape(
            "a message body (base64 or JSON-encoded text, or a JSON value)",
            value,
        )),
        other => Ok(other.to_string().into_bytes()),
    }
}

fn string_body(text: &str) -> Vec<u8> {
    match strip_json_string_layer(text) {
        Some(message_text) => message_text.into_bytes(),
        None => decode_base64(text).unwrap_or_else(|_| text.as_bytes().to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use serde_json::json;

    use super::*;
    use crate::functions::host_string;

    #[test]
    fn every_shape_of_one_body() {
        let text = r#"{"n":2,"returnId":"R-1"}"#;
        let body = text.as_bytes().to_vec();
        assert_eq!(service_bus_body(&json!(STANDARD.encode(text))).unwrap(), body);
        assert_eq!(service_bus_body(&host_string(text)).unwrap(), body);
        assert_eq!(service_bus_body(&json!({"returnId": "R-1", "n": 2})).unwrap(), body);
        assert_eq!(service_bus_body(&json!(text)).unwrap(), body, "text without the layer");
    }

    #[test]
    fn text_that_looks_like_base64_stays_text_when_the_host_quoted_it() {
        assert_eq!(service_bus_body(&host_string("aGk=")).unwrap(), b"aGk=");
        assert_eq!(service_bus_body(&json!("aGk=")).unwrap(), b"hi");
    }

    #[test]
    fn odd_but_readable_shapes() {
        assert_eq!(service_bus_body(&json!(12)).unwrap(), b"12");
        assert_eq!(service_bus_body(&json!([1, 2])).unwrap(), b"[1,2]");
        assert_eq!(service_bus_body(&json!("\"unterminated")).unwrap(), b"\"unterminated");
        assert_eq!(service_bus_body(&json!("")).unwrap(), b"");
        assert_eq!(service_bus_body(&host_string("")).unwrap(), b"");
        let error = service_bus_body(&Value::Null).unwrap_err().in_binding("message");
        assert_eq!(
            error.to_string(),
            "binding 'message': expected a message body (base64 or JSON-encoded text, or a JSON value), found null"
        );
    }
}
