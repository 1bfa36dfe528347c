//! The replay check: recorded histories replayed through changed code, judged instance by instance.

use durabletask_sdk::orchestration::{VersionFailureStrategy, VersionMatchStrategy, VersioningOptions};
use durabletask_sdk::proto::{self, HistoryEvent};
use durabletask_sdk::replay_check::{check_histories, check_history, InstanceHistory, Verdict};
use durabletask_sdk::testing::canned;
use durabletask_sdk::testing::history::*;
use durabletask_sdk::{Error, OrchestrationContext, Registry};
use serde::Deserialize;

const ID: &str = "returns-settled-RET-1";

/// Version 1 of the notification orchestrator: publish, then report.
async fn notify_v1(ctx: OrchestrationContext, message: String) -> Result<String, Error> {
    let receipt: String = ctx.call_activity("Publish", &message).await?;
    ctx.call_activity::<()>("Report", &receipt).await?;
    Ok(receipt)
}

/// An incompatible change: an extra activity before publishing.
async fn notify_audit_first(ctx: OrchestrationContext, message: String) -> Result<String, Error> {
    ctx.call_activity::<()>("Audit", &message).await?;
    notify_v1(ctx, message).await
}

/// The same change, guarded by the instance's version.
async fn notify_guarded(ctx: OrchestrationContext, message: String) -> Result<String, Error> {
    if ctx.compare_version("2.0").is_ge() {
        ctx.call_activity::<()>("Audit", &message).await?;
    }
    notify_v1(ctx, message).await
}

/// A change after the recorded end: one more step once reported.
async fn notify_then_archive(ctx: OrchestrationContext, message: String) -> Result<String, Error> {
    let receipt = notify_v1(ctx.clone(), message).await?;
    ctx.call_activity::<()>("Archive", &receipt).await?;
    Ok(receipt)
}

/// A step removed: no report any more.
async fn notify_without_report(ctx: OrchestrationContext, message: String) -> Result<String, Error> {
    Ok(ctx.call_activity("Publish", &message).await?)
}

/// The input type changed: the recorded input no longer reads.
#[derive(Deserialize)]
struct Structured {
    #[allow(dead_code)]
    text: String,
}

async fn notify_structured(ctx: OrchestrationContext, message: Structured) -> Result<String, Error> {
    Ok(ctx.call_activity("Publish", &message.text).await?)
}

fn registry_of<F, Fut, I>(orchestrator: F) -> Registry
where
    F: Fn(OrchestrationContext, I) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<String, Error>> + 'static,
    I: serde::de::DeserializeOwned + 'static,
{
    let mut registry = Registry::new();
    registry.add_orchestrator("Notify", orchestrator).unwrap();
    registry
}

fn started(version: Option<&str>) -> Vec<HistoryEvent> {
    let started = match version {
        Some(version) => execution_started_with_version("Notify", ID, Some("\"hello\""), version),
        None => execution_started("Notify", ID, Some("\"hello\"")),
    };
    vec![orchestrator_started(canned::t0()), started]
}

fn episode(events: impl IntoIterator<Item = HistoryEvent>) -> Vec<HistoryEvent> {
    let mut all = vec![orchestrator_started(canned::t0())];
    all.extend(events);
    all.push(orchestrator_completed());
    all
}

/// Version 1 in flight: published, waiting for the report.
fn in_flight(version: Option<&str>) -> Vec<HistoryEvent> {
    let mut events = started(version);
    events.extend([
        task_scheduled(1, "Publish", Some("\"hello\"")),
        orchestrator_completed(),
    ]);
    events.extend(episode([
        task_completed(1, Some("\"receipt-1\"")),
        task_scheduled(2, "Report", Some("\"receipt-1\"")),
    ]));
    events
}

/// Version 1 finished.
fn completed(version: Option<&str>) -> Vec<HistoryEvent> {
    let mut events = in_flight(version);
    events.extend(episode([
        task_completed(2, None),
        execution_completed(proto::OrchestrationStatus::Completed, Some("\"receipt-1\"")),
    ]));
    events
}

fn history(events: Vec<HistoryEvent>) -> InstanceHistory {
    InstanceHistory::new(ID, events)
}

#[test]
fn unchanged_code_replays_in_flight_and_finished_instances() {
    let registry = registry_of(notify_v1);
    for events in [started(None), in_flight(None), completed(None)] {
        let report = check_history(&registry, &history(events));
        assert_eq!(report.verdict, Verdict::Ok, "{report}");
    }
    let report = check_history(&registry, &history(completed(None)));
    assert_eq!(
        report.to_string(),
        format!(
            "ok {ID} (Notify, no version): {} events replayed",
            completed(None).len()
        )
    );
}

#[test]
fn an_extra_activity_before_publishing_is_caught_naming_the_instance_and_the_step() {
    let registry = registry_of(notify_audit_first);
    for events in [in_flight(None), completed(None)] {
        let report = check_history(&registry, &history(events));
        assert!(report.is_break(), "{report}");
        let Verdict::Nondeterministic(step) = &report.verdict else {
            panic!("{report}")
        };
        assert_eq!(step.task_id, 1);
        assert_eq!(
            report.to_string(),
            format!(
                "BREAK {ID} (Notify, no version): non-deterministic at sequence number 1: history records activity \
                 'Publish', the code now schedules activity 'Audit'"
            )
        );
    }
    // An instance that has not decided anything yet is not affected.
    assert_eq!(check_history(&registry, &history(started(None))).verdict, Verdict::Ok);
}

