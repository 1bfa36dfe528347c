//! `handler replay-check` as an operator runs it: the recorded corpus passes (exit 0); a history the build does
//! not replay is a break naming the instance and the step (exit 1); bad files, missing paths and unreachable
//! engines are clear errors (exit 2).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn replay_check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_handler"))
        .arg("replay-check")
        .args(args)
        .current_dir(repo())
        .env_remove("AzureFunctionsJobHost__extensions__durableTask__defaultVersion")
        .output()
        .expect("the handler runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch_file(dir: &Path, name: &str, content: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.display().to_string()
}

#[test]
fn the_recorded_corpus_replays() {
    let output = replay_check(&["tests/histories"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{}", text(&output.stderr));
    assert!(
        stdout
            .lines()
            .last()
            .unwrap()
            .ends_with(" ok, 0 broken, 0 left to other versions"),
        "{stdout}"
    );
    let all = text(&replay_check(&["--all", "tests/histories/corpus.jsonl"]).stdout);
    assert!(all.lines().any(|line| line.starts_with("ok returns-settled-")), "{all}");
}

#[test]
fn a_history_this_build_does_not_replay_is_a_break_naming_the_instance_and_the_step() {
    let corpus = std::fs::read_to_string(repo().join("tests/histories/corpus.jsonl")).unwrap();
    let first = corpus.lines().next().unwrap();
    let instance: serde_json::Value = serde_json::from_str(first).unwrap();
    let id = instance["instanceId"].as_str().unwrap().to_string();
    // As if an older build had called another activity first: this build decides otherwise at that step.
    let mut changed = instance.clone();
    let step = changed["history"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|event| event.get("taskScheduled").is_some())
        .expect("the history schedules an activity");
    let task_id = step["eventId"].as_i64().unwrap();
    let recorded = step["taskScheduled"]["name"].as_str().unwrap().to_string();
    step["taskScheduled"]["name"] = "LegacyAudit".into();
    let dir = tempfile::tempdir().unwrap();
    let file = scratch_file(dir.path(), "changed.jsonl", &format!("{changed}\n"));

    let output = replay_check(&[&file]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let line = stdout.lines().next().unwrap();
    assert!(
        line.starts_with(&format!("BREAK {id} (Orchestrator, version ")),
        "{line}"
    );
    assert!(
        line.ends_with(&format!(
            "non-deterministic at sequence number {task_id}: history records activity 'LegacyAudit', the code now \
             schedules activity '{recorded}'"
        )),
        "{line}"
    );
    assert!(
        stdout.ends_with("1 instances: 0 ok, 1 broken, 0 left to other versions\n"),
        "{stdout}"
    );
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let not_json = scratch_file(
        dir.path(),
        "bad.jsonl",
        "{\"instanceId\": \"a\", \"history\": []}\nnot json\n",
    );
    let management = scratch_file(
        dir.path(),
        "status.json",
        "{\"instanceId\": \"a\", \"runtimeStatus\": \"Completed\", \"historyEvents\": []}",
    );
    let empty_dir = tempfile::tempdir().unwrap();
    let empty_dir = empty_dir.path().display().to_string();
    let cases: [(Vec<&str>, String); 5] = [
        (vec![&not_json], format!("replay check: {not_json}: line 2: not JSON")),
        (
            vec![&management],
            format!("replay check: {management}: line 1: this is the Durable Functions HTTP management API"),
        ),
        (
            vec!["no/such/file.jsonl"],
            "replay check: cannot read no/such/file.jsonl".to_string(),
        ),
        (
            vec![&empty_dir],
            format!("replay check: {empty_dir} holds no history file (*.jsonl)"),
        ),
        (vec![], "replay check: nothing to check".to_string()),
    ];
    for (args, expected) in cases {
        let output = replay_check(&args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with(&expected), "{args:?}: {stderr}");
    }
}

#[test]
fn an_unreachable_engine_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let output = replay_check(&["--engine", &url]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "replay check: cannot read the histories of the engine at {url}: "
        )),
        "{stderr}"
    );
}

#[test]
fn bad_arguments_exit_with_2_and_help_with_0() {
    let unknown = replay_check(&["--frobnicate"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("--frobnicate"));
    let help = replay_check(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).contains("Exit status: 0 no instance breaks"));
}

#[test]
fn the_version_guard_is_what_keeps_the_1_0_histories_replaying() {
    // The 1.0 histories taken down the 2.0 path (as an unguarded change would take them): every instance breaks at
    // its report to the return, recorded as a signal, now a call.
    let corpus = std::fs::read_to_string(repo().join("tests/histories/corpus-1.0.jsonl")).unwrap();
    let as_2_0: String = corpus
        .lines()
        .map(|line| {
            let mut instance: serde_json::Value = serde_json::from_str(line).unwrap();
            for event in instance["history"].as_array_mut().unwrap() {
                if let Some(started) = event.get_mut("executionStarted") {
                    assert_eq!(started["version"], "1.0", "{started}");
                    started["version"] = "2.0".into();
                }
            }
            format!("{instance}\n")
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = scratch_file(dir.path(), "unguarded.jsonl", &as_2_0);

    let output = replay_check(&[&file]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let breaks: Vec<&str> = stdout.lines().filter(|line| line.starts_with("BREAK ")).collect();
    assert_eq!(breaks.len(), corpus.lines().count(), "{stdout}");
    for line in breaks {
        assert!(
            line.contains("non-deterministic at sequence number 2: history records entity signal '@entityfunction@")
                && line.contains("the code now schedules entity call '@entityfunction@"),
            "{line}"
        );
    }
}
