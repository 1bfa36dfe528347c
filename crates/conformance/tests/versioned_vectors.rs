//! Conformance of orchestration versioning: the versioned golden vectors (`oracle/versioned_vectors.jsonl`,
//! recorded by `oracle.py record-versioned` from a Python worker with versioning options) replayed through our
//! executors with the same options. They cover `ctx.version()` for versioned, dotted, older and unversioned
//! instances, sub-orchestrations at the worker's default version and at an explicit one, and a newer instance
//! failed by `CurrentOrOlder` + `Fail`.

use std::collections::BTreeSet;

use durabletask_conformance::diff::first_difference;
use durabletask_conformance::oracle::versioned_vectors_file;
use durabletask_conformance::wire::{self, read_vectors, RequestKind, Vector};
use durabletask_sdk::proto::orchestrator_action::OrchestratorActionType as Action;
use durabletask_sdk::Registry;

const SCENARIOS: [&str; 5] = ["v_current", "v_older", "v_dotted", "v_unversioned", "v_newer"];

fn vectors() -> Vec<Vector> {
    read_vectors(&versioned_vectors_file()).unwrap_or_else(|error| panic!("cannot read the versioned vectors: {error}"))
}

fn registry_for(vector: &Vector) -> Registry {
    let mut registry = Registry::new();
    durabletask_conformance::register(&mut registry);
    let spec = vector
        .versioning
        .as_ref()
        .expect("every versioned vector names its worker options");
    registry.set_versioning(spec.to_options().expect("known strategies"));
    registry
}

#[test]
fn every_versioned_response_is_reproduced_by_our_executors() {
    let vectors = vectors();
    let mismatches: Vec<String> = vectors
        .iter()
        .enumerate()
        .filter_map(|(index, vector)| {
            let ours = wire::execute(&registry_for(vector), &vector.request).normalized();
            first_difference(&vector.response.normalized(), &ours)
                .map(|difference| format!("vector {} ({}):\n{difference}", index + 1, vector.scenario))
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {} versioned vectors differ from the Python worker:\n\n{}",
        mismatches.len(),
        vectors.len(),
        mismatches.join("\n\n")
    );
}

#[test]
fn the_recording_covers_every_versioned_scenario_and_a_version_failure() {
    let vectors = vectors();
    let recorded: BTreeSet<&str> = vectors.iter().map(|vector| vector.scenario.as_str()).collect();
    for scenario in SCENARIOS {
        assert!(recorded.contains(scenario), "scenario {scenario} was not recorded");
    }
    let failed = vectors
        .iter()
        .filter(|vector| vector.scenario == "v_newer" && vector.request.kind() == RequestKind::Orchestrator)
        .filter_map(|vector| vector.response.as_orchestrator())
        .flat_map(|response| &response.actions)
        .find_map(|action| match &action.orchestrator_action_type {
            Some(Action::CompleteOrchestration(complete)) => complete.failure_details.as_ref(),
            _ => None,
        })
        .expect("the newer instance was failed by the worker");
    assert_eq!(failed.error_type, "VersionMismatch");
}

#[test]
fn without_the_options_the_newer_instance_would_run() {
    // Guards the first test: the version check, not the orchestrator, fails the newer instance.
    let vector = vectors()
        .into_iter()
        .find(|vector| vector.scenario == "v_newer" && vector.request.kind() == RequestKind::Orchestrator)
        .expect("the newer instance was recorded");
    let mut unversioned = Registry::new();
    durabletask_conformance::register(&mut unversioned);
    let ours = wire::execute(&unversioned, &vector.request).normalized();
    assert!(first_difference(&vector.response.normalized(), &ours).is_some());
}