#[test]
fn the_same_change_guarded_by_the_version_passes() {
    let registry = registry_of(notify_guarded);
    let histories = [
        history(in_flight(None)),
        history(completed(Some("1.0"))),
        history(started(Some("2.0"))),
    ];
    let report = check_histories(&registry, &histories);
    assert!(report.passed(), "{report:?}");
    assert_eq!(
        report.summary(),
        "3 instances: 3 ok, 0 broken, 0 left to other versions"
    );
    // A history recorded by version 2.0 itself replays too (audit first).
    let mut v2 = started(Some("2.0"));
    v2.extend([task_scheduled(1, "Audit", Some("\"hello\"")), orchestrator_completed()]);
    assert_eq!(check_history(&registry, &history(v2)).verdict, Verdict::Ok);
}

#[test]
fn a_finished_instance_must_finish_the_same_way() {
    let registry = registry_of(notify_then_archive);
    let report = check_history(&registry, &history(completed(None)));
    let Verdict::Nondeterministic(step) = &report.verdict else {
        panic!("{report}")
    };
    assert_eq!(step.task_id, 3);
    assert!(
        report
            .to_string()
            .ends_with("history records completion, the code now schedules activity 'Archive'"),
        "{report}"
    );
    // In flight, the extra step lies in the future: the instance takes it when it gets there.
    assert_eq!(check_history(&registry, &history(in_flight(None))).verdict, Verdict::Ok);
}

#[test]
fn a_removed_step_is_caught_where_history_recorded_it() {
    let registry = registry_of(notify_without_report);
    let report = check_history(&registry, &history(in_flight(None)));
    let Verdict::Nondeterministic(step) = &report.verdict else {
        panic!("{report}")
    };
    assert_eq!(step.task_id, 2);
    assert!(
        report
            .to_string()
            .ends_with("history records activity 'Report', the code now decides nothing there"),
        "{report}"
    );
}

#[test]
fn an_input_the_code_can_no_longer_read_fails_the_instance() {
    let registry = registry_of(notify_structured);
    let report = check_history(&registry, &history(in_flight(None)));
    let Verdict::Failed(details) = &report.verdict else {
        panic!("{report}")
    };
    assert!(details.message.contains("could not be decoded"), "{details:?}");
    assert!(report.to_string().starts_with(&format!(
        "BREAK {ID} (Notify, no version): the code fails the instance: "
    )));
}

#[test]
fn a_missing_orchestrator_fails_every_instance_of_it() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Other", |_ctx: OrchestrationContext, _: ()| async {
            Ok::<_, Error>(())
        })
        .unwrap();
    let report = check_history(&registry, &history(started(None)));
    let Verdict::Failed(details) = &report.verdict else {
        panic!("{report}")
    };
    assert!(
        details.message.contains("no orchestrator named 'Notify'"),
        "{details:?}"
    );
}

#[test]
fn failed_and_terminated_instances_are_checked_up_to_their_end() {
    // Failed by the host (a crash) after publishing: the code would go on, which is no break.
    let mut crashed = in_flight(None);
    crashed.push(execution_completed(proto::OrchestrationStatus::Failed, None));
    let registry = registry_of(notify_v1);
    assert_eq!(check_history(&registry, &history(crashed.clone())).verdict, Verdict::Ok);
    let mut terminated = in_flight(None);
    terminated.extend(episode([execution_terminated(Some("\"enough\""))]));
    assert_eq!(check_history(&registry, &history(terminated)).verdict, Verdict::Ok);
    // But their recorded decisions still count.
    let changed = registry_of(notify_audit_first);
    assert!(check_history(&changed, &history(crashed)).is_break());
}

#[test]
fn versioning_options_leave_or_fail_instances_of_other_versions() {
    let options = |failure| {
        VersioningOptions::new("1.0")
            .with_match_strategy(VersionMatchStrategy::CurrentOrOlder)
            .with_failure_strategy(failure)
    };
    let mut registry = registry_of(notify_v1);
    registry.set_versioning(options(VersionFailureStrategy::Reject));
    let newer = history(in_flight(Some("2.0")));
    let report = check_history(&registry, &newer);
    assert!(matches!(report.verdict, Verdict::Rejected(_)), "{report}");
    assert!(!report.is_break());
    assert_eq!(
        report.to_string(),
        format!(
            "skipped {ID} (Notify, version 2.0): The orchestration version '2.0' is greater than the worker version \
             '1.0'. (left to a deployment of its version)"
        )
    );
    registry.set_versioning(options(VersionFailureStrategy::Fail));
    let failed = check_history(&registry, &newer);
    assert!(failed.is_break(), "{failed}");
    let summary = check_histories(&registry, [&newer, &history(in_flight(Some("1.0")))]);
    assert_eq!(
        summary.summary(),
        "2 instances: 1 ok, 1 broken, 0 left to other versions"
    );
    assert_eq!(summary.breaks().count(), 1);
}
