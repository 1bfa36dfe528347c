//! `conformance-serve`: our executors behind the oracle's serve protocol, for tools that compare SDKs.
//!
//! Reads one JSON request per line on stdin (`{"orchestratorRequest": "<base64>"}`, `{"entityRequestV2": ...}`,
//! `{"entityBatchRequest": ...}` or `{"activityRequest": ...}`) and writes one JSON answer per line on stdout
//! (`{"response": "<base64>"}`, or `{"error": "<message>"}` for a malformed line), until end of input.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use durabletask_sdk::Registry;

fn main() -> ExitCode {
    let mut registry = Registry::new();
    durabletask_conformance::register(&mut registry);
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                eprintln!("conformance-serve: cannot read stdin: {error}");
                return ExitCode::FAILURE;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let answer = durabletask_conformance::serve::answer_line(&registry, &line);
        if writeln!(stdout, "{answer}").and_then(|()| stdout.flush()).is_err() {
            // The reader went away: nothing left to answer.
            return ExitCode::SUCCESS;
        }
    }
    ExitCode::SUCCESS
}
