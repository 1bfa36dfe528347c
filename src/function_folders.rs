//! The function folders of the app (`<Name>/function.json`), generated from its declarations
//! ([`crate::function_app`]) so that the folders and the handler cannot drift apart:
//!
//! - `handler write-function-folders [DIR]` writes them (DIR defaults to the current directory, the app root);
//! - `handler write-function-folders --check [DIR]` writes nothing and fails, naming each folder, when the
//!   committed folders are not exactly the generated ones (CI runs it; so does `tests/function_folders.rs`);
//! - at start-up the handler refuses to serve folders whose bindings differ from what it serves
//!   (`FunctionApp::check_function_folders`, in `main`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use durabletask_sdk::functions::{generated_folder_differences, write_function_folders, FunctionAppError};

use crate::function_app::definitions;

/// Writes `<app_root>/<Name>/function.json` for every function of the app; returns the files written.
pub fn write(app_root: &Path) -> Result<Vec<PathBuf>, FunctionAppError> {
    write_function_folders(app_root, &definitions())
}

/// Every way the folders under `app_root` differ from the generated ones, one line each (empty: they are the
/// generated ones, byte for byte).
pub fn differences(app_root: &Path) -> Result<Vec<String>, FunctionAppError> {
    generated_folder_differences(app_root, &definitions())
}

/// `handler write-function-folders [--check] [DIR]`: 0 when written (or, with `--check`, up to date), 1 when they
/// differ or cannot be read or written, 2 for a bad command line.
pub fn command(args: &[String]) -> ExitCode {
    let mut check = false;
    let mut root: Option<PathBuf> = None;
    for arg in args {
        match arg.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!(
                    "handler write-function-folders [--check] [DIR]\n\n\
                     Writes DIR/<Name>/function.json (DIR: the app root, by default the current directory) for \
                     every function the handler serves.\nWith --check, writes nothing and exits 1 naming every \
                     folder that differs from the generated one."
                );
                return ExitCode::SUCCESS;
            }
            other if other.starts_with('-') || root.is_some() => {
                eprintln!("handler write-function-folders: unexpected argument '{other}' (see --help)");
                return ExitCode::from(2);
            }
            other => root = Some(PathBuf::from(other)),
        }
    }
    let root = root.unwrap_or_else(|| PathBuf::from("."));
    if check {
        match differences(&root) {
            Ok(problems) if problems.is_empty() => ExitCode::SUCCESS,
            Ok(problems) => {
                eprintln!(
                    "handler: the function folders in {} are not the generated ones (run `handler \
                     write-function-folders`):\n  - {}",
                    root.display(),
                    problems.join("\n  - ")
                );
                ExitCode::FAILURE
            }
            Err(error) => {
                eprintln!("handler: {error}");
                ExitCode::FAILURE
            }
        }
    } else {
        match write(&root) {
            Ok(written) => {
                for path in written {
                    println!("{}", path.display());
                }
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("handler: {error}");
                ExitCode::FAILURE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn temp_root() -> tempfile::TempDir {
        tempfile::tempdir().expect("a temporary folder")
    }

    #[test]
    fn written_folders_are_the_generated_ones() {
        let root = temp_root();
        let written = write(root.path()).unwrap();
        assert_eq!(written.len(), definitions().len());
        assert_eq!(differences(root.path()).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn missing_extra_and_mismatched_folders_are_all_named() {
        let root = temp_root();
        write(root.path()).unwrap();
        fs::remove_dir_all(root.path().join("PublishAlert")).unwrap();
        fs::create_dir_all(root.path().join("Extra")).unwrap();
        fs::copy(
            root.path().join("Orchestrator/function.json"),
            root.path().join("Extra/function.json"),
        )
        .unwrap();
        fs::write(
            root.path().join("PurgeTimer/function.json"),
            r#"{"bindings":[{"name":"timer","type":"httpTrigger","direction":"in"}]}"#,
        )
        .unwrap();
        let message = differences(root.path()).unwrap().join("\n");
        for needle in [
            "no PublishAlert/function.json",
            "Extra/function.json exists",
            "PurgeTimer/function.json: binding 'timer' has type httpTrigger in the folder, timerTrigger in the app",
        ] {
            assert!(message.contains(needle), "{needle} not in {message}");
        }
    }

    #[test]
    fn return_bindings_on_durable_triggers_are_refused() {
        let root = temp_root();
        write(root.path()).unwrap();
        fs::write(
            root.path().join("Orchestrator/function.json"),
            r#"{"bindings":[{"name":"context","type":"orchestrationTrigger","direction":"in"},{"name":"$return","type":"http","direction":"out"}]}"#,
        )
        .unwrap();
        let message = differences(root.path()).unwrap().join("\n");
        assert!(message.contains("$return"), "{message}");
    }

    #[test]
    fn a_reformatted_folder_is_named() {
        let root = temp_root();
        write(root.path()).unwrap();
        let path = root.path().join("Orchestrator/function.json");
        let compact: serde_json::Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        fs::write(&path, compact.to_string()).unwrap();
        let message = differences(root.path()).unwrap().join("\n");
        assert!(
            message.contains("Orchestrator/function.json has the right content but not the generated layout"),
            "{message}"
        );
    }

    #[test]
    fn malformed_function_json_names_the_file() {
        let root = temp_root();
        fs::create_dir_all(root.path().join("Broken")).unwrap();
        fs::write(root.path().join("Broken/function.json"), "{").unwrap();
        let message = differences(root.path()).unwrap_err().to_string();
        assert!(
            message.contains("Broken") && message.contains("function.json"),
            "{message}"
        );
    }
}
