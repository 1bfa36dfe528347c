//! The local host's stderr: a live progress display when stderr is a terminal, and every other line (logs,
//! the handler's and the engine's output) printed above it without tearing it. When stderr is not a terminal
//! there is no display and lines are written as they come.

use std::io::Write as _;
use std::sync::{Mutex, OnceLock};

use indicatif::ProgressBar;

fn display() -> &'static Mutex<Option<ProgressBar>> {
    static DISPLAY: OnceLock<Mutex<Option<ProgressBar>>> = OnceLock::new();
    DISPLAY.get_or_init(|| Mutex::new(None))
}

fn current() -> Option<ProgressBar> {
    display()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Shows `bar` until [`clear_display`]; lines printed meanwhile go above it.
pub fn set_display(bar: ProgressBar) {
    *display().lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(bar);
}

/// Removes the display, if any.
pub fn clear_display() {
    let bar = display()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

/// Writes bytes to stderr, above the display when one is shown.
fn write_stderr(bytes: &[u8]) {
    let write = || {
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(bytes);
        let _ = stderr.flush();
    };
    match current() {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

/// Prints one line on stderr (a newline is added).
pub fn line(text: &str) {
    write_stderr(format!("{text}\n").as_bytes());
}

/// A `tracing` writer to stderr that keeps the display intact (each event is written in one piece).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stderr;

impl std::io::Write for Stderr {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        write_stderr(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = Stderr;

    fn make_writer(&'a self) -> Self::Writer {
        Stderr
    }
}
