//! Fuzz target `orchestrator_script`: see `returns_aggregator_fuzz::targets::orchestrator_script`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returns_aggregator_fuzz::targets::orchestrator_script(data));
