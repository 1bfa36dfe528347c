//! Fuzz target `parse_event`: see `returns_aggregator_fuzz::targets::event`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returns_aggregator_fuzz::targets::event(data));
