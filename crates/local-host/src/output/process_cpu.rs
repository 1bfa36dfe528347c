//! CPU time of the processes of a run (the handler, the engine, the local host itself), read from
//! `/proc/<pid>/stat` on Linux, for end-to-end benchmarks that ask which process is the bottleneck.

use std::time::Duration;

/// Clock ticks per second of the `utime`/`stime` fields: the kernel reports them in `USER_HZ`, which is 100
/// on every Linux architecture (the value `sysconf(_SC_CLK_TCK)` returns).
const USER_HZ: u64 = 100;

/// CPU time (user + system) used by each process of the run so far; `None` where it cannot be read (the
/// process is gone, or the platform has no `/proc`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessCpu {
    /// The current handler process.
    pub handler: Option<Duration>,
    /// The local engine process (only when the local host started it).
    pub engine: Option<Duration>,
    /// The local host process itself.
    pub host: Option<Duration>,
}

impl ProcessCpu {
    /// The CPU time used since `earlier` (a process restarted in between counts from zero).
    pub fn since(&self, earlier: &ProcessCpu) -> ProcessCpu {
        let delta = |now: Option<Duration>, then: Option<Duration>| match (now, then) {
            (Some(now), Some(then)) if now >= then => Some(now - then),
            (now, _) => now,
        };
        ProcessCpu {
            handler: delta(self.handler, earlier.handler),
            engine: delta(self.engine, earlier.engine),
            host: delta(self.host, earlier.host),
        }
    }
}

impl std::fmt::Display for ProcessCpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show =
            |cpu: Option<Duration>| cpu.map_or_else(|| "n/a".to_owned(), |cpu| format!("{:.2} s", cpu.as_secs_f64()));
        write!(
            f,
            "process CPU (user + system): handler {}, engine {}, local host {}",
            show(self.handler),
            show(self.engine),
            show(self.host)
        )
    }
}

/// The CPU time (user + system) process `pid` has used, from `/proc/<pid>/stat`.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    parse_cpu_time(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The CPU time of this process.
pub fn own_cpu_time() -> Option<Duration> {
    cpu_time(std::process::id())
}

/// `utime + stime` of a `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and may hold
/// spaces or parentheses itself, so fields are counted after the last `)`: state is the first, `utime` the
/// 12th and `stime` the 13th (fields 14 and 15 of proc(5)).
pub fn parse_cpu_time(stat: &str) -> Option<Duration> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    let ticks = user + system;
    Some(Duration::from_millis(ticks * 1000 / USER_HZ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_user_and_system_ticks_after_the_command_name() {
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 1 0 100 0 0";
        assert_eq!(parse_cpu_time(stat), Some(Duration::from_millis(3250)));
        assert_eq!(parse_cpu_time("4242 (short) S 1 2"), None);
        assert_eq!(parse_cpu_time("no parenthesis"), None);
    }

    #[test]
    fn differences_count_a_restarted_process_from_zero() {
        let seconds = |s: u64| Some(Duration::from_secs(s));
        let before = ProcessCpu {
            handler: seconds(5),
            engine: seconds(2),
            host: None,
        };
        let after = ProcessCpu {
            handler: seconds(1),
            engine: seconds(7),
            host: seconds(3),
        };
        let during = after.since(&before);
        assert_eq!(
            (during.handler, during.engine, during.host),
            (seconds(1), seconds(5), seconds(3))
        );
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn this_process_has_a_cpu_time() {
        assert!(own_cpu_time().is_some());
    }
}
