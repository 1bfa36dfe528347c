//! Writes the exact host payloads of `benches/payloads` to a folder, for the load test (`scripts/bench-handler.sh`)
//! and the Python comparison (`scripts/bench_python_handler.py`).
//!
//! ```text
//! cargo bench --bench handler_payloads -- <dir> [--rpc-base-url http://127.0.0.1:<port>]
//! ```
//!
//! Writes `<dir>/<name>.json` (the request body) per payload and `<dir>/manifest.tsv` (`name`, `function`,
//! `description`, one line per payload). The valid Service Bus message is written only with `--rpc-base-url`.

mod payloads;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    // `cargo bench` passes `--bench` to harness-less targets: it is not ours.
    let mut args = std::env::args().skip(1).filter(|arg| arg != "--bench");
    let mut dir: Option<PathBuf> = None;
    let mut rpc_base_url: Option<String> = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rpc-base-url" => rpc_base_url = args.next(),
            _ if dir.is_none() && !arg.starts_with('-') => dir = Some(PathBuf::from(arg)),
            _ => {
                eprintln!("usage: handler_payloads <dir> [--rpc-base-url URL] (unexpected argument {arg:?})");
                return ExitCode::from(2);
            }
        }
    }
    let Some(dir) = dir else {
        eprintln!("usage: handler_payloads <dir> [--rpc-base-url URL]");
        return ExitCode::from(2);
    };
    match write_all(&dir, rpc_base_url.as_deref()) {
        Ok(count) => {
            eprintln!("wrote {count} payloads to {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cannot write the payloads to {}: {error}", dir.display());
            ExitCode::FAILURE
        }
    }
}

fn write_all(dir: &Path, rpc_base_url: Option<&str>) -> std::io::Result<usize> {
    let repo_root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let payloads = payloads::all(repo_root, rpc_base_url);
    std::fs::create_dir_all(dir)?;
    let mut manifest = String::new();
    for payload in &payloads {
        std::fs::write(dir.join(format!("{}.json", payload.name)), &payload.body)?;
        manifest.push_str(&format!(
            "{}\t{}\t{}\n",
            payload.name, payload.function, payload.description
        ));
    }
    std::fs::write(dir.join("manifest.tsv"), manifest)?;
    Ok(payloads.len())
}
