//! # test-support: one home for what the workspace's tests share
//!
//! Dev-only (`publish = false`). Every suite that needs these uses them from here, not from a copy of its own:
//!
//! * [`engine`]: the local durable engine (`scripts/local_engine.py`, Microsoft's in-memory backend), started
//!   by local-host's own launcher, with a clear message naming what is missing when the Python virtualenv is
//!   absent;
//! * [`host`]: invocation bodies exactly as the Functions host and the Durable extension send them, built with
//!   local-host's encoders (independent of the SDK's decoders, so tests catch the SDK misreading the host), and
//!   views of the handler's durable answers;
//! * [`wait`]: waiting on conditions with a deadline, never on sleeps.
//!
//! ```no_run
//! # async fn demo() {
//! let engine = test_support::engine::LocalEngine::start().await;
//! let client = engine.client();
//! # let _ = client;
//! # }
//! ```

#![warn(missing_docs)]

pub mod engine;
pub mod host;
pub mod wait;

use std::path::PathBuf;

/// The workspace root: `host.json`, the function folders, `scripts/`, `samples/`, `tests/fixtures/`.
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(|crates| crates.parent())
        .map(PathBuf::from)
        .unwrap_or(manifest)
}
