//! Shared by the live differential tests: one Python oracle per test binary, and the comparison helpers.

#![allow(dead_code)] // each test binary uses its own subset

pub mod engine;
pub mod program;
pub mod rng;

use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use durabletask_conformance::oracle::Oracle;
use durabletask_conformance::wire::{self, Request, Response};
use durabletask_sdk::Registry;

/// The oracle process of this test binary, started on first use. Panics with the setup instructions when the
/// virtualenv is missing, so the tests fail rather than skip.
pub fn oracle() -> MutexGuard<'static, Oracle> {
    static ORACLE: OnceLock<Mutex<Oracle>> = OnceLock::new();
    ORACLE
        .get_or_init(|| Mutex::new(Oracle::spawn().unwrap_or_else(|error| panic!("{error}"))))
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// A registry with the conformance registrations.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    durabletask_conformance::register(&mut registry);
    registry
}

/// Python's and our response to the same request.
pub fn both(registry: &Registry, request: &Request) -> (Response, Response) {
    let python = oracle()
        .execute(request)
        .unwrap_or_else(|error| panic!("the oracle could not answer: {error}"));
    (python, wire::execute(registry, request))
}
