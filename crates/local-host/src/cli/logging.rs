//! What local-host logs: warnings and its own notices by default; each function's `Logs` lines (one or more per
//! message, from the handler's answers) only with `--verbose`. `LOCAL_HOST_LOG` (an `EnvFilter` such as
//! `debug` or `info,local_host::function=warn`) overrides both.

use tracing_subscriber::EnvFilter;

use crate::output::console;

/// The log target of the functions' `Logs` lines.
pub const FUNCTION_LOG_TARGET: &str = "local_host::function";

/// The filter: `LOCAL_HOST_LOG` when set, else INFO without the per-message function lines unless `verbose`.
pub fn filter(verbose: bool, from_env: Option<&str>) -> EnvFilter {
    if let Some(directives) = from_env.filter(|directives| !directives.trim().is_empty()) {
        if let Ok(filter) = EnvFilter::try_new(directives) {
            return filter;
        }
        eprintln!("local-host: LOCAL_HOST_LOG={directives:?} is not a valid filter; using the default");
    }
    if verbose {
        EnvFilter::new("info")
    } else {
        EnvFilter::new(format!("info,{FUNCTION_LOG_TARGET}=warn"))
    }
}

/// Installs the logger: to stderr, around the progress display, colours only on a terminal.
pub fn init(verbose: bool) {
    let from_env = std::env::var("LOCAL_HOST_LOG").ok();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(verbose, from_env.as_deref()))
        .with_writer(console::Stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_message_lines_are_off_unless_asked_for() {
        assert_eq!(filter(false, None).to_string(), "local_host::function=warn,info");
        assert_eq!(filter(true, None).to_string(), "info");
        assert_eq!(filter(false, Some("debug")).to_string(), "debug");
        assert_eq!(filter(true, Some("  ")).to_string(), "info");
    }
}
