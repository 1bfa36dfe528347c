//! Fuzz target `orchestrator_chain`: see `returns_aggregator_fuzz::targets::orchestrator_chain`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returns_aggregator_fuzz::targets::orchestrator_chain(data));
