//! Requests and responses as they travel between an engine and a worker, in the four shapes the conformance
//! tooling speaks (named as in the oracle's protocol), and the golden-vector file format.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use prost::Message;
use serde::{Deserialize, Serialize};

use durabletask_sdk::activity::execute_activity;
use durabletask_sdk::entity::{execute_entity_batch, execute_entity_request};
use durabletask_sdk::orchestration::{
    execute_orchestrator, OrchestratorRequestBytes, VersionFailureStrategy, VersionMatchStrategy, VersioningOptions,
};
use durabletask_sdk::{proto, Registry};

use crate::normalize;

/// Why bytes or lines could not be read as conformance requests, responses or vectors.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The kind is not one of [`RequestKind::ALL`].
    #[error("unknown request kind '{0}'; expected one of orchestratorRequest, entityRequestV2, entityBatchRequest, activityRequest")]
    UnknownKind(String),
    /// The payload is not base64.
    #[error("the {kind} payload is not valid base64: {source}")]
    Base64 {
        /// The request kind.
        kind: &'static str,
        /// The decoding error.
        #[source]
        source: base64::DecodeError,
    },
    /// The bytes are not the expected protobuf message.
    #[error("the {kind} payload is not a valid {message} protobuf message: {source}")]
    Protobuf {
        /// The request kind.
        kind: &'static str,
        /// The protobuf message type expected.
        message: &'static str,
        /// The decoding error.
        #[source]
        source: prost::DecodeError,
    },
    /// A vector line is not the expected JSON object.
    #[error("line {line} of {path}: {source}")]
    VectorLine {
        /// The file.
        path: String,
        /// The 1-based line number.
        line: usize,
        /// What was wrong.
        #[source]
        source: Box<WireError>,
    },
    /// A vector line is not JSON of the expected shape.
    #[error("not a vector object {{\"kind\", \"scenario\", \"request\", \"response\"}}: {0}")]
    VectorJson(#[from] serde_json::Error),
    /// The vector file could not be read.
    #[error("could not read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The kinds of requests, named as the oracle's serve protocol (and the `WorkItem` oneof) names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// `OrchestratorRequest` → `OrchestratorResponse`.
    Orchestrator,
    /// `EntityRequest` (the V2 shape gRPC engines stream) → `EntityBatchResult`.
    EntityV2,
    /// `EntityBatchRequest` (the V1 shape the Functions host sends) → `EntityBatchResult`.
    EntityV1,
    /// `ActivityRequest` → `ActivityResponse`.
    Activity,
}

impl RequestKind {
    /// Every kind.
    pub const ALL: [RequestKind; 4] = [
        RequestKind::Orchestrator,
        RequestKind::EntityV2,
        RequestKind::EntityV1,
        RequestKind::Activity,
    ];

    /// The protocol name, e.g. `orchestratorRequest`.
    pub fn key(self) -> &'static str {
        match self {
            RequestKind::Orchestrator => "orchestratorRequest",
            RequestKind::EntityV2 => "entityRequestV2",
            RequestKind::EntityV1 => "entityBatchRequest",
            RequestKind::Activity => "activityRequest",
        }
    }

    /// The kind with protocol name `key`.
    pub fn from_key(key: &str) -> Result<Self, WireError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.key() == key)
            .ok_or_else(|| WireError::UnknownKind(key.to_string()))
    }
}

/// A decoded request.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// An orchestration episode.
    Orchestrator(proto::OrchestratorRequest),
    /// A V2 entity batch.
    EntityV2(proto::EntityRequest),
    /// A V1 entity batch.
    EntityV1(proto::EntityBatchRequest),
    /// An activity call.
    Activity(proto::ActivityRequest),
}

