//! Orchestration versioning in the executors: the instance's version read from `executionStarted`, branching on
//! it over recorded histories, the default version of sub-orchestrations and of orchestrations entities start.

use std::time::Duration;

use durabletask_sdk::entity::execute_entity_batch;
use durabletask_sdk::orchestration::{RetryPolicy, VersionFailureStrategy, VersionMatchStrategy, VersioningOptions};
use durabletask_sdk::proto::{self, HistoryEvent};
use durabletask_sdk::testing::history::*;
use durabletask_sdk::testing::{canned, entity, replay, EntityResultView, ResponseView};
use durabletask_sdk::{EntityContext, Error, OrchestrationContext, Registry};

const ID: &str = "order-1";

/// Version 1 published at once; version 2.0 audits first. The guard keeps instances of version 1 on their path.
async fn publish(ctx: OrchestrationContext, message: String) -> Result<String, Error> {
    if ctx.compare_version("2.0").is_ge() {
        ctx.call_activity::<()>("Audit", &message).await?;
    }
    Ok(ctx.call_activity("Publish", &message).await?)
}

/// The same change made without a guard.
async fn publish_unguarded(ctx: OrchestrationContext, message: String) -> Result<String, Error> {
    ctx.call_activity::<()>("Audit", &message).await?;
    Ok(ctx.call_activity("Publish", &message).await?)
}

async fn report_version(ctx: OrchestrationContext, _: ()) -> Result<Option<String>, Error> {
    Ok(ctx.version())
}

async fn parent(ctx: OrchestrationContext, explicit: Option<String>) -> Result<(), Error> {
    let child = ctx.call_sub_orchestrator::<()>("Child", &(), Some("child-1"));
    match explicit {
        Some(version) => child.with_version(version).await?,
        None => child.await?,
    }
    Ok(())
}

async fn retried_parent(ctx: OrchestrationContext, _: ()) -> Result<(), Error> {
    let policy = RetryPolicy::new(2, Duration::from_secs(5));
    ctx.call_sub_orchestrator::<()>("Child", &(), Some("child-1"))
        .with_version("3.0")
        .with_retry(policy)
        .await?;
    Ok(())
}

fn registry_with(versioning: Option<VersioningOptions>) -> Registry {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Publish", publish)
        .and_then(|r| r.add_orchestrator("ReportVersion", report_version))
        .and_then(|r| r.add_orchestrator("Parent", parent))
        .and_then(|r| r.add_orchestrator("RetriedParent", retried_parent))
        .expect("valid registrations");
    if let Some(options) = versioning {
        registry.set_versioning(options);
    }
    registry
}

fn started(name: &str, input: &str, version: Option<&str>) -> Vec<HistoryEvent> {
    let started = match version {
        Some(version) => execution_started_with_version(name, ID, Some(input), version),
        None => execution_started(name, ID, Some(input)),
    };
    vec![orchestrator_started(canned::t0()), started]
}

/// The history version 1 of `Publish` recorded: published, then completed.
fn recorded_v1_history() -> Vec<HistoryEvent> {
    let mut past = started("Publish", "\"hello\"", None);
    past.extend([
        task_scheduled(1, "Publish", Some("\"hello\"")),
        orchestrator_completed(),
        orchestrator_started(canned::t0()),
    ]);
    past
}

#[test]
fn the_version_comes_from_execution_started() {
    let registry = registry_with(None);
    let versioned = replay(&registry, ID, vec![], started("ReportVersion", "null", Some("1.4")));
    assert_eq!(ResponseView::new(&versioned).result(), Some("\"1.4\""));
    let unversioned = replay(&registry, ID, vec![], started("ReportVersion", "null", None));
    let view = ResponseView::new(&unversioned);
    assert_eq!(view.status(), Some(proto::OrchestrationStatus::Completed));
    assert_eq!(view.result(), None, "no version: a null result");
}

#[test]
fn a_guarded_change_replays_old_histories_and_takes_the_new_path_for_new_instances() {
    let registry = registry_with(None);
    // An instance of version 1 (no version) in flight: its recorded step replays, and its result completes it.
    let finished = replay(
        &registry,
        ID,
        recorded_v1_history(),
        vec![task_completed(1, Some("\"sent\""))],
    );
    assert_eq!(ResponseView::new(&finished).result(), Some("\"sent\""));
    // A new instance of version 2.0 audits first.
    let new = replay(&registry, ID, vec![], started("Publish", "\"hello\"", Some("2.0")));
    assert_eq!(ResponseView::new(&new).scheduled_activities(), [(1, "Audit")]);
    // Older and newer versions compare by number: 1.9 keeps the old path, 2.10 takes the new one.
    let older = replay(&registry, ID, vec![], started("Publish", "\"hello\"", Some("1.9")));
    assert_eq!(ResponseView::new(&older).scheduled_activities(), [(1, "Publish")]);
    let newer = replay(&registry, ID, vec![], started("Publish", "\"hello\"", Some("2.10")));
    assert_eq!(ResponseView::new(&newer).scheduled_activities(), [(1, "Audit")]);
}

