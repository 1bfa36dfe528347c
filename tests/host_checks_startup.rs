//! The real handler binary refuses to start, naming the setting and its fix, when the host would run it with a
//! worker runtime other than `custom` or with an extension bundle range that admits too old a Durable extension;
//! and it gets past these checks with the repository's own host.json and local settings.

use std::path::Path;
use std::process::{Command, Output};

fn run_handler(app_root: &Path, settings: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_handler"));
    command
        .env_clear()
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", "1")
        .env("FUNCTIONS_APP_ROOT_PATH", app_root)
        .current_dir(app_root);
    for (name, value) in settings {
        command.env(name, value);
    }
    command.output().expect("the handler binary runs")
}

fn app_with_bundle(range: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("a temporary app root");
    let host = serde_json::json!({
        "version": "2.0",
        "extensionBundle": {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": range},
    });
    std::fs::write(root.path().join("host.json"), host.to_string()).expect("host.json written");
    root
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_worker_runtime_other_than_custom_stops_the_handler_with_the_fix() {
    let app = app_with_bundle("[4.26.0, 5.0.0)");
    let output = run_handler(app.path(), &[("FUNCTIONS_WORKER_RUNTIME", "python")]);
    assert!(!output.status.success());
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("handler: FUNCTIONS_WORKER_RUNTIME is \"python\", not \"custom\"")
            && stderr.contains("Fix: set the app setting FUNCTIONS_WORKER_RUNTIME=custom"),
        "{stderr}"
    );

    let output = run_handler(app.path(), &[]);
    assert!(!output.status.success());
    assert!(
        stderr_of(&output).contains("FUNCTIONS_WORKER_RUNTIME is not set"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn a_bundle_range_admitting_old_bundles_stops_the_handler_and_every_problem_is_named() {
    let app = app_with_bundle("[4.*, 5.0.0)");
    let output = run_handler(app.path(), &[("FUNCTIONS_WORKER_RUNTIME", "node")]);
    assert!(!output.status.success());
    let stderr = stderr_of(&output);
    assert!(stderr.contains("FUNCTIONS_WORKER_RUNTIME is \"node\""), "{stderr}");
    assert!(
        stderr.contains(
            "host.json extensionBundle.version = \"[4.*, 5.0.0)\" admits bundles older than 4.26.0 (from 4.0.0)"
        ) && stderr.contains("Fix: set it to \"[4.26.0, 5.0.0)\""),
        "{stderr}"
    );

    // The app setting that overrides host.json is what the host uses, so it is what the handler checks.
    let output = run_handler(
        app.path(),
        &[
            ("FUNCTIONS_WORKER_RUNTIME", "custom"),
            ("AzureFunctionsJobHost__extensionBundle__version", "[4.30.0, 5.0.0)"),
        ],
    );
    let stderr = stderr_of(&output);
    assert!(
        !stderr.contains("extensionBundle") && stderr.contains("function folders"),
        "the override admits no old bundle, so the handler went on to the function folders: {stderr}"
    );
}

#[test]
fn the_repository_app_passes_the_host_checks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // A copy of host.json without the function folders: the handler gets past the host checks and stops at the
    // next check, so the test never starts a server.
    let app = tempfile::tempdir().expect("a temporary app root");
    std::fs::copy(root.join("host.json"), app.path().join("host.json")).expect("host.json copied");
    let output = run_handler(app.path(), &[("FUNCTIONS_WORKER_RUNTIME", "custom")]);
    let stderr = stderr_of(&output);
    assert!(!output.status.success());
    assert!(
        !stderr.contains("FUNCTIONS_WORKER_RUNTIME") && !stderr.contains("extensionBundle"),
        "{stderr}"
    );
    assert!(
        stderr.contains("function folders"),
        "it stopped at the function folders check: {stderr}"
    );
}
