//! The contract between the app's durable functions: their names, the operations of the return aggregate entity,
//! what the notification orchestrator publishes, and the instance-id rules. The Service Bus function, the entity,
//! the orchestrator and the status endpoint all speak through these types; none of them imports another.

use durabletask_sdk::EntityId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::notification::MessageKind;
use crate::domain::{
    AcceptedEvent, InvalidEventRecord, ReturnEvent, ReturnId, ReturnLateEventAlert, ReturnSettledNotification,
    ReturnStuckAlert,
};

/// The entity name of the return aggregate: the entity function's name (entity names are case-insensitive).
pub const AGGREGATE_ENTITY: &str = "EntityFunction";
/// The orchestrator function: publishes one [`Publication`].
pub const ORCHESTRATOR: &str = "Orchestrator";
/// The activity that publishes the settled notification.
pub const PUBLISH_NOTIFICATION: &str = "PublishNotification";
/// The activity that publishes the alerts ([`AlertMessage`]).
pub const PUBLISH_ALERT: &str = "PublishAlert";
/// The activity that keeps an event the entity refused on the invalid-events queue.
pub const PUBLISH_INVALID_EVENT: &str = "PublishInvalidEvent";

/// The trigger binding of the orchestrator and entity functions (`function.json`).
pub const CONTEXT_BINDING: &str = "context";
/// The trigger binding of the activity functions.
pub const ACTIVITY_BINDING: &str = "input";
/// The durable client input binding of the Service Bus and status functions.
pub const CLIENT_BINDING: &str = "client";
/// The output binding of the notifications topic (`PublishNotification/function.json`).
pub const NOTIFICATION_BINDING: &str = "notification";
/// The output binding of the alerts queue (`PublishAlert/function.json`).
pub const ALERT_BINDING: &str = "alert";
/// The output binding of the invalid-events queue (`PublishInvalidEvent/function.json`).
pub const INVALID_EVENT_BINDING: &str = "invalidEvent";

/// What the alerts queue carries. Untagged on the wire: each message keeps its own `kind` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AlertMessage {
    /// The stuck alert, and the alert naming an unrecorded event (the same shape).
    Stuck(Box<ReturnStuckAlert>),
    /// The follow-up alert about an event that reached a closed return.
    LateEvent(Box<ReturnLateEventAlert>),
}

impl AlertMessage {
    /// The return the alert is about.
    pub fn return_id(&self) -> &ReturnId {
        match self {
            AlertMessage::Stuck(alert) => &alert.return_id,
            AlertMessage::LateEvent(alert) => &alert.return_id,
        }
    }

    /// The alert's id.
    pub fn alert_id(&self) -> Uuid {
        match self {
            AlertMessage::Stuck(alert) => alert.alert_id,
            AlertMessage::LateEvent(alert) => alert.alert_id,
        }
    }
}

/// The entity holding the state of `return_id`.
pub fn aggregate_entity_id(return_id: &ReturnId) -> EntityId {
    EntityId::new(AGGREGATE_ENTITY, return_id.as_str())
}

/// An operation of the return aggregate entity. On the wire an operation is a name and a JSON input; this enum is
/// both, tagged: `{"operation": "apply", "input": <event>}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "operation", content = "input", rename_all = "camelCase")]
pub enum AggregateOperation {
    /// Fold one validated event into the return (sent by the Service Bus function).
    Apply(Box<ReturnEvent>),
    /// The scheduled check of the stuck deadline: the entity's own, at its first event + `stuck_after` (no input),
    /// or the ingress's, at an accepted event's acceptance + `stuck_after`, naming that event: a separate, later
    /// batch asks whether the event was recorded, so a lost batch cannot lose it in silence.
    CheckDeadline(Option<Box<AcceptedEvent>>),
    /// A message about the return went out (sent by the orchestrator).
    Published(Published),
    /// The scheduled deletion of the tombstone (the entity signals itself).
    Expire,
}

/// The name of [`AggregateOperation::Apply`] on the wire.
pub const APPLY_EVENT_OPERATION: &str = "apply";

/// What the orchestrator reports with [`AggregateOperation::Published`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    /// Which message.
    pub kind: MessageKind,
    /// When (orchestration time).
    pub published_at: chrono::DateTime<chrono::Utc>,
}

/// Why an operation could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OperationError {
    /// The entity has no operation of this name.
    #[error("the return aggregate has no operation '{0}'")]
    Unknown(String),
    /// The input does not fit the operation.
    #[error("the input of operation '{operation}' cannot be read: {source}")]
    Input {
        /// The operation's name.
        operation: &'static str,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
}