#[test]
fn the_same_change_without_a_guard_breaks_the_old_history() {
    let mut registry = Registry::new();
    registry.add_orchestrator("Publish", publish_unguarded).unwrap();
    let broken = replay(
        &registry,
        ID,
        recorded_v1_history(),
        vec![task_completed(1, Some("\"sent\""))],
    );
    let view = ResponseView::new(&broken);
    assert_eq!(view.status(), Some(proto::OrchestrationStatus::Failed));
    let failure = view.failure().expect("failure details");
    assert!(
        failure
            .error_message
            .contains("history records activity 'Publish' at sequence number 1, but the orchestrator now schedules activity 'Audit'"),
        "{}",
        failure.error_message
    );
}

#[test]
fn sub_orchestrations_get_the_default_version_unless_the_call_names_one() {
    let registry = registry_with(Some(VersioningOptions::new("2.0")));
    let by_default = replay(&registry, ID, vec![], started("Parent", "null", Some("1.0")));
    let subs = ResponseView::new(&by_default).sub_orchestrations();
    assert_eq!(subs[0].1.version.as_deref(), Some("2.0"));

    let explicit = replay(&registry, ID, vec![], started("Parent", "\"1.5\"", Some("1.0")));
    let subs = ResponseView::new(&explicit).sub_orchestrations();
    assert_eq!(subs[0].1.version.as_deref(), Some("1.5"));

    let unversioned = replay(&registry_with(None), ID, vec![], started("Parent", "null", None));
    let subs = ResponseView::new(&unversioned).sub_orchestrations();
    assert_eq!(subs[0].1.version, None);
}

#[test]
fn a_retried_sub_orchestration_keeps_its_version() {
    let registry = registry_with(Some(VersioningOptions::new("2.0")));
    let mut past = started("RetriedParent", "null", None);
    past.extend([
        sub_orchestration_created(1, "Child", "child-1"),
        orchestrator_completed(),
        orchestrator_started(canned::t0()),
        sub_orchestration_failed(1, "Boom", "the child failed"),
    ]);
    let fired_at = canned::t0() + chrono::Duration::seconds(5);
    past.extend([timer_created(2, fired_at), orchestrator_completed()]);
    let new = vec![orchestrator_started(fired_at), timer_fired(2, fired_at)];
    let retry = replay(&registry, ID, past, new);
    let subs = ResponseView::new(&retry).sub_orchestrations();
    assert_eq!(subs.len(), 1, "{retry:?}");
    assert_eq!(subs[0].0, 3);
    assert_eq!(subs[0].1.version.as_deref(), Some("3.0"));
}

fn starter(ctx: &mut EntityContext) -> Result<(), Error> {
    ctx.start_new_orchestration("Publish", "hello", Some("publish-1"))?;
    Ok(())
}

#[test]
fn orchestrations_an_entity_starts_get_the_default_version() {
    let mut registry = Registry::new();
    registry.add_entity("starter", starter).unwrap();
    let request = entity::batch(
        "@starter@a",
        None,
        vec![entity::operation("go", "3f0e2b1c-0000-4000-8000-000000000001", None)],
    );
    let unversioned = execute_entity_batch(&registry, &request, canned::t0());
    assert_eq!(
        EntityResultView::new(&unversioned).started_orchestrations()[0].version,
        None
    );

    registry.set_versioning(VersioningOptions::new("2.0").with_default_version("2.1"));
    let versioned = execute_entity_batch(&registry, &request, canned::t0());
    let started = EntityResultView::new(&versioned).started_orchestrations();
    assert_eq!(started[0].version.as_deref(), Some("2.1"));
}

#[test]
fn a_request_names_its_instance_version_and_the_options_decide() {
    let options = VersioningOptions::new("2.0")
        .with_match_strategy(VersionMatchStrategy::CurrentOrOlder)
        .with_failure_strategy(VersionFailureStrategy::Fail);
    let request = |version| proto::OrchestratorRequest {
        instance_id: ID.into(),
        past_events: started("Publish", "\"hello\"", version),
        ..Default::default()
    };
    assert!(options.check_request(&request(Some("1.0"))).is_ok());
    assert!(options.check_request(&request(None)).is_ok());
    let mismatch = options.check_request(&request(Some("3.0"))).unwrap_err();
    let failed = mismatch.failed_response(&request(Some("3.0")));
    let view = ResponseView::new(&failed);
    assert_eq!(view.status(), Some(proto::OrchestrationStatus::Failed));
    let failure = view.failure().unwrap();
    assert_eq!(failure.error_type, "VersionMismatch");
    assert_eq!(
        failure.error_message,
        "The orchestration version '3.0' is greater than the worker version '2.0'."
    );
    assert!(failure.is_non_retriable);
    assert_eq!(failed.actions.len(), 1);
}
