//! Fuzz target `entity_batch`: see `returns_aggregator_fuzz::targets::entity_batch`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returns_aggregator_fuzz::targets::entity_batch(data));