impl AggregateOperation {
    /// Every operation name, as sent on the wire.
    pub const NAMES: [&'static str; 4] = [APPLY_EVENT_OPERATION, "checkDeadline", "published", "expire"];

    /// The operation's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            AggregateOperation::Apply(_) => Self::NAMES[0],
            AggregateOperation::CheckDeadline(_) => Self::NAMES[1],
            AggregateOperation::Published(_) => Self::NAMES[2],
            AggregateOperation::Expire => Self::NAMES[3],
        }
    }

    /// The operation's input on the wire (`null` for operations without one), borrowed: it serialises as the input
    /// alone, with no copy.
    pub fn input(&self) -> OperationInput<'_> {
        match self {
            AggregateOperation::Apply(event) => OperationInput::Event(event),
            AggregateOperation::CheckDeadline(accepted) => OperationInput::Accepted(accepted.as_deref()),
            AggregateOperation::Published(report) => OperationInput::Published(report),
            AggregateOperation::Expire => OperationInput::None,
        }
    }

    /// Reads an operation from its wire name and JSON input text (`None` or empty: no input, read as `null`). The
    /// input is read straight into the operation's type.
    pub fn decode(name: &str, input: Option<&str>) -> Result<Self, OperationError> {
        let Some(known) = Self::NAMES.into_iter().find(|known| *known == name) else {
            return Err(OperationError::Unknown(name.to_owned()));
        };
        let text = input.filter(|text| !text.is_empty()).unwrap_or("null");
        let operation = match known {
            APPLY_EVENT_OPERATION => serde_json::from_str(text).map(AggregateOperation::Apply),
            "checkDeadline" => serde_json::from_str(text).map(AggregateOperation::CheckDeadline),
            "published" => serde_json::from_str(text).map(AggregateOperation::Published),
            _ => serde_json::from_str::<()>(text).map(|()| AggregateOperation::Expire),
        };
        operation.map_err(|source| OperationError::Input {
            operation: known,
            source,
        })
    }
}

/// The input of an [`AggregateOperation`], borrowed from it: serialises as the bare input (`null` for none).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
pub enum OperationInput<'a> {
    /// The event to fold in.
    Event(&'a ReturnEvent),
    /// The accepted event a deadline check names, if it names one.
    Accepted(Option<&'a AcceptedEvent>),
    /// What was published.
    Published(&'a Published),
    /// No input.
    None,
}

/// The input as JSON text, as it goes on the wire.
impl std::fmt::Display for OperationInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&serde_json::to_string(self).map_err(|_| std::fmt::Error)?)
    }
}

/// What one notification orchestration publishes: the finished message, built by the entity. The instance id is
/// derived from it, so each message is published by at most one orchestration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "publish", content = "message", rename_all = "camelCase")]
pub enum Publication {
    /// The consolidated "return settled" notification.
    Settled(Box<ReturnSettledNotification>),
    /// The "return stuck" alert.
    Stuck(Box<ReturnStuckAlert>),
    /// An event the entity refused, for the invalid-events queue.
    InvalidEvent(Box<InvalidEventRecord>),
    /// An alert naming an accepted event the return did not record, after its stuck alert went out.
    Unrecorded(Box<ReturnStuckAlert>),
    /// The follow-up alert about an event that reached the return after it closed.
    LateEvent(Box<ReturnLateEventAlert>),
}

