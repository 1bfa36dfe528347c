//! The allocator, and handing memory back to the operating system after large invocations.
//!
//! With glibc's allocator (the `x86_64-unknown-linux-gnu` build) a process that served a few large invocations
//! keeps hundreds of MiB it no longer uses: freed large blocks stay in the allocator's arenas, and after the
//! first large block is freed glibc raises its threshold for serving allocations with their own mappings, so
//! later large blocks come from the arenas too. Measured (BENCHMARKS.md, "Memory per invocation"), a fixed
//! threshold plus a trim after each large invocation brings the idle handler back to its start-up size.
//!
//! The statically linked musl build (the one deployed) allocates through mimalloc instead of musl's own
//! allocator, which mapped and unmapped memory several times per invocation and made threads wait on its one
//! lock: the handler served 8× fewer invocations a second on loopback than the glibc build (BENCHMARKS.md,
//! "Handler throughput"). After a large invocation mimalloc is asked to return what it freed. It is built without
//! transparent huge pages (`.cargo/config.toml`): it commits memory in large aligned chunks, and with THP the
//! first touch of each made 2 MiB resident (11.6 MiB idle instead of 6.1 MiB).

/// The allocator of the musl build.
#[cfg(target_env = "musl")]
#[global_allocator]
static MIMALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    #[cfg(target_env = "musl")]
    // SAFETY: mi_option_set only changes a mimalloc setting, which it reads each time it frees memory.
    unsafe {
        // Return freed memory to the system at once: by default mimalloc waits 10 ms and then only purges when
        // it is called again, so an idle handler kept what a large invocation had used (380 MiB after a refused
        // 250 MiB body; 8 MiB with this). Measured on loopback, it costs no throughput.
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

/// mimalloc's `mi_option_purge_delay` (in milliseconds; libmimalloc-sys names only some options).
#[cfg(target_env = "musl")]
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

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
    #[cfg(target_env = "musl")]
    // SAFETY: mi_collect only returns free memory (of this thread's heap and the shared segments) to the system.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}
