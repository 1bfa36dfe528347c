//! What went wrong for good during a run: work the host failed or could not finish, which a person must look at.
//! Each problem names the instance or entity, what happened and what was lost; the summary lists them and the
//! command line exits non-zero when there is any.

use std::fmt;

use crate::output::stats::WorkItemKind;

/// Something lost or stuck during the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The host failed an orchestration or an entity batch for good, as the Durable extension does.
    WorkItemFailed {
        /// Orchestration or entity.
        kind: WorkItemKind,
        /// The instance id (`@name@key` for an entity).
        instance_id: String,
        /// The operations of the failed entity batch, in order (empty for an orchestration).
        operations: Vec<String>,
        /// Why (the host's view of the failed invocation).
        reason: String,
    },
    /// The engine refused a completion, so the work item stays unfinished: the instance or entity is wedged.
    CompletionRefused {
        /// What kind of work item.
        kind: WorkItemKind,
        /// The instance id.
        instance_id: String,
        /// The engine's answer.
        reason: String,
    },
    /// The engine stopped by itself during the run; the local engine keeps its state in memory only.
    EngineDied {
        /// How it ended.
        reason: String,
    },
    /// A timer invocation failed (the host does not retry timers).
    TimerFailed {
        /// The timer function.
        function: String,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WorkItemFailed {
                kind: WorkItemKind::Entity,
                instance_id,
                operations,
                reason,
            } => write!(
                f,
                "entity {instance_id}: the batch of {} ({}) failed for good ({reason}); the extension drops its \
                 state change and signals, so these operations are lost",
                plural(operations.len(), "operation"),
                operations.join(", ")
            ),
            Self::WorkItemFailed {
                instance_id, reason, ..
            } => write!(
                f,
                "orchestration {instance_id} failed for good ({reason}); the extension marks it Failed"
            ),
            Self::CompletionRefused {
                kind,
                instance_id,
                reason,
            } => write!(
                f,
                "the engine refused the result of {} {instance_id} ({reason}); it stays unfinished (wedged)",
                kind_name(*kind)
            ),
            Self::EngineDied { reason } => write!(
                f,
                "the durable engine stopped during the run ({reason}); its state, kept in memory, is lost"
            ),
            Self::TimerFailed { function, reason } => {
                write!(f, "timer {function} failed ({reason}); timers are not retried")
            }
        }
    }
}

fn kind_name(kind: WorkItemKind) -> &'static str {
    match kind {
        WorkItemKind::Orchestration => "orchestration",
        WorkItemKind::Activity => "activity",
        WorkItemKind::Entity => "entity",
    }
}

/// `1 thing` or `n things` (`delivery` → `deliveries`; a `piece of work` → `pieces of work`).
pub fn plural(n: usize, thing: &str) -> String {
    if n == 1 {
        return format!("1 {thing}");
    }
    let (noun, rest) = thing.split_once(' ').map_or((thing, ""), |(noun, rest)| (noun, rest));
    let noun = match noun.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'o', 'u']) => format!("{stem}ies"),
        _ => format!("{noun}s"),
    };
    if rest.is_empty() {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun} {rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_what_was_lost() {
        let entity = Problem::WorkItemFailed {
            kind: WorkItemKind::Entity,
            instance_id: "@entityfunction@RET-1".into(),
            operations: vec!["apply".into()],
            reason: "the handler process exited during the invocation".into(),
        };
        assert_eq!(
            entity.to_string(),
            "entity @entityfunction@RET-1: the batch of 1 operation (apply) failed for good (the handler process \
             exited during the invocation); the extension drops its state change and signals, so these operations \
             are lost"
        );
        let refused = Problem::CompletionRefused {
            kind: WorkItemKind::Entity,
            instance_id: "@counter@big".into(),
            reason: "message larger than max".into(),
        };
        assert!(refused.to_string().contains("entity @counter@big"), "{refused}");
        assert!(refused.to_string().contains("wedged"), "{refused}");
        assert_eq!(plural(2, "delivery"), "2 deliveries");
        assert_eq!(plural(2, "piece of work"), "2 pieces of work");
        assert_eq!(plural(1, "timer"), "1 timer");
        let died = Problem::EngineDied {
            reason: "signal: 9 (SIGKILL)".into(),
        };
        assert!(died
            .to_string()
            .starts_with("the durable engine stopped during the run"));
    }
}
