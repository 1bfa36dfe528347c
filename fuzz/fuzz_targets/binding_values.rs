//! Fuzz target `binding_values`: see `returns_aggregator_fuzz::targets::binding_values`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returns_aggregator_fuzz::targets::binding_values(data));
