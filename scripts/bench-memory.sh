#!/usr/bin/env bash
# Memory per invocation of the release handler (BENCHMARKS.md, "Memory per invocation"): builds the release
# binary, then runs the ignored `memory_figures` test (the driver, in the debug profile) against it, which starts a fresh handler per case, sends the
# case's Service Bus invocations (chunked, concurrently) and reads the peak and settled RSS from /proc.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin handler
HANDLER_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/handler" \
    cargo test --test handler_memory -- --ignored --nocapture --test-threads 1 memory_figures
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
