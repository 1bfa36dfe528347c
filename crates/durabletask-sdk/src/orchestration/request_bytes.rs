//! [`OrchestratorRequestBytes`]: an `OrchestratorRequest` run straight from its protobuf bytes.
//!
//! Decoding a request with prost materialises every history event, with a copy of every string in it (the inputs
//! of every activity ever scheduled included), only for replay to read a few fields of each and drop them all. This
//! reads the history one event at a time while replaying it, borrowing the few fields replay uses (see
//! [`Event::read`]): a long history costs a walk over its bytes and no allocation per event.
//!
//! What is read is what prost reads: every field but the history is decoded by prost, as is every event of a kind
//! replay reads in full, and any framing this reader does not handle itself (groups, a field repeated) sends the
//! request or the event to prost. One difference: fields replay never reads (the input, tags and trace context of
//! a scheduled activity, say) are skipped without checking that their strings are UTF-8, where prost would refuse
//! the request.

use prost::Message;

use super::event::Event;
use super::executor::replay;
use crate::proto;
use crate::registry::Registry;
use crate::wire::{FieldValue, Fields};

/// `OrchestratorRequest.pastEvents`.
const PAST_EVENTS: u32 = 3;
/// `OrchestratorRequest.newEvents`.
const NEW_EVENTS: u32 = 4;

/// An `OrchestratorRequest` whose history stays in its protobuf bytes until it is replayed.
///
/// ```
/// use durabletask_sdk::orchestration::{execute_orchestrator, OrchestratorRequestBytes};
/// use durabletask_sdk::testing::history;
/// use durabletask_sdk::{proto, Error, OrchestrationContext, Registry};
/// use prost::Message;
///
/// async fn hello(ctx: OrchestrationContext, city: String) -> Result<String, Error> {
///     Ok(ctx.call_activity("SayHello", &city).await?)
/// }
/// let mut registry = Registry::new();
/// registry.add_orchestrator("Hello", hello).unwrap();
/// let request = proto::OrchestratorRequest {
///     instance_id: "abc".into(),
///     new_events: vec![history::orchestrator_started_now(), history::execution_started("Hello", "abc", Some("\"Tokyo\""))],
///     ..Default::default()
/// };
/// let bytes = request.encode_to_vec();
///
/// let lazy = OrchestratorRequestBytes::decode(&bytes).unwrap();
/// assert_eq!(lazy.instance_id(), "abc");
/// assert_eq!(lazy.execute(&registry).unwrap(), execute_orchestrator(&registry, &request));
/// ```
#[derive(Debug, Clone)]
pub struct OrchestratorRequestBytes<'a> {
    bytes: &'a [u8],
    /// The bytes of each past and new event, found while checking the framing (a slice is 16 bytes; the event
    /// itself is read when it is replayed).
    past: Vec<&'a [u8]>,
    new: Vec<&'a [u8]>,
    /// The request without its history; the whole request when prost had to read it (see the module docs).
    header: proto::OrchestratorRequest,
    decoded_by_prost: bool,
}

impl<'a> OrchestratorRequestBytes<'a> {
    /// Checks the request's framing and decodes every field but the history; the events are read by
    /// [`execute`](Self::execute).
    pub fn decode(bytes: &'a [u8]) -> Result<Self, prost::DecodeError> {
        let mut header = Vec::new();
        let (mut past, mut new) = (Vec::new(), Vec::new());
        let mut fields = Fields::new(bytes);
        while let Some(field) = fields.next_with_raw() {
            match field {
                Ok((PAST_EVENTS, FieldValue::Bytes(event), _)) => past.push(event),
                Ok((NEW_EVENTS, FieldValue::Bytes(event), _)) => new.push(event),
                Ok((_, _, raw)) => header.extend_from_slice(raw),
                Err(_) => {
                    return Ok(Self {
                        bytes,
                        past: Vec::new(),
                        new: Vec::new(),
                        header: proto::OrchestratorRequest::decode(bytes)?,
                        decoded_by_prost: true,
                    })
                }
            }
        }
        Ok(Self {
            bytes,
            past,
            new,
            header: proto::OrchestratorRequest::decode(header.as_slice())?,
            decoded_by_prost: false,
        })
    }

    /// The orchestration instance id.
    pub fn instance_id(&self) -> &str {
        &self.header.instance_id
    }

    /// Every field of the request but `pastEvents` and `newEvents` (which may or may not be filled in).
    pub fn header(&self) -> &proto::OrchestratorRequest {
        &self.header
    }

    /// Runs the episode, as [`execute_orchestrator`](super::execute_orchestrator) does with the decoded request; an
    /// event that cannot be decoded fails with prost's error for the whole request.
    pub fn execute(&self, registry: &Registry) -> Result<proto::OrchestratorResponse, prost::DecodeError> {
        if self.decoded_by_prost {
            return Ok(super::execute_orchestrator(registry, &self.header));
        }
        // A rewind (rare: the Functions extension rewrites the history itself) is answered from the decoded request,
        // which the worker's rewrite of the history needs in full.
        if self.new.iter().any(|event| Event::is_execution_rewound(event)) {
            return Ok(super::execute_orchestrator(registry, &self.to_request()?));
        }
        let past = self.past.iter().copied().map(Event::read);
        let new = self.new.iter().copied().map(Event::read);
        replay(registry, self.instance_id(), past, new)
            .map(|(response, _)| response)
            .map_err(|event_error| self.to_request().err().unwrap_or(event_error))
    }

    /// The whole request, decoded by prost.
    pub fn to_request(&self) -> Result<proto::OrchestratorRequest, prost::DecodeError> {
        proto::OrchestratorRequest::decode(self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::history_event::EventType;
    use crate::testing::{canned, history};

    #[test]
    fn a_rewind_request_is_answered_as_the_decoded_request_is() {
        let mut past = canned::started("O", "i", None);
        past.extend([
            history::task_scheduled(1, "bad", None),
            history::task_failed(1, "Boom", "it broke"),
            history::execution_completed(proto::OrchestrationStatus::Failed, None),
        ]);
        let rewound = proto::HistoryEvent {
            event_id: -1,
            timestamp: None,
            event_type: Some(EventType::ExecutionRewound(Box::default())),
        };
        let request = proto::OrchestratorRequest {
            instance_id: "i".into(),
            past_events: past,
            new_events: vec![history::orchestrator_started(canned::t0()), rewound],
            ..Default::default()
        };
        let bytes = request.encode_to_vec();
        let answer = OrchestratorRequestBytes::decode(&bytes)
            .unwrap()
            .execute(&Registry::new())
            .unwrap();
        assert_eq!(answer, super::super::execute_orchestrator(&Registry::new(), &request));
        assert!(matches!(
            answer.actions[0].orchestrator_action_type,
            Some(proto::orchestrator_action::OrchestratorActionType::RewindOrchestration(
                _
            ))
        ));
    }
}
