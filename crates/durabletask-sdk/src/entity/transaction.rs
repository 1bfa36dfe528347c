//! The per-batch record of an entity's state and outgoing actions, with one commit point per operation.
//!
//! Every operation of a batch is a transaction: what it writes is pending until the executor commits it (the
//! operation succeeded) or rolls it back (it failed or panicked). The state is held as JSON text and is never
//! re-encoded: an operation that does not write the state costs no copy, and an untouched state goes back to
//! the engine byte for byte.

use crate::proto;
use crate::proto::operation_action::OperationActionType;

/// The `id` given to every operation action. Both reference SDKs (Python and .NET) leave the field unset, and
/// no engine reads it: actions are applied in list order.
const OPERATION_ACTION_ID: i32 = 0;

/// Committed and pending entity state plus the actions recorded so far in a batch.
#[derive(Debug, Default)]
pub(crate) struct EntityTransaction {
    /// The state as of the last committed operation (`None`: the entity has no state).
    committed_state: Option<String>,
    /// What the running operation wrote: `None` when it wrote nothing, `Some(None)` when it deleted the state.
    pending_state: Option<Option<String>>,
    /// Committed actions first, then those of the running operation.
    actions: Vec<proto::OperationAction>,
    /// How many of `actions` are committed.
    committed_actions: usize,
}

impl EntityTransaction {
    /// Starts a batch from the entity's stored state.
    pub(crate) fn new(state: Option<String>) -> Self {
        Self {
            committed_state: state,
            ..Self::default()
        }
    }

    /// The state the running operation sees: its own write if it made one, otherwise the committed state.
    pub(crate) fn state(&self) -> Option<&str> {
        match &self.pending_state {
            Some(pending) => pending.as_deref(),
            None => self.committed_state.as_deref(),
        }
    }

    /// Whether the running operation wrote (or deleted) the state.
    pub(crate) fn has_pending_state(&self) -> bool {
        self.pending_state.is_some()
    }

    /// Replaces the state for the running operation (`None` deletes it).
    pub(crate) fn write_state(&mut self, state: Option<String>) {
        self.pending_state = Some(state);
    }

    /// Records an action of the running operation.
    pub(crate) fn push_action(&mut self, mut action: OperationActionType) {
        crate::tracing_spans::entity::stamp_action(&mut action);
        self.actions.push(proto::OperationAction {
            id: OPERATION_ACTION_ID,
            operation_action_type: Some(action),
        });
    }

    /// Keeps what the running operation did.
    pub(crate) fn commit(&mut self) {
        if let Some(state) = self.pending_state.take() {
            self.committed_state = state;
        }
        self.committed_actions = self.actions.len();
    }

    /// Forgets what the running operation did.
    pub(crate) fn rollback(&mut self) {
        self.pending_state = None;
        self.actions.truncate(self.committed_actions);
    }

    /// Ends the batch: the committed state and actions (anything uncommitted is dropped).
    pub(crate) fn finish(mut self) -> (Option<String>, Vec<proto::OperationAction>) {
        self.rollback();
        (self.committed_state, self.actions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(name: &str) -> OperationActionType {
        OperationActionType::SendSignal(proto::SendSignalAction {
            instance_id: "@other@k".into(),
            name: name.into(),
            ..Default::default()
        })
    }

    fn action_names(actions: &[proto::OperationAction]) -> Vec<&str> {
        actions
            .iter()
            .map(|action| match &action.operation_action_type {
                Some(OperationActionType::SendSignal(signal)) => signal.name.as_str(),
                _ => "?",
            })
            .collect()
    }

    #[test]
    fn a_write_is_visible_at_once_and_kept_by_commit() {
        let mut tx = EntityTransaction::new(Some("1".into()));
        tx.write_state(Some("2".into()));
        assert_eq!(tx.state(), Some("2"));
        tx.commit();
        assert_eq!(tx.state(), Some("2"));
        assert_eq!(tx.finish().0.as_deref(), Some("2"));
    }

    #[test]
    fn rollback_restores_the_committed_state_and_drops_pending_actions() {
        let mut tx = EntityTransaction::new(Some("1".into()));
        tx.push_action(signal("kept"));
        tx.commit();
        tx.write_state(None);
        tx.push_action(signal("dropped"));
        assert_eq!(tx.state(), None);
        tx.rollback();
        assert_eq!(tx.state(), Some("1"));
        let (state, actions) = tx.finish();
        assert_eq!(state.as_deref(), Some("1"));
        assert_eq!(action_names(&actions), ["kept"]);
    }

    #[test]
    fn deleting_commits_as_no_state() {
        let mut tx = EntityTransaction::new(Some("1".into()));
        tx.write_state(None);
        tx.commit();
        assert_eq!(tx.finish().0, None);
    }

    #[test]
    fn finish_drops_uncommitted_work() {
        let mut tx = EntityTransaction::new(None);
        tx.write_state(Some("9".into()));
        tx.push_action(signal("pending"));
        let (state, actions) = tx.finish();
        assert_eq!(state, None);
        assert!(actions.is_empty());
    }
}
