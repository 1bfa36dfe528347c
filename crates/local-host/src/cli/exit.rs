//! The exit codes of `local-host`, as `--help` states them.

use std::process::ExitCode;

use crate::host::HostError;

/// The exit codes, for `--help`.
pub const EXIT_CODES: &str = "Exit codes:
  0  the run finished: every message completed (or dead-lettered without --fail-on-dead-letter), nothing lost;
     for `status`, the function answered 2xx
  1  local-host could not run: bad arguments, an unreadable file, an unknown timer, or the app, the engine or the
     handler could not be started (or the handler kept crashing); for `status`, no answer or a non-2xx answer
  2  the run did not become idle within --idle-timeout
  3  work was lost or is stuck: an entity batch or an orchestration failed for good, the engine refused a result
     (a wedged entity or instance), the engine died, or a timer invocation failed; each is named on stderr
  4  messages were dead-lettered and --fail-on-dead-letter was given";

/// How a command ended; the process exit code (see `--help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitStatus {
    /// The run finished and nothing was lost.
    Success = 0,
    /// local-host could not run.
    CouldNotRun = 1,
    /// The run did not become idle in time.
    NotIdle = 2,
    /// Work was lost or is stuck ([`crate::output::problems::Problem`]).
    WorkLost = 3,
    /// Messages were dead-lettered and `--fail-on-dead-letter` was given.
    DeadLettered = 4,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status as u8)
    }
}

/// The exit status of a run that did not fail outright: work lost first, then dead letters (when they count).
pub fn run_exit_status(problems: usize, dead_lettered: u64, fail_on_dead_letter: bool) -> ExitStatus {
    if problems > 0 {
        ExitStatus::WorkLost
    } else if fail_on_dead_letter && dead_lettered > 0 {
        ExitStatus::DeadLettered
    } else {
        ExitStatus::Success
    }
}

/// The exit status of a run that ended with `error`.
pub fn error_exit_status(error: &HostError) -> ExitStatus {
    match error {
        HostError::Idle(_) => ExitStatus::NotIdle,
        HostError::EngineDied(_) => ExitStatus::WorkLost,
        _ => ExitStatus::CouldNotRun,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses() {
        assert_eq!(run_exit_status(0, 0, true), ExitStatus::Success);
        assert_eq!(run_exit_status(0, 3, false), ExitStatus::Success);
        assert_eq!(run_exit_status(0, 3, true), ExitStatus::DeadLettered);
        assert_eq!(run_exit_status(1, 3, true), ExitStatus::WorkLost);
        let died = HostError::EngineDied("pid 1 exited".into());
        assert_eq!(error_exit_status(&died), ExitStatus::WorkLost);
        let timer = HostError::Timer {
            name: "Nope".into(),
            problem: "unknown".into(),
        };
        assert_eq!(error_exit_status(&timer), ExitStatus::CouldNotRun);
        assert_eq!(ExitStatus::DeadLettered as u8, 4);
    }
}
