//! Handing memory back to the operating system after large invocations.
//!
//! With glibc's allocator (the `x86_64-unknown-linux-gnu` build) a process that served a few large invocations
//! keeps hundreds of MiB it no longer uses: freed large blocks stay in the allocator's arenas, and after the
//! first large block is freed glibc raises its threshold for serving allocations with their own mappings, so
//! later large blocks come from the arenas too. Measured (BENCHMARKS.md, "Memory per invocation"), a fixed
//! threshold plus a trim after each large invocation brings the idle handler back to its start-up size; a
//! different allocator (mimalloc) was tried and held far more. musl (the static deploy build) maps large blocks
//! and unmaps them on free by itself (measured too); there these functions do nothing.

/// Blocks at least this large get their own mapping, returned to the system as soon as they are freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const OWN_MAPPING_BYTES: usize = 1024 * 1024;

/// An invocation body at least this large is followed by a trim.
pub const TRIM_AFTER_BYTES: usize = 1024 * 1024;

/// Sets the allocator up for the handler's traffic: call once at start-up, before serving.
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation policy; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_MAPPING_BYTES as libc::c_int);
    }
}

/// Returns the allocator's free memory to the system (after an invocation of `body_bytes`, when it was large).
pub fn release_free_memory(body_bytes: usize) {
    if body_bytes < TRIM_AFTER_BYTES {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe (it takes each arena's lock) and frees nothing still in use.
    unsafe {
        libc::malloc_trim(0);
    }
}
