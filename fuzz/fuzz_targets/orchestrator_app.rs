//! Fuzz target `orchestrator_app`: see `returns_aggregator_fuzz::targets::orchestrator_app`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returns_aggregator_fuzz::targets::orchestrator_app(data));
