//! Shared by the executor benches: the cases, the request bytes an engine would send for each, the
//! registrations that run them, and the decode → execute → encode step that is measured.
//!
//! The same bytes are written to `target/bench-vectors/` so that `scripts/bench_python_executors.py` times
//! durabletask-python on exactly the requests the Rust executors see.

pub mod app;
pub mod vectors;

use std::path::{Path, PathBuf};

use durabletask_sdk::entity::execute_entity_batch;
use durabletask_sdk::orchestration::OrchestratorRequestBytes;
use durabletask_sdk::proto::{self, orchestrator_action::OrchestratorActionType as Action};
use durabletask_sdk::Registry;
use prost::Message;

pub use vectors::{Case, RequestKind};

/// The completion token the engine would have sent with the work item; set on every response, as a worker does.
const COMPLETION_TOKEN: &str = "bench-completion-token";

/// Where the vectors live: `<workspace>/target/bench-vectors`, or `$BENCH_VECTORS_DIR`.
pub fn vectors_dir() -> PathBuf {
    std::env::var_os("BENCH_VECTORS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-vectors"))
}

/// Reads a case's request bytes from `dir`, writing every vector first when the file is missing.
pub fn load_or_write(dir: &Path, case: &Case) -> std::io::Result<Vec<u8>> {
    let path = dir.join(case.file_name());
    if !path.exists() {
        vectors::write_all(dir)?;
    }
    std::fs::read(path)
}

/// What a worker does with one work item's payload: decode it, run the executor, encode the completion.
pub fn execute_bytes(registry: &Registry, kind: RequestKind, request: &[u8]) -> Vec<u8> {
    try_execute_bytes(registry, kind, request).expect("a valid request")
}

/// [`execute_bytes`], answering a request that is not valid protobuf with prost's error instead of panicking (for
/// the line pipe, which serves whatever it is sent).
pub fn try_execute_bytes(
    registry: &Registry,
    kind: RequestKind,
    request: &[u8],
) -> Result<Vec<u8>, prost::DecodeError> {
    Ok(match kind {
        RequestKind::Orchestrator => {
            let request = OrchestratorRequestBytes::decode(request)?;
            let mut response = request.execute(registry)?;
            response.completion_token = COMPLETION_TOKEN.to_string();
            response.encode_to_vec()
        }
        RequestKind::EntityBatch => {
            let request = proto::EntityBatchRequest::decode(request)?;
            let mut result = execute_entity_batch(registry, &request, chrono::DateTime::UNIX_EPOCH);
            result.completion_token = COMPLETION_TOKEN.to_string();
            result.encode_to_vec()
        }
    })
}

/// The answer a response carries, to check that a run computed the right thing: an orchestration's output (or
/// its failure), an entity batch's final state and how many operations succeeded.
pub fn answer_of(kind: RequestKind, response: &[u8]) -> String {
    match kind {
        RequestKind::Orchestrator => {
            let response = proto::OrchestratorResponse::decode(response).expect("a valid OrchestratorResponse");
            let completion = response
                .actions
                .iter()
                .find_map(|action| match &action.orchestrator_action_type {
                    Some(Action::CompleteOrchestration(complete)) => Some(complete),
                    _ => None,
                });
            match completion {
                Some(complete) if complete.failure_details.is_some() => {
                    format!("failed: {:?}", complete.failure_details)
                }
                Some(complete) => format!("output {}", complete.result.as_deref().unwrap_or("null")),
                None => format!("not completed ({} actions)", response.actions.len()),
            }
        }
        RequestKind::EntityBatch => {
            let result = proto::EntityBatchResult::decode(response).expect("a valid EntityBatchResult");
            let succeeded = result
                .results
                .iter()
                .filter(|r| matches!(r.result_type, Some(proto::operation_result::ResultType::Success(_))))
                .count();
            format!(
                "state {} after {succeeded} successful operations",
                result.entity_state.as_deref().unwrap_or("null")
            )
        }
    }
}
