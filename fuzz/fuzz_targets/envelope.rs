//! Fuzz target `envelope`: see `returns_aggregator_fuzz::targets::envelope`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| returns_aggregator_fuzz::targets::envelope(data));
