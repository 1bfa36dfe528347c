//! The read model of one return for the status endpoint: what support needs to see, nothing personal.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::aggregate::{ReturnAggregate, ReturnStatus};
use super::completion::{missing_pieces, progress, MissingPiece, Progress};
use super::identifiers::ReturnId;
use super::lifecycle::DomainConfig;
use super::records::RejectedEvent;

/// The status of one return (no customer id: this view may be logged or shown to support tools).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnStatusReport {
    /// The return.
    pub return_id: ReturnId,
    /// Its status.
    pub status: ReturnStatus,
    /// Whether only the tombstone is left.
    pub compacted: bool,
    /// Its order, when the booking is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// When the first event was processed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen_at: Option<DateTime<Utc>>,
    /// When an open return counts as stuck.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stuck_deadline: Option<DateTime<Utc>>,
    /// When the stuck alert was raised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stuck_alerted_at: Option<DateTime<Utc>>,
    /// When it was settled or cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// When its tombstone may be purged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purge_at: Option<DateTime<Utc>>,
    /// The settled notification, once triggered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<Uuid>,
    /// Per-line and refund accounting, while the details are kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// What an open return still waits for.
    pub missing: Vec<MissingPiece>,
    /// Rejected events with their reasons.
    pub rejected: Vec<RejectedEvent>,
    /// Rejections beyond those listed.
    pub rejected_overflow: u32,
}

impl ReturnStatusReport {
    /// The report of `aggregate` under `config`.
    pub fn of(aggregate: &ReturnAggregate, config: &DomainConfig) -> Self {
        let open = aggregate.status() == ReturnStatus::Open;
        Self {
            return_id: aggregate.return_id().clone(),
            status: aggregate.status(),
            compacted: aggregate.is_compacted(),
            order_id: aggregate.booking().map(|b| b.order_id.clone()),
            first_seen_at: aggregate.first_seen_at(),
            stuck_deadline: aggregate.stuck_deadline(config).filter(|_| open),
            stuck_alerted_at: aggregate.stuck_alerted_at(),
            closed_at: aggregate.closed_at(),
            purge_at: aggregate.purge_at(config),
            notification_id: aggregate.notification_id(),
            progress: progress(aggregate),
            missing: missing_pieces(aggregate),
            rejected: aggregate.rejected(),
            rejected_overflow: aggregate.rejected_overflow(),
        }
    }
}
