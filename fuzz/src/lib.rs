//! Shared pieces of the fuzz targets: the registries the executors run against, the checks every answer must
//! pass ("a clear error every time"), and the decoders that turn fuzzer bytes into structured inputs.
//!
//! Every target follows one rule: whatever the bytes, the code under test returns (no panic, no hang, no
//! unbounded allocation), and when it refuses the input it says why in a non-empty message.

pub mod checks;
pub mod registries;
pub mod script;
pub mod targets;

/// Splits `data` at the first `count` NUL bytes: `count + 1` parts at most, the last one holding the rest.
/// Parts that are not UTF-8 are read lossily, as a host would never send them but a fuzzer will.
pub fn split_nul(data: &[u8], count: usize) -> Vec<&[u8]> {
    data.splitn(count + 1, |byte| *byte == 0).collect()
}
