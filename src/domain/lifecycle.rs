//! The lifecycle of a return aggregate: status, the stuck deadline, the tombstone and its retention.
//!
//! ```text
//!             completion rule holds                 compact()                closed_at + tombstone_retention
//!   Open ───────────────────────────▶ Settled ─────────────▶ tombstone ─────────────────────────────▶ purged
//!     │  (notification started once)                                    (late events: ignored)
//!     │ ReturnCancelled
//!     └─────────────────────────────▶ Cancelled ────────────▶ tombstone ─────────────────────────────▶ purged
//!        (no notification)
//!
//!   Open, first event + stuck_after passed: one ReturnStuckAlert (the return stays Open and may still settle).
//! ```
//!
//! A cancelled return is closed like a settled one (late events are ignored, the tombstone is purged after the
//! same retention) but produces no notification: the customer was not owed a "return settled" email.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::aggregate::ReturnAggregate;
use super::notification::ReturnStuckAlert;

/// Where a return is in its lifecycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReturnStatus {
    /// Collecting events.
    #[default]
    Open,
    /// The completion rule held; the notification was triggered. Terminal.
    Settled,
    /// Cancelled before settling; no notification. Terminal.
    Cancelled,
}

impl ReturnStatus {
    /// Whether the return accepts no more events (settled or cancelled).
    pub fn is_closed(self) -> bool {
        self != ReturnStatus::Open
    }

    /// The status name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnStatus::Open => "Open",
            ReturnStatus::Settled => "Settled",
            ReturnStatus::Cancelled => "Cancelled",
        }
    }
}

/// The time rules of the domain (from app settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainConfig {
    /// How long after its first event an open return is declared stuck.
    pub stuck_after: Duration,
    /// How long the tombstone of a closed return is kept to refuse late events before it may be purged.
    pub tombstone_retention: Duration,
}

impl Default for DomainConfig {
    /// 30 days to settle, 90 days of tombstone.
    fn default() -> Self {
        Self {
            stuck_after: Duration::days(30),
            tombstone_retention: Duration::days(90),
        }
    }
}

impl ReturnAggregate {
    /// When the return counts as stuck: first event + `stuck_after`. `None` before any event.
    pub fn stuck_deadline(&self, config: &DomainConfig) -> Option<DateTime<Utc>> {
        self.first_seen_at.map(|first| first + config.stuck_after)
    }

    /// When the state of a closed return may be deleted: closed + `tombstone_retention`. `None` while open.
    pub fn purge_at(&self, config: &DomainConfig) -> Option<DateTime<Utc>> {
        self.closed_at.map(|closed| closed + config.tombstone_retention)
    }

    /// Whether the state may be deleted at `now`.
    pub fn is_purgeable(&self, now: DateTime<Utc>, config: &DomainConfig) -> bool {
        self.purge_at(config).is_some_and(|at| now >= at)
    }

    /// Raises the stuck alert if it is due: the return is open, the deadline has passed, and no alert was raised
    /// before. Marks the alert as raised, so it fires once; call it from the scheduled deadline check.
    pub fn check_stuck(&mut self, now: DateTime<Utc>, config: &DomainConfig) -> Option<ReturnStuckAlert> {
        let deadline = self.stuck_deadline(config)?;
        if self.status.is_closed() || self.stuck_alerted_at.is_some() || now < deadline {
            return None;
        }
        self.stuck_alerted_at = Some(now);
        Some(ReturnStuckAlert::build(self, deadline, now))
    }

    /// Shrinks a closed aggregate to its tombstone: the return id, status, first-seen, closing and alert times and
    /// the notification id, which is all it needs to refuse late events and answer the status endpoint.
    /// Returns `false` (and changes nothing) while the return is open.
    pub fn compact(&mut self) -> bool {
        if !self.status.is_closed() {
            return false;
        }
        *self = Self {
            status: self.status,
            first_seen_at: self.first_seen_at,
            closed_at: self.closed_at,
            stuck_alerted_at: self.stuck_alerted_at,
            notification_id: self.notification_id,
            compacted: true,
            ..Self::new(self.return_id.clone())
        };
        true
    }
}