impl Request {
    /// Decodes protobuf bytes of the given kind.
    pub fn decode(kind: RequestKind, bytes: &[u8]) -> Result<Self, WireError> {
        let invalid = |message: &'static str| {
            move |source| WireError::Protobuf {
                kind: kind.key(),
                message,
                source,
            }
        };
        Ok(match kind {
            RequestKind::Orchestrator => {
                Request::Orchestrator(Message::decode(bytes).map_err(invalid("OrchestratorRequest"))?)
            }
            RequestKind::EntityV2 => Request::EntityV2(Message::decode(bytes).map_err(invalid("EntityRequest"))?),
            RequestKind::EntityV1 => Request::EntityV1(Message::decode(bytes).map_err(invalid("EntityBatchRequest"))?),
            RequestKind::Activity => Request::Activity(Message::decode(bytes).map_err(invalid("ActivityRequest"))?),
        })
    }

    /// Decodes base64 protobuf of the given kind.
    pub fn decode_base64(kind: RequestKind, text: &str) -> Result<Self, WireError> {
        Self::decode(kind, &decode_base64(kind, text)?)
    }

    /// The request's kind.
    pub fn kind(&self) -> RequestKind {
        match self {
            Request::Orchestrator(_) => RequestKind::Orchestrator,
            Request::EntityV2(_) => RequestKind::EntityV2,
            Request::EntityV1(_) => RequestKind::EntityV1,
            Request::Activity(_) => RequestKind::Activity,
        }
    }

    /// The protobuf bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Request::Orchestrator(request) => request.encode_to_vec(),
            Request::EntityV2(request) => request.encode_to_vec(),
            Request::EntityV1(request) => request.encode_to_vec(),
            Request::Activity(request) => request.encode_to_vec(),
        }
    }

    /// The protobuf bytes in base64.
    pub fn encode_base64(&self) -> String {
        BASE64.encode(self.encode())
    }
}

/// A decoded response.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// The answer to an orchestration episode.
    Orchestrator(proto::OrchestratorResponse),
    /// The answer to an entity batch (either shape).
    Entity(proto::EntityBatchResult),
    /// The answer to an activity call.
    Activity(proto::ActivityResponse),
}

impl Response {
    /// Decodes protobuf bytes answering a request of the given kind.
    pub fn decode(kind: RequestKind, bytes: &[u8]) -> Result<Self, WireError> {
        let invalid = |message: &'static str| {
            move |source| WireError::Protobuf {
                kind: kind.key(),
                message,
                source,
            }
        };
        Ok(match kind {
            RequestKind::Orchestrator => {
                Response::Orchestrator(Message::decode(bytes).map_err(invalid("OrchestratorResponse"))?)
            }
            RequestKind::EntityV2 | RequestKind::EntityV1 => {
                Response::Entity(Message::decode(bytes).map_err(invalid("EntityBatchResult"))?)
            }
            RequestKind::Activity => Response::Activity(Message::decode(bytes).map_err(invalid("ActivityResponse"))?),
        })
    }

    /// Decodes base64 protobuf answering a request of the given kind.
    pub fn decode_base64(kind: RequestKind, text: &str) -> Result<Self, WireError> {
        Self::decode(kind, &decode_base64(kind, text)?)
    }

    /// The protobuf bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Response::Orchestrator(response) => response.encode_to_vec(),
            Response::Entity(response) => response.encode_to_vec(),
            Response::Activity(response) => response.encode_to_vec(),
        }
    }

    /// The protobuf bytes in base64.
    pub fn encode_base64(&self) -> String {
        BASE64.encode(self.encode())
    }

    /// The response with everything that may legitimately differ removed (see [`crate::normalize`]).
    pub fn normalized(&self) -> Response {
        match self {
            Response::Orchestrator(response) => Response::Orchestrator(normalize::orchestrator_response(response)),
            Response::Entity(result) => Response::Entity(normalize::entity_batch_result(result)),
            Response::Activity(response) => Response::Activity(normalize::activity_response(response)),
        }
    }

    /// The orchestrator response, if this is one.
    pub fn as_orchestrator(&self) -> Option<&proto::OrchestratorResponse> {
        match self {
            Response::Orchestrator(response) => Some(response),
            _ => None,
        }
    }

    /// The entity batch result, if this is one.
    pub fn as_entity(&self) -> Option<&proto::EntityBatchResult> {
        match self {
            Response::Entity(result) => Some(result),
            _ => None,
        }
    }

    /// The activity response, if this is one.
    pub fn as_activity(&self) -> Option<&proto::ActivityResponse> {
        match self {
            Response::Activity(response) => Some(response),
            _ => None,
        }
    }
}

fn decode_base64(kind: RequestKind, text: &str) -> Result<Vec<u8>, WireError> {
    BASE64.decode(text.trim()).map_err(|source| WireError::Base64 {
        kind: kind.key(),
        source,
    })
}

