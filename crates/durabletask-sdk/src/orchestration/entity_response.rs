//! The answer to an entity call as the Durable Functions extension delivers it: an `eventRaised` named after the
//! call's request id, whose input is the Durable Task Framework's `ResponseMessage` as JSON.
//!
//! The message is `{"result": "<the result as JSON text>"}` on success, or carries `exceptionType` and/or
//! `failureDetails` (`{"ErrorType": ..., "ErrorMessage": ...}`) on failure. The framework writes its own fields in
//! camelCase and the failure details in PascalCase; both spellings are accepted for every field.

use serde::Deserialize;
use serde_json::Value;

use crate::failure::{error_types, FailureDetails};

/// The extension's `ResponseMessage`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct EntityResponseMessage {
    /// The operation's result: JSON text in a string (or, leniently, the JSON value itself).
    #[serde(default, alias = "Result")]
    result: Option<Value>,
    /// The .NET type name of the exception the operation threw (older extensions send only this).
    #[serde(default, rename = "exceptionType", alias = "ExceptionType")]
    exception_type: Option<Value>,
    /// What the operation's failure was.
    #[serde(default, rename = "failureDetails", alias = "FailureDetails")]
    failure_details: Option<ResponseFailureDetails>,
}

/// The failure details of a failed operation, as the framework serialises them.
#[derive(Debug, Default, Deserialize)]
struct ResponseFailureDetails {
    #[serde(default, rename = "ErrorType", alias = "errorType")]
    error_type: Option<String>,
    #[serde(default, rename = "ErrorMessage", alias = "errorMessage")]
    error_message: Option<String>,
}

/// Why an answer could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the answer to an entity call is not a valid response message: {0}")]
pub(crate) struct InvalidEntityResponse(#[from] serde_json::Error);

impl InvalidEntityResponse {
    /// The answer's failure, as the call's outcome.
    pub(crate) fn failure_details(&self) -> FailureDetails {
        FailureDetails::new(error_types::INVALID_ENTITY_RESPONSE, self.to_string())
    }
}

impl EntityResponseMessage {
    /// Reads the `eventRaised` input (no input reads as an empty, successful answer).
    pub(crate) fn parse(input: Option<&str>) -> Result<Self, InvalidEntityResponse> {
        match input {
            None => Ok(Self::default()),
            Some(text) => Ok(serde_json::from_str(text)?),
        }
    }

    /// The operation's outcome: its result as JSON text, or its failure.
    pub(crate) fn into_outcome(self) -> Result<Option<String>, FailureDetails> {
        let exception_type = self.exception_type.filter(|value| !value.is_null());
        if exception_type.is_none() && self.failure_details.is_none() {
            return Ok(match self.result {
                Some(Value::String(serialized)) => Some(serialized),
                Some(Value::Null) | None => None,
                Some(other) => Some(other.to_string()),
            });
        }
        let details = self.failure_details.unwrap_or_default();
        let error_type = details
            .error_type
            .or_else(|| exception_type.as_ref().and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| error_types::ENTITY_OPERATION_FAILED.to_string());
        let result_text = match self.result {
            Some(Value::String(message)) => Some(message),
            _ => None,
        };
        let message = details.error_message.or(result_text).unwrap_or_default();
        Err(FailureDetails::new(error_type, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(text: Option<&str>) -> Result<Option<String>, FailureDetails> {
        EntityResponseMessage::parse(text).unwrap().into_outcome()
    }

    #[test]
    fn a_result_is_the_serialised_value() {
        assert_eq!(outcome(Some(r#"{"result": "6"}"#)).unwrap().as_deref(), Some("6"));
        assert_eq!(
            outcome(Some(r#"{"Result": "\"x\""}"#)).unwrap().as_deref(),
            Some("\"x\"")
        );
        assert_eq!(outcome(Some(r#"{"result": null}"#)).unwrap(), None);
        assert_eq!(outcome(None).unwrap(), None);
    }

    #[test]
    fn a_failure_keeps_its_type_and_message() {
        let failed = outcome(Some(
            r#"{"result": "ignored", "exceptionType": "System.Exception",
                "failureDetails": {"ErrorType": "KeyError", "ErrorMessage": "bad op"}}"#,
        ))
        .unwrap_err();
        assert_eq!(
            (failed.error_type.as_str(), failed.message.as_str()),
            ("KeyError", "bad op")
        );
    }

    #[test]
    fn an_old_style_failure_uses_the_exception_type_and_the_result_as_message() {
        let failed = outcome(Some(r#"{"result": "it broke", "exceptionType": "System.Exception"}"#)).unwrap_err();
        assert_eq!(
            (failed.error_type.as_str(), failed.message.as_str()),
            ("System.Exception", "it broke")
        );
        let bare = outcome(Some(r#"{"failureDetails": {}}"#)).unwrap_err();
        assert_eq!(bare.error_type, error_types::ENTITY_OPERATION_FAILED);
    }

    #[test]
    fn a_message_that_is_not_json_is_an_error() {
        assert!(EntityResponseMessage::parse(Some("not json")).is_err());
    }
}
