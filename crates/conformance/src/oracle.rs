//! The Python oracle as a child process: `oracle/oracle.py serve` run with the project's virtualenv, spoken to
//! over its stdin and stdout (see [`crate::serve`] for the protocol).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::serve::{self, ServeError};
use crate::wire::{Request, Response};

/// The environment variable that points at another virtualenv (as `scripts/setup-venv.sh` honours it).
pub const VENV_VARIABLE: &str = "DURABLE_VENV";

/// Why the oracle could not answer.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// The virtualenv with durabletask 1.12.0 is not there.
    #[error(
        "the Python virtualenv with durabletask 1.12.0 is missing ({python} does not exist): run `bash scripts/setup-venv.sh` from the repository root first"
    )]
    VenvMissing {
        /// The interpreter that was looked for.
        python: PathBuf,
    },
    /// The process could not be started.
    #[error("could not start the oracle `{python} {script} serve`: {source}")]
    Spawn {
        /// The interpreter.
        python: PathBuf,
        /// The oracle script.
        script: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Talking to the process failed.
    #[error("lost the oracle process: {0}")]
    Io(#[from] std::io::Error),
    /// The process ended (usually because durabletask is not installed in the virtualenv).
    #[error("the oracle process ended without answering; run `bash scripts/setup-venv.sh` (durabletask 1.12.0 must be importable)")]
    Ended,
    /// The answer was not understood, or the oracle rejected the request.
    #[error(transparent)]
    Protocol(#[from] ServeError),
}

/// The repository root (the workspace this crate belongs to).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate lives at <repo>/crates/conformance")
        .to_path_buf()
}

/// The oracle script shipped with this crate.
pub fn oracle_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oracle").join("oracle.py")
}

/// The golden vectors shipped with this crate.
pub fn vectors_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("oracle")
        .join("vectors.jsonl")
}

/// The golden vectors of the versioned scenarios (`oracle.py record-versioned`), each with the worker's options.
pub fn versioned_vectors_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("oracle")
        .join("versioned_vectors.jsonl")
}

/// The virtualenv's Python: `$DURABLE_VENV/bin/python`, or `<repo>/.venv/bin/python`.
pub fn venv_python() -> PathBuf {
    python_in(std::env::var_os(VENV_VARIABLE).map(PathBuf::from))
}

/// The Python of virtualenv `venv`, or of `<repo>/.venv` when none is given.
fn python_in(venv: Option<PathBuf>) -> PathBuf {
    venv.unwrap_or_else(|| repo_root().join(".venv"))
        .join("bin")
        .join("python")
}

/// A running `oracle.py serve`. Dropping it closes its input, which ends it.
pub struct Oracle {
    child: Child,
    input: Option<ChildStdin>,
    output: BufReader<ChildStdout>,
}

impl Oracle {
    /// Starts the oracle with the project's virtualenv (see [`venv_python`]).
    pub fn spawn() -> Result<Self, OracleError> {
        Self::spawn_with(venv_python())
    }

    /// Starts the oracle with the interpreter `python`.
    pub fn spawn_with(python: PathBuf) -> Result<Self, OracleError> {
        if !python.exists() {
            return Err(OracleError::VenvMissing { python });
        }
        let script = oracle_script();
        let mut child = Command::new(&python)
            .arg(&script)
            .arg("serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| OracleError::Spawn {
                python: python.clone(),
                script: script.clone(),
                source,
            })?;
        let input = child.stdin.take().expect("stdin is piped");
        let output = BufReader::new(child.stdout.take().expect("stdout is piped"));
        Ok(Oracle {
            child,
            input: Some(input),
            output,
        })
    }

    /// Sends one request and waits for Python's response.
    pub fn execute(&mut self, request: &Request) -> Result<Response, OracleError> {
        let input = self.input.as_mut().ok_or(OracleError::Ended)?;
        writeln!(input, "{}", serve::request_line(request))?;
        input.flush()?;
        let mut line = String::new();
        if self.output.read_line(&mut line)? == 0 {
            return Err(OracleError::Ended);
        }
        Ok(serve::parse_answer(request.kind(), &line)?)
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        drop(self.input.take());
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_virtualenv_defaults_to_the_repository_one() {
        assert_eq!(python_in(None), repo_root().join(".venv/bin/python"));
        assert_eq!(
            python_in(Some(PathBuf::from("/opt/venv"))),
            PathBuf::from("/opt/venv/bin/python")
        );
    }

    #[test]
    fn a_missing_virtualenv_is_reported_with_the_setup_command() {
        let Err(error) = Oracle::spawn_with(PathBuf::from("/nonexistent/venv/bin/python")) else {
            panic!("an oracle started without an interpreter");
        };
        let message = error.to_string();
        assert!(message.contains("/nonexistent/venv/bin/python"), "{message}");
        assert!(message.contains("bash scripts/setup-venv.sh"), "{message}");
    }

    #[test]
    fn the_shipped_files_are_where_the_tests_look() {
        assert!(oracle_script().is_file());
        assert!(vectors_file().is_file());
    }
}