/// Runs a request through our executors (the Rust side of every comparison). With versioning options on the
/// registry, an orchestration episode is checked first, as a worker does: an instance the options refuse ends
/// failed without running (durabletask-python fails it in its executor; a `Reject` cannot be recorded, as the
/// Python worker then answers nothing). An orchestration runs through both entry points of the SDK, the decoded
/// request and its bytes ([`OrchestratorRequestBytes`]), which must agree.
pub fn execute(registry: &Registry, request: &Request) -> Response {
    match request {
        Request::Orchestrator(request) => Response::Orchestrator(
            match registry.versioning().map(|options| options.check_request(request)) {
                Some(Err(mismatch)) => mismatch.failed_response(request),
                _ => execute_both_ways(registry, request),
            },
        ),
        Request::EntityV2(request) => Response::Entity(execute_entity_request(registry, request, chrono::Utc::now())),
        Request::EntityV1(request) => Response::Entity(execute_entity_batch(registry, request, chrono::Utc::now())),
        Request::Activity(request) => {
            Response::Activity(futures::executor::block_on(execute_activity(registry, request, "")))
        }
    }
}

/// Runs an orchestration episode from the decoded request and from its bytes; the two must answer the same.
fn execute_both_ways(registry: &Registry, request: &proto::OrchestratorRequest) -> proto::OrchestratorResponse {
    let response = execute_orchestrator(registry, request);
    let bytes = request.encode_to_vec();
    let from_bytes = OrchestratorRequestBytes::decode(&bytes).and_then(|lazy| lazy.execute(registry));
    assert_eq!(
        from_bytes.as_ref(),
        Ok(&response),
        "the request run from its bytes answered differently from the decoded request"
    );
    response
}

/// One golden vector: a request an engine sent and the response the Python worker answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Vector {
    /// The scenario of the oracle that produced it.
    pub scenario: String,
    /// The request.
    pub request: Request,
    /// The Python worker's response.
    pub response: Response,
    /// The versioning options of the worker that answered (the oracle's `VERSIONING`), if it had any.
    pub versioning: Option<VersioningSpec>,
}

/// A worker's versioning options as the oracle writes them (host.json's names and values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersioningSpec {
    /// The worker's version.
    #[serde(default)]
    pub version: Option<String>,
    /// The version of the orchestrations it starts.
    #[serde(default)]
    pub default_version: Option<String>,
    /// `None`, `Strict` or `CurrentOrOlder`.
    pub match_strategy: String,
    /// `Reject` or `Fail`.
    pub failure_strategy: String,
}

impl VersioningSpec {
    /// The SDK's options for this spec.
    pub fn to_options(&self) -> Result<VersioningOptions, durabletask_sdk::orchestration::UnknownStrategy> {
        let match_strategy: VersionMatchStrategy = self.match_strategy.parse()?;
        let failure_strategy: VersionFailureStrategy = self.failure_strategy.parse()?;
        let mut options = VersioningOptions::new(self.version.clone().unwrap_or_default())
            .with_match_strategy(match_strategy)
            .with_failure_strategy(failure_strategy);
        options.default_version = self.default_version.clone();
        Ok(options)
    }
}

#[derive(Serialize, Deserialize)]
struct VectorLine {
    kind: String,
    scenario: String,
    request: String,
    response: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    versioning: Option<VersioningSpec>,
}

impl Vector {
    /// Parses one line of a vector file: `{"kind", "scenario", "request", "response"}` with base64 protobuf.
    pub fn from_json_line(line: &str) -> Result<Self, WireError> {
        let parsed: VectorLine = serde_json::from_str(line)?;
        let kind = RequestKind::from_key(&parsed.kind)?;
        Ok(Vector {
            scenario: parsed.scenario,
            request: Request::decode_base64(kind, &parsed.request)?,
            response: Response::decode_base64(kind, &parsed.response)?,
            versioning: parsed.versioning,
        })
    }

    /// The vector as one line of a vector file.
    pub fn to_json_line(&self) -> String {
        let line = VectorLine {
            kind: self.request.kind().key().to_string(),
            scenario: self.scenario.clone(),
            request: self.request.encode_base64(),
            response: self.response.encode_base64(),
            versioning: self.versioning.clone(),
        };
        serde_json::to_string(&line).expect("strings always encode as JSON")
    }
}

/// Reads a vector file (JSON lines; blank lines are skipped).
pub fn read_vectors(path: &Path) -> Result<Vec<Vector>, WireError> {
    let text = std::fs::read_to_string(path).map_err(|source| WireError::Read {
        path: path.display().to_string(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            Vector::from_json_line(line).map_err(|source| WireError::VectorLine {
                path: path.display().to_string(),
                line: index + 1,
                source: Box::new(source),
            })
        })
        .collect()
}
