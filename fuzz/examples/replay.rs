//! Runs inputs through a fuzz target's code on the stable toolchain, without libFuzzer: to reproduce a finding,
//! to check a fix, or to replay a whole corpus as a regression test.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example replay -- <target> <file-or-dir>...
//! cargo run --manifest-path fuzz/Cargo.toml --example replay -- all    (every target on fuzz/corpus/<target>)
//! ```
//!
//! A failing input prints the check that failed and the file, and exits with status 1.

use std::path::{Path, PathBuf};
use std::time::Instant;

use returns_aggregator_fuzz::targets::{Target, TARGETS};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(target) = args.first() else {
        let names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
        eprintln!(
            "usage: replay <target|all> [<file-or-dir>...]; targets: {}",
            names.join(", ")
        );
        std::process::exit(2);
    };
    let corpus_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let selected: Vec<(&str, Target)> = TARGETS
        .iter()
        .copied()
        .filter(|(name, _)| target == "all" || name == target)
        .collect();
    if selected.is_empty() {
        eprintln!("unknown target {target}");
        std::process::exit(2);
    }
    for (name, run) in selected {
        let paths: Vec<PathBuf> = if args.len() > 1 {
            args[1..].iter().map(PathBuf::from).collect()
        } else {
            vec![corpus_root.join(name)]
        };
        let files = files_under(&paths);
        let started = Instant::now();
        for file in &files {
            let data = std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                eprintln!("{name}: FAILED on {}", file.display());
                std::process::exit(1);
            }
        }
        println!("{name}: {} inputs passed in {:.2?}", files.len(), started.elapsed());
    }
}

fn files_under(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.is_file())
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(path.clone());
        }
    }
    files
}
