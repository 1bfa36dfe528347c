//! The runtime status of an orchestration instance, with the names the Durable Functions APIs use.

use std::fmt;
use std::str::FromStr;

use crate::proto;

/// The runtime status of an orchestration instance (mirrors the protocol's `OrchestrationStatus`).
///
/// Displays as the Durable Functions names (`Completed`, `ContinuedAsNew`, …) and parses them in any
/// case, with or without underscores or the protocol's `ORCHESTRATION_STATUS_` prefix, so statuses can
/// come from app settings:
///
/// ```
/// use durabletask_sdk::client::OrchestrationStatus;
///
/// for text in ["Completed", "completed", "COMPLETED", "ORCHESTRATION_STATUS_COMPLETED"] {
///     assert_eq!(text.parse::<OrchestrationStatus>().unwrap(), OrchestrationStatus::Completed);
/// }
/// assert_eq!(OrchestrationStatus::ContinuedAsNew.to_string(), "ContinuedAsNew");
/// assert_eq!("continued_as_new".parse::<OrchestrationStatus>().unwrap(), OrchestrationStatus::ContinuedAsNew);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrchestrationStatus {
    /// Started and not finished.
    Running,
    /// Finished with a result.
    Completed,
    /// Restarted itself with new input (transient).
    ContinuedAsNew,
    /// Finished with an error.
    Failed,
    /// Cancelled (not used by current engines).
    Canceled,
    /// Stopped by a terminate request.
    Terminated,
    /// Created, not yet picked up by a worker.
    Pending,
    /// Paused by a suspend request.
    Suspended,
}

/// The text is not the name of an orchestration status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not an orchestration status (expected one of Running, Completed, ContinuedAsNew, Failed, \
     Canceled, Terminated, Pending, Suspended)"
)]
pub struct ParseStatusError(String);

impl OrchestrationStatus {
    /// Every status, in protocol order.
    pub const ALL: [OrchestrationStatus; 8] = [
        OrchestrationStatus::Running,
        OrchestrationStatus::Completed,
        OrchestrationStatus::ContinuedAsNew,
        OrchestrationStatus::Failed,
        OrchestrationStatus::Canceled,
        OrchestrationStatus::Terminated,
        OrchestrationStatus::Pending,
        OrchestrationStatus::Suspended,
    ];

    /// The Durable Functions name of the status (`Completed`, `ContinuedAsNew`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            OrchestrationStatus::Running => "Running",
            OrchestrationStatus::Completed => "Completed",
            OrchestrationStatus::ContinuedAsNew => "ContinuedAsNew",
            OrchestrationStatus::Failed => "Failed",
            OrchestrationStatus::Canceled => "Canceled",
            OrchestrationStatus::Terminated => "Terminated",
            OrchestrationStatus::Pending => "Pending",
            OrchestrationStatus::Suspended => "Suspended",
        }
    }

    /// True for the statuses an instance never leaves: completed, failed, terminated or canceled.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrchestrationStatus::Completed
                | OrchestrationStatus::Failed
                | OrchestrationStatus::Terminated
                | OrchestrationStatus::Canceled
        )
    }

    /// The status with the given protocol number, if there is one.
    pub fn from_proto(value: i32) -> Option<Self> {
        proto::OrchestrationStatus::try_from(value).ok().map(Self::from)
    }
}

impl From<proto::OrchestrationStatus> for OrchestrationStatus {
    fn from(status: proto::OrchestrationStatus) -> Self {
        match status {
            proto::OrchestrationStatus::Running => OrchestrationStatus::Running,
            proto::OrchestrationStatus::Completed => OrchestrationStatus::Completed,
            proto::OrchestrationStatus::ContinuedAsNew => OrchestrationStatus::ContinuedAsNew,
            proto::OrchestrationStatus::Failed => OrchestrationStatus::Failed,
            proto::OrchestrationStatus::Canceled => OrchestrationStatus::Canceled,
            proto::OrchestrationStatus::Terminated => OrchestrationStatus::Terminated,
            proto::OrchestrationStatus::Pending => OrchestrationStatus::Pending,
            proto::OrchestrationStatus::Suspended => OrchestrationStatus::Suspended,
        }
    }
}

impl From<OrchestrationStatus> for proto::OrchestrationStatus {
    fn from(status: OrchestrationStatus) -> Self {
        match status {
            OrchestrationStatus::Running => proto::OrchestrationStatus::Running,
            OrchestrationStatus::Completed => proto::OrchestrationStatus::Completed,
            OrchestrationStatus::ContinuedAsNew => proto::OrchestrationStatus::ContinuedAsNew,
            OrchestrationStatus::Failed => proto::OrchestrationStatus::Failed,
            OrchestrationStatus::Canceled => proto::OrchestrationStatus::Canceled,
            OrchestrationStatus::Terminated => proto::OrchestrationStatus::Terminated,
            OrchestrationStatus::Pending => proto::OrchestrationStatus::Pending,
            OrchestrationStatus::Suspended => proto::OrchestrationStatus::Suspended,
        }
    }
}

impl fmt::Display for OrchestrationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrchestrationStatus {
    type Err = ParseStatusError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let folded: String = text
            .trim()
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect();
        let name = folded.strip_prefix("orchestrationstatus").unwrap_or(&folded);
        let name = if name == "cancelled" { "canceled" } else { name };
        OrchestrationStatus::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| ParseStatusError(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_name_and_the_protocol() {
        for status in OrchestrationStatus::ALL {
            assert_eq!(status.to_string().parse::<OrchestrationStatus>().unwrap(), status);
            assert_eq!(
                status.as_str().to_uppercase().parse::<OrchestrationStatus>().unwrap(),
                status
            );
            let wire = proto::OrchestrationStatus::from(status);
            assert_eq!(OrchestrationStatus::from_proto(wire as i32), Some(status));
            assert_eq!(wire.as_str_name().parse::<OrchestrationStatus>().unwrap(), status);
        }
    }

    #[test]
    fn unknown_names_and_numbers_are_rejected() {
        let error = "Done".parse::<OrchestrationStatus>().unwrap_err();
        assert!(error.to_string().contains("'Done'"), "{error}");
        assert!("".parse::<OrchestrationStatus>().is_err());
        assert_eq!(OrchestrationStatus::from_proto(42), None);
    }

    #[test]
    fn british_spelling_of_canceled_is_accepted() {
        assert_eq!(
            "Cancelled".parse::<OrchestrationStatus>().unwrap(),
            OrchestrationStatus::Canceled
        );
    }

    #[test]
    fn terminal_statuses() {
        let terminal: Vec<_> = OrchestrationStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            [
                OrchestrationStatus::Completed,
                OrchestrationStatus::Failed,
                OrchestrationStatus::Canceled,
                OrchestrationStatus::Terminated
            ]
        );
    }
}
