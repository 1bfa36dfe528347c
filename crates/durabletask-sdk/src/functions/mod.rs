//! The Azure Functions custom-handler envelope: what the Functions host POSTs to the handler and what it
//! expects back, and the decoding of every binding value shape it sends.
//!
//! - [`InvokeRequest`] / [`InvokeResponse`]: the `{"Data","Metadata"}` request and the
//!   `{"Outputs","Logs","ReturnValue"}` answer.
//! - [`binding_text`], [`binding_json`], [`binding_bytes`] and the `metadata_*` functions: undo the host's
//!   encodings (strings JSON-encoded twice, numbers as text, base64 for binary data, several date formats).
//! - The binding-value helpers for code on either side of the protocol (a handler, or a local host playing the
//!   Functions host): [`host_string`] / [`peel_host_string`] add and remove the host's extra JSON string layer,
//!   [`parse_timespan`] / [`format_timespan`] read and write .NET `TimeSpan` text, [`decode_protobuf`] /
//!   [`encode_return_value`] read and write base64 protobuf.
//! - [`decode_orchestrator_request`], [`decode_entity_batch_request`] and [`activity_input`]: the Durable
//!   Functions trigger payloads; empty or anonymous requests are refused.
//! - [`service_bus_body`]: the bytes of a Service Bus message body, in whichever shape the host sent it.
//! - [`DurableClientBinding`], [`HttpRequestData`] / [`HttpResponseData`] and [`TimerInfo`]: typed binding
//!   values.
//! - [`handle_orchestrator`], [`handle_entity`] and [`handle_activity`]: a whole durable trigger invocation, from
//!   request to answer, through a [`Registry`](crate::Registry).
//! - [`durable_versioning`]: the app's orchestration versioning, read from host.json and its app-setting overrides
//!   as the Durable extension reads it (and which part of versioning the extension does itself).
//! - [`FailureKind`]: whether a failed invocation is the request's fault (400) or the handler's (500), for the
//!   status of the answer.
//!
//! ```
//! use durabletask_sdk::functions::{InvokeRequest, InvokeResponse};
//!
//! let body = br#"{"Data":{"message":"\"hello\""},"Metadata":{"MessageId":"\"m-1\"","DeliveryCount":"1"}}"#;
//! let request = InvokeRequest::from_slice(body).unwrap();
//! assert_eq!(request.binding_text("message").unwrap(), "hello");
//! assert_eq!(request.metadata_int("DeliveryCount").unwrap(), Some(1));
//! let answer = InvokeResponse::new().with_log("processed m-1");
//! # let _ = answer;
//! ```

mod app;
mod client_binding;
mod durable;
mod envelope;
mod error;
mod http;
pub mod ncrontab;
mod service_bus;
mod timer;
mod timespan;
mod triggers;
mod value;
mod versioning;

pub use app::{
    generated_folder_differences, read_function_folders, write_function_folders, Binding, Direction, FunctionApp,
    FunctionAppBuilder, FunctionAppError, FunctionDefinition, FunctionHandler, InvocationError, TriggerKind,
    DEFAULT_MAX_REQUEST_BYTES,
};
pub use client_binding::DurableClientBinding;
pub use durable::{
    activity_input, decode_entity_batch_request, decode_orchestrator_request, decode_protobuf, encode_return_value,
    run_orchestrator_value,
};
pub use envelope::{InvokeRequest, InvokeResponse};
pub use error::{EnvelopeError, EnvelopeProblem, FailureKind, ValueLocation};
pub use http::{HttpRequestData, HttpResponseData};
pub use service_bus::service_bus_body;
pub use timer::{ScheduleStatus, TimerInfo};
pub use timespan::{format_timespan, parse_timespan, TimeSpanError};
pub use triggers::{handle_activity, handle_entity, handle_orchestrator, ActivityInvocationError};
pub use value::{
    binding_bytes, binding_json, binding_text, host_string, metadata_datetime, metadata_int, metadata_object,
    metadata_string, peel_host_string, BindingEncoding,
};
pub use versioning::{
    durable_versioning, VersioningConfigError, DEFAULT_VERSION_SETTING, FAILURE_STRATEGY_SETTING,
    MATCH_STRATEGY_SETTING,
};
