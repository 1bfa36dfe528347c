//! Validated identifiers: the return id (the aggregation key) and the de-duplication key of an event.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest return id accepted, in characters.
pub const MAX_RETURN_ID_LEN: usize = 100;

/// The id of a return: the key of its aggregate.
///
/// It becomes part of an Azure Table key (the entity id `@returnaggregate@<returnId>`), so it is restricted to
/// 1..=100 characters from `[A-Za-z0-9._-]`: no `/ \ # ?`, no control characters, no spaces.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReturnId(String);

/// Why a string is not a valid [`ReturnId`]; displayed as the problem part of an error message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReturnIdError {
    /// The id is the empty string.
    #[error("must not be empty")]
    Empty,
    /// The id is longer than [`MAX_RETURN_ID_LEN`].
    #[error("must be at most {MAX_RETURN_ID_LEN} characters, got {0}")]
    TooLong(usize),
    /// The id contains a character outside `[A-Za-z0-9._-]`.
    #[error("must contain only letters, digits, '.', '_' and '-', found {character:?} at position {position}")]
    ForbiddenCharacter {
        /// The first offending character.
        character: char,
        /// Its zero-based character position.
        position: usize,
    },
}

impl ReturnId {
    /// Validates `raw` as a return id.
    pub fn parse(raw: &str) -> Result<Self, ReturnIdError> {
        if raw.is_empty() {
            return Err(ReturnIdError::Empty);
        }
        let length = raw.chars().count();
        if length > MAX_RETURN_ID_LEN {
            return Err(ReturnIdError::TooLong(length));
        }
        if let Some((position, character)) = raw.chars().enumerate().find(|(_, c)| !is_key_character(*c)) {
            return Err(ReturnIdError::ForbiddenCharacter { character, position });
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_key_character(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

impl fmt::Display for ReturnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ReturnId {
    type Error = ReturnIdError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<ReturnId> for String {
    fn from(id: ReturnId) -> Self {
        id.0
    }
}

/// The namespace of the UUID v5 ids of published messages.
const MESSAGE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x794a_c33a_d9f7_42cf_8dca_07a1_9aec_317b);

/// The id of the settled notification of `return_id`: the same for every attempt, every replica, every run.
pub fn settled_notification_id(return_id: &ReturnId) -> Uuid {
    Uuid::new_v5(&MESSAGE_ID_NAMESPACE, format!("return-settled:{return_id}").as_bytes())
}

/// The id of the stuck alert of `return_id`.
pub fn stuck_alert_id(return_id: &ReturnId) -> Uuid {
    Uuid::new_v5(&MESSAGE_ID_NAMESPACE, format!("return-stuck:{return_id}").as_bytes())
}

/// The id of the alert naming `event`, an event accepted for `return_id` but not recorded, raised after the
/// return's stuck alert (or after it closed): one per event, whichever check finds it.
pub fn unrecorded_alert_id(return_id: &ReturnId, event: &EventKey) -> Uuid {
    Uuid::new_v5(
        &MESSAGE_ID_NAMESPACE,
        format!("return-unrecorded:{return_id}:{event}").as_bytes(),
    )
}

/// The id of the follow-up alert about `event`, which reached `return_id` after the return closed: one per event.
pub fn late_event_alert_id(return_id: &ReturnId, event: &EventKey) -> Uuid {
    Uuid::new_v5(
        &MESSAGE_ID_NAMESPACE,
        format!("return-late:{return_id}:{event}").as_bytes(),
    )
}

/// The de-duplication key of an event: `"<source> <eventId>"` when the event names its source, else `"<eventId>"`.
///
/// Following CloudEvents, `source` + `id` identify an event; two deliveries with the same key are the same event.
/// Event ids never contain whitespace (the parser enforces it), so the last space separates the two parts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventKey(String);

impl EventKey {
    /// Builds the key of the event `event_id` published by `source`.
    pub fn new(source: Option<&str>, event_id: &str) -> Self {
        match source {
            Some(source) => Self(format!("{source} {event_id}")),
            None => Self(event_id.to_owned()),
        }
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The event id part of the key.
    pub fn event_id(&self) -> &str {
        self.0.rsplit_once(' ').map_or(self.0.as_str(), |(_, id)| id)
    }

    /// The source part of the key, when the event named one.
    pub fn source(&self) -> Option<&str> {
        self.0.rsplit_once(' ').map(|(source, _)| source)
    }
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_id_accepts_key_safe_characters() {
        let id = ReturnId::parse("RET-2025.03_0001").unwrap();
        assert_eq!(id.as_str(), "RET-2025.03_0001");
    }

    #[test]
    fn return_id_rejects_table_key_breakers() {
        for (raw, character, position) in [("R/1", '/', 1), ("R\\1", '\\', 1), ("#R", '#', 0), ("R?", '?', 1)] {
            assert_eq!(
                ReturnId::parse(raw),
                Err(ReturnIdError::ForbiddenCharacter { character, position })
            );
        }
        assert_eq!(
            ReturnId::parse("a\u{7}"),
            Err(ReturnIdError::ForbiddenCharacter {
                character: '\u{7}',
                position: 1
            })
        );
        assert_eq!(
            ReturnId::parse("a b"),
            Err(ReturnIdError::ForbiddenCharacter {
                character: ' ',
                position: 1
            })
        );
    }

    #[test]
    fn return_id_length_bounds() {
        assert_eq!(ReturnId::parse(""), Err(ReturnIdError::Empty));
        assert!(ReturnId::parse(&"x".repeat(MAX_RETURN_ID_LEN)).is_ok());
        assert_eq!(ReturnId::parse(&"x".repeat(101)), Err(ReturnIdError::TooLong(101)));
    }

    #[test]
    fn return_id_deserialization_validates() {
        assert!(serde_json::from_str::<ReturnId>("\"R/1\"").is_err());
        assert_eq!(serde_json::from_str::<ReturnId>("\"R1\"").unwrap().as_str(), "R1");
    }

    #[test]
    fn event_key_splits_back_into_source_and_id() {
        let key = EventKey::new(Some("urn:returns service"), "e-1");
        assert_eq!(key.as_str(), "urn:returns service e-1");
        assert_eq!(key.source(), Some("urn:returns service"));
        assert_eq!(key.event_id(), "e-1");

        let bare = EventKey::new(None, "e-2");
        assert_eq!(bare.source(), None);
        assert_eq!(bare.event_id(), "e-2");
    }
}