/// The message of a [`Publication`], borrowed: serialises as the bare notification, alert or record.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
pub enum PublicationMessage<'a> {
    /// The "return settled" notification.
    Settled(&'a ReturnSettledNotification),
    /// The "return stuck" alert.
    Stuck(&'a ReturnStuckAlert),
    /// The follow-up alert about a late event.
    LateEvent(&'a ReturnLateEventAlert),
    /// A refused event's record.
    InvalidEvent(&'a InvalidEventRecord),
}

/// The namespace of the UUID v5 part of invalid-event instance ids.
const INVALID_EVENT_INSTANCE_NAMESPACE: Uuid = Uuid::from_u128(0x3c0f_5c8e_1b2a_4d57_9e3f_51c2_a7d4_0b91);

impl Publication {
    /// The activity that publishes it.
    pub fn activity(&self) -> &'static str {
        self.kind().activity()
    }

    /// Which message it carries (its `publish` tag).
    pub fn kind(&self) -> PublicationKind {
        match self {
            Publication::Settled(_) => PublicationKind::Settled,
            Publication::Stuck(_) => PublicationKind::Stuck,
            Publication::InvalidEvent(_) => PublicationKind::InvalidEvent,
            Publication::Unrecorded(_) => PublicationKind::Unrecorded,
            Publication::LateEvent(_) => PublicationKind::LateEvent,
        }
    }

    /// The message, as the activity's input (serialised straight from the publication, with no copy).
    pub fn message(&self) -> PublicationMessage<'_> {
        match self {
            Publication::Settled(notification) => PublicationMessage::Settled(notification),
            Publication::Stuck(alert) | Publication::Unrecorded(alert) => PublicationMessage::Stuck(alert),
            Publication::LateEvent(alert) => PublicationMessage::LateEvent(alert),
            Publication::InvalidEvent(record) => PublicationMessage::InvalidEvent(record),
        }
    }

    /// The kind of message the entity records as published; `None` for kept events and alerts about unrecorded
    /// or late events, which it does not track.
    pub fn published_kind(&self) -> Option<MessageKind> {
        self.kind().published_kind()
    }

    /// The return the message is about, as text (a refused event may name no valid return).
    pub fn return_id(&self) -> Option<&str> {
        match self {
            Publication::Settled(notification) => Some(notification.return_id.as_str()),
            Publication::Stuck(alert) | Publication::Unrecorded(alert) => Some(alert.return_id.as_str()),
            Publication::LateEvent(alert) => Some(alert.return_id.as_str()),
            Publication::InvalidEvent(record) => record.return_id.as_deref(),
        }
    }

    /// The orchestration instance id: `returns-settled-<returnId>`, `returns-stuck-<returnId>`,
    /// `returns-unrecorded-<alertId>` for an alert about an unrecorded event and `returns-late-<alertId>` for one
    /// about a late event (each id a UUID v5 of the return and the event), or `returns-invalid-<uuid>` for a kept event (a UUID v5 of its return and body, so a
    /// redelivered refusal starts no second orchestration).
    pub fn instance_id(&self) -> String {
        match self {
            Publication::Settled(notification) => settled_instance_id(&notification.return_id),
            Publication::Stuck(alert) => stuck_instance_id(&alert.return_id),
            Publication::Unrecorded(alert) => format!("returns-unrecorded-{}", alert.alert_id),
            Publication::LateEvent(alert) => format!("returns-late-{}", alert.alert_id),
            Publication::InvalidEvent(record) => {
                let body = serde_json::to_string(&record.body).unwrap_or_default();
                let name = format!(
                    "{}\n{}\n{body}",
                    record.return_id.as_deref().unwrap_or(""),
                    record.reason
                );
                format!(
                    "returns-invalid-{}",
                    Uuid::new_v5(&INVALID_EVENT_INSTANCE_NAMESPACE, name.as_bytes())
                )
            }
        }
    }
}

/// A [`Publication`] as the orchestrator reads it: which message it is, its return, and the message as the JSON
/// text it came in. The orchestrator hands the message to its activity as it is (a notification is ~2.5 KB that it
/// would otherwise read into its types and write back out on every episode); an input that is no such message (not
/// an object, no `returnId` where every such message has one) is refused as before, failing the instance.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "TaggedMessage")]
pub struct PublicationInput {
    publish: PublicationKind,
    message: Box<serde_json::value::RawValue>,
    return_id: Option<String>,
}

/// The wire form of a [`Publication`]: `{"publish": <kind>, "message": {...}}`.
#[derive(Deserialize)]
struct TaggedMessage {
    publish: PublicationKind,
    message: Box<serde_json::value::RawValue>,
}

impl TryFrom<TaggedMessage> for PublicationInput {
    type Error = String;

    fn try_from(tagged: TaggedMessage) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct ReturnIdOf {
            #[serde(rename = "returnId", default)]
            return_id: Option<String>,
        }
        let ReturnIdOf { return_id } = serde_json::from_str(tagged.message.get())
            .map_err(|error| format!("the message is not a {:?} message: {error}", tagged.publish))?;
        if return_id.is_none() && tagged.publish != PublicationKind::InvalidEvent {
            return Err(format!("the {:?} message names no returnId", tagged.publish));
        }
        Ok(Self {
            publish: tagged.publish,
            message: tagged.message,
            return_id,
        })
    }
}

/// Which message a [`Publication`] carries (its `publish` tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PublicationKind {
    /// [`Publication::Settled`].
    Settled,
    /// [`Publication::Stuck`].
    Stuck,
    /// [`Publication::InvalidEvent`].
    InvalidEvent,
    /// [`Publication::Unrecorded`].
    Unrecorded,
    /// [`Publication::LateEvent`].
    LateEvent,
}

impl PublicationKind {
    /// The activity that publishes a message of this kind.
    pub fn activity(self) -> &'static str {
        match self {
            PublicationKind::Settled => PUBLISH_NOTIFICATION,
            PublicationKind::Stuck | PublicationKind::Unrecorded | PublicationKind::LateEvent => PUBLISH_ALERT,
            PublicationKind::InvalidEvent => PUBLISH_INVALID_EVENT,
        }
    }

    /// The kind of message the entity records as published; `None` for kept events and alerts about unrecorded
    /// or late events, which it does not track.
    pub fn published_kind(self) -> Option<MessageKind> {
        match self {
            PublicationKind::Settled => Some(MessageKind::ReturnSettled),
            PublicationKind::Stuck => Some(MessageKind::ReturnStuck),
            PublicationKind::InvalidEvent | PublicationKind::Unrecorded | PublicationKind::LateEvent => None,
        }
    }
}

