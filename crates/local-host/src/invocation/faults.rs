//! Fault injection for end-to-end tests: arm a fault for the next invocation of a function, and the
//! invoker applies it to that invocation.
//!
//! * [`InvocationFault::CrashAfterAnswer`]: the handler does the work and answers, then its process is killed
//!   before the host reads the answer: everything the invocation did outside its answer (a signal sent with
//!   the durable client) happened, and everything the host would do with the answer (complete the work item,
//!   send the output bindings, complete the message) does not. The worst moment for exactly-once.
//! * [`InvocationFault::Hang`]: the handler process is frozen (`SIGSTOP`) as the request is sent, so the
//!   invocation never answers and the function timeout ends it, as the host does with a hung worker: the
//!   process is killed and restarted. When the process cannot be frozen in time (a loaded machine), the request
//!   is held unsent instead, with the same outcome.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;

/// What to do to one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationFault {
    /// Kill the handler after it answered, before the host reads the answer.
    CrashAfterAnswer,
    /// Freeze the handler as the request is sent (needs a function timeout to end).
    Hang,
}

/// Completes when an armed fault was applied.
#[derive(Debug)]
pub struct FaultFired(oneshot::Receiver<()>);

impl FaultFired {
    /// Waits until the fault was applied; `false` if it never will be (the host stopped).
    pub async fn wait(self) -> bool {
        self.0.await.is_ok()
    }
}

#[derive(Debug)]
struct Armed {
    function: String,
    fault: InvocationFault,
    fired: oneshot::Sender<()>,
}

/// The armed faults, each applied once, in the order armed.
#[derive(Debug, Default)]
pub struct FaultInjector {
    armed: Mutex<Vec<Armed>>,
}

/// A fault taken for an invocation: report it with [`TakenFault::applied`], or give it back with
/// [`FaultInjector::rearm`] when the invocation ended before it could apply.
#[derive(Debug)]
pub struct TakenFault {
    /// The fault.
    pub fault: InvocationFault,
    function: String,
    fired: oneshot::Sender<()>,
}

impl TakenFault {
    /// Tells whoever armed the fault that it was applied.
    pub fn applied(self) {
        let _ = self.fired.send(());
    }
}

impl FaultInjector {
    /// Arms `fault` for the next invocation of `function`.
    pub fn arm(&self, function: &str, fault: InvocationFault) -> FaultFired {
        let (fired, receiver) = oneshot::channel();
        self.armed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Armed {
                function: function.to_owned(),
                fault,
                fired,
            });
        FaultFired(receiver)
    }

    /// Puts a taken fault back, first in line, for the next invocation of its function.
    pub fn rearm(&self, taken: TakenFault) {
        let TakenFault { fault, function, fired } = taken;
        self.armed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(0, Armed { function, fault, fired });
    }

    /// Takes the first fault armed for `function`, if any.
    pub fn take(&self, function: &str) -> Option<TakenFault> {
        let mut armed = self.armed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let index = armed.iter().position(|armed| armed.function == function)?;
        let Armed { function, fault, fired } = armed.remove(index);
        Some(TakenFault { fault, function, fired })
    }
}

/// How long a frozen process may take to show as stopped.
const FREEZE_DEADLINE: Duration = Duration::from_secs(5);
/// How often to check (and signal again) meanwhile.
const FREEZE_POLL: Duration = Duration::from_millis(5);

/// Freezes process `pid` with `SIGSTOP` (a frozen process can still be killed) and, where `/proc` tells, waits
/// until it is stopped: the stop completes asynchronously, and a stop signal has been seen not to take on a busy
/// process, so it is sent again until the process shows as stopped.
pub async fn freeze_process(pid: u32) -> std::io::Result<()> {
    let deadline = tokio::time::Instant::now() + FREEZE_DEADLINE;
    loop {
        let status = tokio::process::Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status()
            .await?;
        if !status.success() {
            return Err(std::io::Error::other(format!("kill -STOP {pid} failed ({status})")));
        }
        tokio::time::sleep(FREEZE_POLL).await;
        match is_stopped(pid) {
            Some(false) if tokio::time::Instant::now() < deadline => continue,
            Some(false) => return Err(std::io::Error::other(format!("process {pid} did not stop"))),
            Some(true) | None => return Ok(()),
        }
    }
}

/// Whether process `pid` is stopped, from the state field of `/proc/<pid>/stat` (`None` without `/proc`).
fn is_stopped(pid: u32) -> Option<bool> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat[stat.rfind(')')? + 1..].split_whitespace().next()?;
    Some(state == "T" || state == "t")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn faults_are_taken_once_per_function_in_order() {
        let injector = FaultInjector::default();
        let first = injector.arm("Entity", InvocationFault::CrashAfterAnswer);
        let _second = injector.arm("Entity", InvocationFault::Hang);
        assert!(injector.take("Other").is_none());
        let taken = injector.take("Entity").unwrap();
        assert_eq!(taken.fault, InvocationFault::CrashAfterAnswer);
        taken.applied();
        assert!(first.wait().await);
        let hang = injector.take("Entity").unwrap();
        assert_eq!(hang.fault, InvocationFault::Hang);
        assert!(injector.take("Entity").is_none());
        injector.rearm(hang);
        assert_eq!(injector.take("Entity").unwrap().fault, InvocationFault::Hang);
    }

    #[tokio::test]
    #[cfg(target_os = "linux")]
    async fn a_frozen_process_is_stopped() {
        let mut child = tokio::process::Command::new("sleep")
            .arg("30")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        assert_eq!(is_stopped(pid), Some(false));
        freeze_process(pid).await.unwrap();
        assert_eq!(is_stopped(pid), Some(true));
        child.kill().await.unwrap();
    }

    #[tokio::test]
    async fn a_fault_dropped_unapplied_reports_so() {
        let injector = FaultInjector::default();
        let fired = injector.arm("Entity", InvocationFault::Hang);
        drop(injector);
        assert!(!fired.wait().await);
    }
}
