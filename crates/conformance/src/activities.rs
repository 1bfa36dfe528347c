//! The `echo` and `boom` activities, as the oracle defines them.

use serde_json::Value;

use durabletask_sdk::{ActivityContext, Error};

use crate::python_value::PythonValue;

/// The name of the activity that returns its input.
pub const ECHO: &str = "echo";
/// The name of the activity that always fails.
pub const BOOM: &str = "boom";

/// `boom`'s failure. Its message is Python's `f"boom:{x}"` of the decoded input, so only the error type name
/// differs from the Python activity's `ValueError`.
#[derive(Debug, thiserror::Error)]
#[error("boom:{0}")]
pub struct BoomError(pub PythonValue);

/// Returns its input unchanged.
pub async fn echo(_ctx: ActivityContext, value: Value) -> Result<Value, Error> {
    Ok(value)
}

/// Always fails with [`BoomError`].
pub async fn boom(_ctx: ActivityContext, value: PythonValue) -> Result<(), Error> {
    Err(BoomError(value).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boom_fails_with_the_python_message() {
        let input: PythonValue = serde_json::from_str(r#"{"a": [1, "two", null, false]}"#).unwrap();
        let error = futures::executor::block_on(boom(ActivityContext::new("i", 1, BOOM), input)).unwrap_err();
        assert_eq!(error.details().message, "boom:{'a': [1, 'two', None, False]}");
        assert!(error.details().error_type.ends_with("BoomError"));
    }
}