impl PublicationInput {
    /// The activity that publishes it (as [`Publication::activity`]).
    pub fn activity(&self) -> &'static str {
        self.publish.activity()
    }

    /// The message, as the activity's input: the JSON text it came in.
    pub fn message(&self) -> &serde_json::value::RawValue {
        &self.message
    }

    /// The kind of message the entity records as published (as [`Publication::published_kind`]).
    pub fn published_kind(&self) -> Option<MessageKind> {
        self.publish.published_kind()
    }

    /// The return the message is about (as [`Publication::return_id`]: a refused event may name none).
    pub fn return_id(&self) -> Option<&str> {
        self.return_id.as_deref()
    }
}

/// The instance id of the settled notification's orchestration of `return_id`.
pub fn settled_instance_id(return_id: &ReturnId) -> String {
    format!("returns-settled-{return_id}")
}

/// The instance id of the stuck alert's orchestration of `return_id`.
pub fn stuck_instance_id(return_id: &ReturnId) -> String {
    format!("returns-stuck-{return_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_orchestrators_view_of_a_publication_agrees_with_the_publication() {
        use crate::domain::{InvalidEventRecord, KeptBody};
        let record = |return_id: Option<&str>| InvalidEventRecord {
            reason: "WrongReturn".into(),
            field: "returnId".into(),
            error: "returnId: another return".into(),
            message_id: Some("m-1".into()),
            subject: None,
            delivery_count: Some(1),
            return_id: return_id.map(str::to_owned),
            rejected_by: Some("EntityFunction".into()),
            rejected_at: chrono::DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z")
                .unwrap()
                .into(),
            body: KeptBody::Text("{\"returnId\": \"RET-2025-000002\"}".into()),
        };
        for publication in [
            Publication::InvalidEvent(Box::new(record(Some("RET-2025-000001")))),
            Publication::InvalidEvent(Box::new(record(None))),
        ] {
            let input: PublicationInput = serde_json::from_str(&serde_json::to_string(&publication).unwrap()).unwrap();
            assert_eq!(input.activity(), publication.activity());
            assert_eq!(input.published_kind(), publication.published_kind());
            assert_eq!(input.return_id(), publication.return_id());
            assert_eq!(
                input.message().get(),
                serde_json::to_string(&publication.message()).unwrap()
            );
        }
    }

    #[test]
    fn operations_round_trip_through_their_wire_name_and_input() {
        let published = Published {
            kind: MessageKind::ReturnSettled,
            published_at: "2025-03-15T09:00:08Z".parse().unwrap(),
        };
        let accepted = crate::domain::AcceptedEvent::new(
            crate::domain::EventKey::new(Some("warehouse"), "EVT-5"),
            crate::domain::EventType::ReturnItemsReceived,
            "0123456789abcdef0123456789abcdef".to_owned(),
            Some("MSG-5"),
            "2025-03-15T09:00:00Z".parse().unwrap(),
        );
        for operation in [
            AggregateOperation::CheckDeadline(None),
            AggregateOperation::CheckDeadline(Some(Box::new(accepted))),
            AggregateOperation::Expire,
            AggregateOperation::Published(published),
        ] {
            let input = serde_json::to_value(operation.input()).unwrap();
            let tagged = serde_json::to_value(&operation).unwrap();
            assert_eq!(
                input, tagged["input"],
                "the input alone is the tagged operation's input"
            );
            let text = (!input.is_null()).then(|| input.to_string());
            let back = AggregateOperation::decode(operation.name(), text.as_deref()).unwrap();
            assert_eq!(back, operation);
        }
    }

    #[test]
    fn unknown_operations_and_bad_inputs_are_named() {
        let unknown = AggregateOperation::decode("frobnicate", None).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "the return aggregate has no operation 'frobnicate'"
        );
        let bad = AggregateOperation::decode("apply", Some("{\"eventType\": 3}")).unwrap_err();
        assert!(
            bad.to_string()
                .starts_with("the input of operation 'apply' cannot be read"),
            "{bad}"
        );
        assert!(AggregateOperation::decode("published", Some("not json")).is_err());
    }

    #[test]
    fn the_published_report_of_earlier_builds_is_still_read() {
        let old = r#"{"kind":"settled","publishedAt":"2025-03-15T09:00:08Z"}"#;
        let AggregateOperation::Published(report) = AggregateOperation::decode("published", Some(old)).unwrap() else {
            panic!("not a published report");
        };
        assert_eq!(report.kind, MessageKind::ReturnSettled);
    }
}
