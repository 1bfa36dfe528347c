//! Entity instance ids: `@<name>@<key>`, with the name lowercased as the Durable Functions extension does.

use std::fmt;
use std::str::FromStr;

/// Identifies one durable entity: its (lowercase) name and its key.
///
/// ```
/// use durabletask_sdk::EntityId;
///
/// let id = EntityId::new("ReturnAggregate", "R-1001");
/// assert_eq!(id.to_string(), "@returnaggregate@R-1001");
/// assert_eq!("@returnaggregate@R-1001".parse::<EntityId>().unwrap(), id);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityId {
    name: String,
    key: String,
}

/// Why a string is not an entity instance id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not an entity instance id of the form @name@key: {reason}")]
pub struct EntityIdError {
    text: String,
    reason: &'static str,
}

impl EntityId {
    /// An entity id from a name (lowercased) and a key (kept as is).
    pub fn new(name: impl AsRef<str>, key: impl Into<String>) -> Self {
        Self {
            name: name.as_ref().to_lowercase(),
            key: key.into(),
        }
    }

    /// The entity name, lowercase.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The entity key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}@{}", self.name, self.key)
    }
}

impl FromStr for EntityId {
    type Err = EntityIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |reason| EntityIdError {
            text: text.to_string(),
            reason,
        };
        let rest = text
            .strip_prefix('@')
            .ok_or_else(|| error("it does not start with '@'"))?;
        let (name, key) = rest
            .split_once('@')
            .ok_or_else(|| error("there is no '@' between name and key"))?;
        if name.is_empty() {
            return Err(error("the name is empty"));
        }
        Ok(Self::new(name, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_may_contain_at_signs() {
        let id: EntityId = "@counter@a@b".parse().unwrap();
        assert_eq!(id.name(), "counter");
        assert_eq!(id.key(), "a@b");
    }

    #[test]
    fn names_are_lowercased() {
        assert_eq!("@Counter@K".parse::<EntityId>().unwrap().to_string(), "@counter@K");
    }

    #[test]
    fn malformed_ids_are_rejected_with_a_reason() {
        for text in ["counter@a", "@countera", "@@a"] {
            assert!(text.parse::<EntityId>().is_err(), "{text}");
        }
    }
}
