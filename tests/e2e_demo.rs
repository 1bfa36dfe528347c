//! The demo on a message file other than the sample (`tests/fixtures/demo/three_returns.jsonl`): `scripts/demo.sh`
//! with the debug builds of the handler and local-host (`cargo build --workspace --bins`, which `scripts/test.sh`
//! runs first) finishes by itself, waits for the stuck-return check it has to, and prints what was published.

use std::path::{Path, PathBuf};
use std::process::Command;

fn local_host_binary(handler: &Path) -> PathBuf {
    let binary = handler.with_file_name(format!("local-host{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: build it with `cargo build -p local-host --bin local-host` (scripts/test.sh builds every \
         binary before the tests)",
        binary.display()
    );
    binary
}

#[test]
fn the_demo_runs_any_message_file_to_the_end() {
    let root = test_support::workspace_root();
    let handler = PathBuf::from(env!("CARGO_BIN_EXE_handler"));
    let out = root.join("target/e2e/demo");
    let output = Command::new("bash")
        .arg(root.join("scripts/demo.sh"))
        .arg("tests/fixtures/demo/three_returns.jsonl")
        .env("HANDLER_BIN", &handler)
        .env("LOCAL_HOST_BIN", local_host_binary(&handler))
        .env("DEMO_STUCK_AFTER", "3s")
        .env("DEMO_OUT", &out)
        .env("DEMO_TIMELINE", "RET-2025-900001")
        .current_dir(&root)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "exit {:?}\n{stdout}\n{stderr}", output.status);
    for expected in [
        "== 1 consolidated notifications",
        "RET-2025-900001  order ORD-68625207",
        "== 1 stuck-return alerts",
        "RET-2025-900003",
        "== 1 invalid events kept",
        "problems: 0",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing:\n{stdout}");
    }
    // The settled return's timeline, from the spans the handler exported: its messages in, the entity's
    // operations, the orchestration and the publishing activity, in the order they started.
    let timeline = stdout
        .split_once("timeline of RET-2025-900001 (")
        .unwrap_or_else(|| panic!("no timeline:\n{stdout}"))
        .1;
    let mut at = 0;
    for step in [
        " ServiceBusTrigger process",
        " signal_entity:entityfunction:apply",
        " entity:entityfunction:apply",
        " orchestration:Orchestrator",
        " activity:PublishNotification",
    ] {
        let found = timeline[at..]
            .find(step)
            .unwrap_or_else(|| panic!("{step:?} missing after the previous steps:\n{timeline}"));
        at += found + step.len();
    }
    assert!(!timeline.contains("ERROR"), "{timeline}");
    // The run says what it waits for, and never compares a foreign file with the sample's expectations.
    assert!(stderr.contains("waiting for"), "{stderr}");
    assert!(!stdout.contains("compared with samples/expected.json"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_host_status_prints_what_return_status_answers() {
    let root = test_support::workspace_root();
    let handler = PathBuf::from(env!("CARGO_BIN_EXE_handler"));
    let local_host = local_host_binary(&handler);
    // An engine that outlives the run, as `local-host engine` gives one.
    let engine = test_support::engine::LocalEngine::start().await;
    let out = root.join("target/e2e/status");
    std::fs::create_dir_all(&out).unwrap();
    let run = Command::new(&local_host)
        .args(["run", "--app-root", ".", "--quiet", "--engine", &engine.url()])
        .arg("--handler")
        .arg(&handler)
        .args(["--messages", "samples/scenarios/single_return.jsonl"])
        .arg("--handler-log")
        .arg(out.join("handler.log"))
        .args(["--set", "STUCK_RETURN_AFTER=1h"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));

    let status = |id: &str| {
        Command::new(&local_host)
            .args(["status", id, "--app-root", ".", "--engine", &engine.url()])
            .arg("--handler")
            .arg(&handler)
            .current_dir(&root)
            .output()
            .unwrap()
    };
    let settled = status("RET-2025-900001");
    let stdout = String::from_utf8_lossy(&settled.stdout);
    assert!(
        settled.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&settled.stderr)
    );
    assert!(stdout.contains("/api/returns/RET-2025-900001 -> HTTP 200"), "{stdout}");
    // The endpoint's answer, printed as it came (pretty JSON): its shape is the app's.
    let body: serde_json::Value = serde_json::from_str(stdout.split_once('\n').unwrap().1).unwrap();
    assert!(body.to_string().contains("\"RET-2025-900001\""), "{body}");

    let unknown = status("RET-2025-999999");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stdout).contains("-> HTTP 404"));
}
