//! JSON payload encoding as the durable engine stores it: values travel as JSON text in optional strings,
//! where an absent string means "no value" (`null`).

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why a payload could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct PayloadError {
    what: &'static str,
    #[source]
    source: serde_json::Error,
}

/// Encodes a value as JSON text; `null` becomes `None`, as the official SDKs send it.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Option<String>, PayloadError> {
    let text = serde_json::to_string(value).map_err(|source| PayloadError {
        what: "could not encode the value as JSON",
        source,
    })?;
    Ok((text != "null").then_some(text))
}

/// Decodes optional JSON text; an absent or empty payload decodes as JSON `null`.
pub fn decode<T: DeserializeOwned>(payload: Option<&str>) -> Result<T, PayloadError> {
    let text = match payload {
        Some(text) if !text.is_empty() => text,
        _ => "null",
    };
    serde_json::from_str(text).map_err(|source| PayloadError {
        what: "could not decode the JSON payload",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_is_encoded_as_no_payload_and_decoded_back() {
        assert_eq!(encode(&()).unwrap(), None);
        assert_eq!(encode(&Option::<u8>::None).unwrap(), None);
        let back: Option<u8> = decode(None).unwrap();
        assert_eq!(back, None);
        let empty: Option<u8> = decode(Some("")).unwrap();
        assert_eq!(empty, None);
    }

    #[test]
    fn values_round_trip() {
        let text = encode(&vec![1, 2]).unwrap();
        assert_eq!(text.as_deref(), Some("[1,2]"));
        let back: Vec<u8> = decode(text.as_deref()).unwrap();
        assert_eq!(back, vec![1, 2]);
    }

    #[test]
    fn decoding_errors_name_the_problem() {
        let err = decode::<u8>(Some("{")).unwrap_err();
        assert!(err.to_string().contains("could not decode"));
    }
}
