//! Writes the seed corpora (`fuzz/corpus/<target>/seed-*`) from real payloads:
//! - the host fixtures (`crates/durabletask-sdk/tests/fixtures/host/*.json`) and the app's host payloads written by
//!   `cargo bench --bench handler_payloads -- <dir>` (given as the argument);
//! - the Service Bus messages of `samples/` (subject, message id, body);
//! - orchestrator requests for the fuzz registry, built with `durabletask_sdk::testing::history`.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example seed_corpus -- [<payload-dir>]
//! ```

use std::path::{Path, PathBuf};

use durabletask_sdk::functions::InvokeRequest;
use durabletask_sdk::proto;
use durabletask_sdk::testing::history;
use prost::Message;
use serde_json::Value;

/// Where the seeds go, by target.
struct Corpus {
    root: PathBuf,
    written: usize,
}

impl Corpus {
    fn add(&mut self, target: &str, name: &str, bytes: &[u8]) {
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).expect("the corpus folder can be created");
        let file_name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        std::fs::write(dir.join(format!("seed-{file_name}")), bytes).expect("the seed can be written");
        self.written += 1;
    }
}

fn main() {
    let fuzz_root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo_root = fuzz_root.parent().expect("fuzz/ is inside the repository");
    let mut corpus = Corpus {
        root: fuzz_root.join("corpus"),
        written: 0,
    };
    let mut envelopes = json_files(&repo_root.join("crates/durabletask-sdk/tests/fixtures/host"));
    if let Some(payload_dir) = std::env::args().nth(1) {
        envelopes.extend(json_files(Path::new(&payload_dir)));
    }
    for (name, bytes) in &envelopes {
        seed_from_envelope(&mut corpus, name, bytes);
    }
    seed_events(&mut corpus, repo_root);
    seed_small_registry(&mut corpus);
    eprintln!("wrote {} seeds under {}", corpus.written, corpus.root.display());
}

fn json_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let name = path.file_stem().expect("a file name").to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("a readable fixture"))
        })
        .collect();
    files.sort();
    files
}

/// An invocation body seeds the envelope target; its values seed the value decoders; its durable payloads seed
/// the executor targets.
fn seed_from_envelope(corpus: &mut Corpus, name: &str, bytes: &[u8]) {
    corpus.add("envelope", name, bytes);
    let request = InvokeRequest::from_slice(bytes).expect("the fixtures are valid invocations");
    for (key, value) in request.data.iter().chain(request.metadata.iter()) {
        corpus.add("binding_values", &format!("{name}-{key}"), value.to_string().as_bytes());
    }
    for binding in request.data.keys() {
        if let Ok(work) = request.orchestrator_request(binding) {
            corpus.add("orchestrator_app", name, &work.encode_to_vec());
        } else if let Ok(batch) = request.entity_batch_request(binding) {
            corpus.add("entity_batch", name, &batch.encode_to_vec());
        }
    }
}

/// Service Bus messages as `subject NUL message-id NUL body`.
fn seed_events(corpus: &mut Corpus, repo_root: &Path) {
    let scenarios = repo_root.join("samples/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&scenarios)
        .expect("samples/scenarios exists")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    files.sort();
    files.push(repo_root.join("samples/messages.jsonl"));
    for file in files {
        let stem = file.file_stem().expect("a file name").to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).expect("a readable sample file");
        // The whole scenario files, and the first messages of the large one (its shapes repeat).
        for (index, line) in text.lines().filter(|line| !line.trim().is_empty()).take(60).enumerate() {
            let message: Value = serde_json::from_str(line).expect("one JSON message per line");
            let body = match &message["body"] {
                Value::String(raw) => raw.clone(),
                other => other.to_string(),
            };
            let mut seed = Vec::new();
            seed.extend_from_slice(message["subject"].as_str().unwrap_or_default().as_bytes());
            seed.push(0);
            seed.extend_from_slice(message["messageId"].as_str().unwrap_or_default().as_bytes());
            seed.push(0);
            seed.extend_from_slice(body.as_bytes());
            corpus.add("parse_event", &format!("{stem}-{index}"), &seed);
        }
    }
}

/// Episodes of the fuzz registry's orchestrators, as the engine would send them, and a few event scripts.
fn seed_small_registry(corpus: &mut Corpus) {
    let started = |name: &str, input: &str| {
        vec![
            history::orchestrator_started_now(),
            history::execution_started(name, "fuzz-instance", Some(input)),
        ]
    };
    let request = |past: Vec<proto::HistoryEvent>, new: Vec<proto::HistoryEvent>| proto::OrchestratorRequest {
        instance_id: "fuzz-instance".to_string(),
        past_events: past,
        new_events: new,
        ..Default::default()
    };
    let chain_first = request(vec![], started("chain", "3"));
    let chain_second = request(
        [
            started("chain", "3"),
            vec![
                history::task_scheduled(1, "echo", Some("0")),
                history::orchestrator_completed(),
            ],
        ]
        .concat(),
        vec![
            history::orchestrator_started_now(),
            history::task_completed(1, Some("0")),
        ],
    );
    let chain_last = request(
        [
            started("chain", "2"),
            vec![
                history::task_scheduled(1, "echo", Some("0")),
                history::orchestrator_completed(),
                history::orchestrator_started_now(),
                history::task_completed(1, Some("0")),
                history::task_scheduled(2, "echo", Some("1")),
                history::orchestrator_completed(),
            ],
        ]
        .concat(),
        vec![
            history::orchestrator_started_now(),
            history::task_completed(2, Some("1")),
        ],
    );
    let fan_out_done = request(
        [
            started("fan_out", "2"),
            vec![
                history::task_scheduled(1, "echo", Some("0")),
                history::task_scheduled(2, "echo", Some("1")),
                history::orchestrator_completed(),
            ],
        ]
        .concat(),
        vec![
            history::orchestrator_started_now(),
            history::task_completed(2, Some("1")),
            history::task_failed(1, "ValueError", "boom"),
        ],
    );
    let steps_first = request(vec![], started("steps", "{\"steps\":[0,1,2,3,4,5,6,7,8,9,10,11]}"));
    for (name, message) in [
        ("chain-first", chain_first),
        ("chain-second", chain_second),
        ("chain-last", chain_last),
        ("fan_out-done", fan_out_done),
        ("steps-first", steps_first),
    ] {
        corpus.add("orchestrator_chain", name, &message.encode_to_vec());
    }
    // Scripts (see fuzz/src/script.rs): header, input up to 0xFF, then (kind, argument) pairs.
    let scripts: [(&str, &[u8]); 5] = [
        (
            "chain-completed",
            &[0, 2, 0xFF, 1, 1, 17, 0, 0, 0, 2, 0x41, 1, 2, 2, 0x42],
        ),
        ("fan_out-failed", &[1, 3, 0xFF, 1, 1, 1, 2, 1, 3, 3, 1, 2, 0x82]),
        ("steps-timer", &[2, 1, 13, 0xFF, 4, 1, 5, 1, 0, 1]),
        ("steps-events", &[2, 2, 6, 0xFF, 6, 0, 1, 1, 5, 2, 6, 1]),
        ("steps-extreme-time", &[14, 11, 0, 0xFF, 0, 0x40, 1, 1, 2, 1]),
    ];
    for (name, script) in scripts {
        corpus.add("orchestrator_script", name, script);
    }
}
