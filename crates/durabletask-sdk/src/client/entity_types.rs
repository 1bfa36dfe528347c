//! What the client reports about durable entities, and the filter it queries them with.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use crate::json::{self, PayloadError};
use crate::time::{to_datetime, to_timestamp};
use crate::{proto, EntityId, EntityIdError};

/// The stored state of one entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityMetadata {
    /// The entity's instance id, `@name@key`.
    pub instance_id: String,
    /// When the entity's state last changed.
    pub last_modified: Option<DateTime<Utc>>,
    /// How many operations wait to be processed.
    pub backlog_queue_size: u32,
    /// The orchestration holding the entity's lock, if any.
    pub locked_by: Option<String>,
    /// The state as JSON text; only filled when the state was requested, and `None` for an entity without
    /// state.
    pub serialized_state: Option<String>,
}

impl EntityMetadata {
    /// The entity id parsed from the instance id.
    pub fn entity_id(&self) -> Result<EntityId, EntityIdError> {
        self.instance_id.parse()
    }

    /// Decodes the state; `None` when the entity has none (or it was not requested).
    pub fn state<T: DeserializeOwned>(&self) -> Result<Option<T>, PayloadError> {
        json::decode(self.serialized_state.as_deref())
    }
}

impl From<proto::EntityMetadata> for EntityMetadata {
    fn from(entity: proto::EntityMetadata) -> Self {
        Self {
            instance_id: entity.instance_id,
            last_modified: entity.last_modified_time.as_ref().map(to_datetime),
            backlog_queue_size: u32::try_from(entity.backlog_queue_size).unwrap_or(0),
            locked_by: entity.locked_by,
            serialized_state: entity.serialized_state,
        }
    }
}

/// Which entities a query returns. Every condition left unset matches everything.
///
/// ```
/// use durabletask_sdk::client::EntityQuery;
///
/// let query = EntityQuery::for_entity_name("ReturnAggregate").with_state();
/// assert_eq!(query.instance_id_prefix.as_deref(), Some("@returnaggregate@"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityQuery {
    /// Only entities whose instance id starts with this text (e.g. `@counter@`).
    pub instance_id_prefix: Option<String>,
    /// Only entities modified at or after this time.
    pub last_modified_from: Option<DateTime<Utc>>,
    /// Only entities modified before this time.
    pub last_modified_to: Option<DateTime<Utc>>,
    /// Include each entity's state.
    pub include_state: bool,
    /// Include entities that have no state yet but have pending operations or a lock.
    pub include_transient: bool,
    /// At most this many entities per page (the engine's default when unset).
    pub page_size: Option<u32>,
}

impl EntityQuery {
    /// A query matching every entity.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only the entities with the given name (lowercased, as entity ids are).
    pub fn for_entity_name(name: &str) -> Self {
        Self {
            instance_id_prefix: Some(format!("@{}@", name.to_lowercase())),
            ..Self::default()
        }
    }

    /// Include each entity's state.
    pub fn with_state(mut self) -> Self {
        self.include_state = true;
        self
    }

    /// Include entities that have no state yet.
    pub fn with_transient(mut self) -> Self {
        self.include_transient = true;
        self
    }

    /// Only entities modified in `[from, to)`; either bound may be left open.
    pub fn with_last_modified_between(mut self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Self {
        self.last_modified_from = from;
        self.last_modified_to = to;
        self
    }

    /// At most `size` entities per page.
    pub fn with_page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }

    pub(crate) fn to_proto(&self, continuation_token: Option<&str>) -> proto::EntityQuery {
        proto::EntityQuery {
            instance_id_starts_with: self.instance_id_prefix.clone(),
            last_modified_from: self.last_modified_from.map(to_timestamp),
            last_modified_to: self.last_modified_to.map(to_timestamp),
            include_state: self.include_state,
            include_transient: self.include_transient,
            page_size: self.page_size.map(|size| i32::try_from(size).unwrap_or(i32::MAX)),
            continuation_token: continuation_token.map(str::to_string),
        }
    }
}

/// What an entity storage clean-up does. [`CleanEntityStorageOptions::all`] (also the default) does both.
///
/// ```
/// use durabletask_sdk::client::CleanEntityStorageOptions;
///
/// let locks_only = CleanEntityStorageOptions::all().with_remove_empty_entities(false);
/// assert!(locks_only.release_orphaned_locks && !locks_only.remove_empty_entities);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanEntityStorageOptions {
    /// Delete entities that have neither state nor pending work.
    pub remove_empty_entities: bool,
    /// Release locks held by orchestrations that no longer exist.
    pub release_orphaned_locks: bool,
}

impl CleanEntityStorageOptions {
    /// Both: remove empty entities and release orphaned locks.
    pub fn all() -> Self {
        Self {
            remove_empty_entities: true,
            release_orphaned_locks: true,
        }
    }

    /// Sets whether empty entities are removed.
    pub fn with_remove_empty_entities(mut self, remove: bool) -> Self {
        self.remove_empty_entities = remove;
        self
    }

    /// Sets whether orphaned locks are released.
    pub fn with_release_orphaned_locks(mut self, release: bool) -> Self {
        self.release_orphaned_locks = release;
        self
    }
}

impl Default for CleanEntityStorageOptions {
    fn default() -> Self {
        Self::all()
    }
}

/// What an entity storage clean-up removed, summed over all its pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanEntityStorageResult {
    /// Entities without state and without pending work that were deleted.
    pub empty_entities_removed: u32,
    /// Locks held by orchestrations that no longer exist that were released.
    pub orphaned_locks_released: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_decodes_and_absent_state_is_none() {
        let mut entity = EntityMetadata::from(proto::EntityMetadata {
            instance_id: "@counter@a".into(),
            serialized_state: Some("42".into()),
            backlog_queue_size: 3,
            ..Default::default()
        });
        assert_eq!(entity.state::<u32>().unwrap(), Some(42));
        assert_eq!(entity.backlog_queue_size, 3);
        assert_eq!(entity.entity_id().unwrap(), EntityId::new("counter", "a"));
        entity.serialized_state = None;
        assert_eq!(entity.state::<u32>().unwrap(), None);
    }
}
