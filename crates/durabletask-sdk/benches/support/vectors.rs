//! The benchmark cases and the requests an engine sends for them.
//!
//! Histories are laid out as the Durable Task Framework records them: every episode starts with
//! `orchestratorStarted` and ends with `orchestratorCompleted`; the actions an episode decided are recorded
//! (`taskScheduled`, with the task's sequence number as event id) before its `orchestratorCompleted`; every
//! event carries a timestamp. The request is the one for the final episode: `pastEvents` hold everything
//! before it, `newEvents` the `orchestratorStarted` and completions that woke the orchestration up.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use durabletask_sdk::proto;
use durabletask_sdk::testing::history;
use prost::Message;

/// The instance id of every benchmark orchestration.
const INSTANCE_ID: &str = "bench-instance";
/// The entity every batch targets.
const ENTITY_ID: &str = "@counter@bench";

/// Which executor a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// An `OrchestratorRequest`.
    Orchestrator,
    /// A V1 `EntityBatchRequest`.
    EntityBatch,
}

impl RequestKind {
    fn label(self) -> &'static str {
        match self {
            RequestKind::Orchestrator => "orchestrator",
            RequestKind::EntityBatch => "entity_batch",
        }
    }
}

/// One benchmark case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// The last episode of `chain`: N activities called one after the other, all but the last one replayed.
    Chain(u32),
    /// The last episode of `fan_out`: N activities scheduled at once, all N completions new.
    FanOut(u32),
    /// A batch of N `add` operations on the `counter` entity.
    EntityBatch(u32),
}

impl Case {
    /// Every case, smallest first.
    pub const ALL: [Case; 6] = [
        Case::Chain(10),
        Case::Chain(100),
        Case::Chain(1_000),
        Case::Chain(10_000),
        Case::FanOut(1_000),
        Case::EntityBatch(1_000),
    ];

    /// The case's name, e.g. `chain_1000`.
    pub fn name(&self) -> String {
        match self {
            Case::Chain(n) => format!("chain_{n}"),
            Case::FanOut(n) => format!("fan_out_{n}"),
            Case::EntityBatch(n) => format!("entity_batch_{n}"),
        }
    }

    /// The file its request bytes are written to.
    pub fn file_name(&self) -> String {
        format!("{}.bin", self.name())
    }

    /// Which executor runs it.
    pub fn kind(&self) -> RequestKind {
        match self {
            Case::Chain(_) | Case::FanOut(_) => RequestKind::Orchestrator,
            Case::EntityBatch(_) => RequestKind::EntityBatch,
        }
    }

    /// What a correct run answers (see [`super::answer_of`]): every activity echoes its index and the
    /// orchestrations sum them; the entity adds each operation's index.
    pub fn expected_answer(&self) -> String {
        let sum_below = |n: u32| u64::from(n) * u64::from(n.saturating_sub(1)) / 2;
        match *self {
            Case::Chain(n) | Case::FanOut(n) => format!("output {}", sum_below(n)),
            Case::EntityBatch(n) => format!("state {} after {n} successful operations", sum_below(n)),
        }
    }

    /// The request bytes, as the engine sends them.
    pub fn request_bytes(&self) -> Vec<u8> {
        match *self {
            Case::Chain(n) => chain_request(n).encode_to_vec(),
            Case::FanOut(n) => fan_out_request(n).encode_to_vec(),
            Case::EntityBatch(n) => entity_batch_request(n).encode_to_vec(),
        }
    }
}

/// Writes every case's request bytes to `dir`, plus `manifest.json` naming the files, their kind and answer.
pub fn write_all(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut manifest = Vec::new();
    for case in Case::ALL {
        std::fs::write(dir.join(case.file_name()), case.request_bytes())?;
        manifest.push(serde_json::json!({
            "case": case.name(),
            "kind": case.kind().label(),
            "file": case.file_name(),
            "expected_answer": case.expected_answer(),
        }));
    }
    let mut file = std::fs::File::create(dir.join("manifest.json"))?;
    serde_json::to_writer_pretty(&mut file, &manifest)?;
    file.write_all(b"\n")
}

/// The time of episode `episode` (they are 10 ms apart).
fn episode_time(episode: u32) -> DateTime<Utc> {
    let start = DateTime::from_timestamp(1_704_067_200, 0).expect("a valid time");
    start + Duration::milliseconds(10 * i64::from(episode))
}

fn at(mut event: proto::HistoryEvent, time: DateTime<Utc>) -> proto::HistoryEvent {
    event.timestamp = Some(durabletask_sdk::time::to_timestamp(time));
    event
}

/// The first episode's opening: `orchestratorStarted`, `executionStarted` of `name` with input `n`.
fn execution_start(name: &str, n: u32) -> Vec<proto::HistoryEvent> {
    let time = episode_time(0);
    vec![
        at(history::orchestrator_started(time), time),
        at(
            history::execution_started(name, INSTANCE_ID, Some(&n.to_string())),
            time,
        ),
    ]
}

fn chain_request(n: u32) -> proto::OrchestratorRequest {
    assert!(n > 0, "a chain needs at least one activity");
    let mut past = execution_start("chain", n);
    let mut new = Vec::new();
    for index in 0..n {
        let task_id = i32::try_from(index + 1).expect("task ids fit in i32");
        let scheduled_at = episode_time(index);
        let input = index.to_string();
        past.push(at(history::task_scheduled(task_id, "echo", Some(&input)), scheduled_at));
        past.push(at(history::orchestrator_completed(), scheduled_at));
        let woken_at = episode_time(index + 1);
        let episode = [
            at(history::orchestrator_started(woken_at), woken_at),
            at(history::task_completed(task_id, Some(&input)), woken_at),
        ];
        if index + 1 == n {
            new.extend(episode);
        } else {
            past.extend(episode);
        }
    }
    orchestrator_request(past, new)
}

fn fan_out_request(n: u32) -> proto::OrchestratorRequest {
    let mut past = execution_start("fan_out", n);
    let scheduled_at = episode_time(0);
    let completed_at = episode_time(1);
    let mut new = vec![at(history::orchestrator_started(completed_at), completed_at)];
    for index in 0..n {
        let task_id = i32::try_from(index + 1).expect("task ids fit in i32");
        let input = index.to_string();
        past.push(at(history::task_scheduled(task_id, "echo", Some(&input)), scheduled_at));
        new.push(at(history::task_completed(task_id, Some(&input)), completed_at));
    }
    past.push(at(history::orchestrator_completed(), scheduled_at));
    orchestrator_request(past, new)
}

fn orchestrator_request(past: Vec<proto::HistoryEvent>, new: Vec<proto::HistoryEvent>) -> proto::OrchestratorRequest {
    proto::OrchestratorRequest {
        instance_id: INSTANCE_ID.to_string(),
        execution_id: Some("execution-1".to_string()),
        past_events: past,
        new_events: new,
        ..Default::default()
    }
}

fn entity_batch_request(n: u32) -> proto::EntityBatchRequest {
    proto::EntityBatchRequest {
        instance_id: ENTITY_ID.to_string(),
        entity_state: None,
        operations: (0..n)
            .map(|index| proto::OperationRequest {
                operation: "add".to_string(),
                request_id: format!("00000000-0000-4000-8000-{index:012x}"),
                input: Some(index.to_string()),
                trace_context: None,
            })
            .collect(),
        ..Default::default()
    }
}
