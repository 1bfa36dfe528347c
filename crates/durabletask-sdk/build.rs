//! Compiles `proto/orchestrator_service.proto` with protox (pure Rust, so no `protoc` is needed).

/// The `HistoryEvent.eventType` variants stored boxed.
const BOXED_HISTORY_EVENTS: &[&str] = &[
    "executionStarted",
    "executionCompleted",
    "taskScheduled",
    "taskFailed",
    "subOrchestrationInstanceCreated",
    "subOrchestrationInstanceFailed",
    "historyState",
    "entityOperationCalled",
    "entityOperationFailed",
    "executionRewound",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/orchestrator_service.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    // The descriptors themselves, for the protobuf JSON mapping of history events (`replay_check::history_json`).
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("orchestrator_service.fds"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    let mut builder = tonic_prost_build::configure();
    // A history is decoded event by event into a Vec, so the size of `HistoryEvent` (its largest variant) is
    // paid for every event. Boxing the large, rare variants shrinks it from 512 to about 160 bytes.
    for variant in BOXED_HISTORY_EVENTS {
        builder = builder.boxed(format!(".HistoryEvent.eventType.{variant}"));
    }
    // Default stubs (UNIMPLEMENTED) let a test server implement only the RPCs it plays.
    builder
        .build_server(true)
        .build_client(true)
        .generate_default_stubs(true)
        .compile_fds(descriptors)?;
    Ok(())
}
