//! Entity locks (critical sections) in the replay executor: the wire form of lock requests and releases, the
//! grant as the gRPC engines (`entityLockGranted`) and the Functions extension (`eventRaised`) deliver it, replay,
//! the locking rules, and the release of locks still held when the orchestration ends. The same behaviour is
//! compared with durabletask-python 1.12.0 in `crates/conformance` (recorded lock vectors and generated programs).

use chrono::{TimeZone, Utc};
use durabletask_sdk::orchestration::{execute_orchestrator, ENTITY_LOCKING_RULE};
use durabletask_sdk::proto::orchestrator_action::OrchestratorActionType as Action;
use durabletask_sdk::proto::send_entity_message_action::EntityMessageType;
use durabletask_sdk::proto::{self, OrchestrationStatus};
use durabletask_sdk::testing::history;
use durabletask_sdk::{EntityId, Error, OrchestrationContext, Registry};

const ID: &str = "transfer-1";

fn alice() -> EntityId {
    EntityId::new("Account", "alice")
}

fn bob() -> EntityId {
    EntityId::new("account", "bob")
}

/// Locks both accounts (listed unsorted, one twice), moves 5 from alice to bob, releases, then reports.
async fn transfer(ctx: OrchestrationContext, _input: ()) -> Result<i64, Error> {
    let lock = ctx.lock_entities(&[bob(), alice(), bob()]).await?;
    assert!(ctx.is_inside_critical_section());
    let balance: i64 = ctx.call_entity(&alice(), "add", &-5).await?;
    ctx.call_entity::<i64>(&bob(), "add", &5).await?;
    lock.release();
    ctx.call_activity::<()>("report", &balance).await?;
    Ok(balance)
}

/// Breaks a rule inside the section: signals a locked entity, then would call an activity.
async fn signal_inside(ctx: OrchestrationContext, _input: ()) -> Result<(), Error> {
    let _lock = ctx.lock_entities(&[alice()]).await?;
    ctx.signal_entity(&alice(), "add", &1);
    ctx.call_activity::<()>("never", &()).await?;
    Ok(())
}

/// Calls an entity it did not lock.
async fn call_unlocked(ctx: OrchestrationContext, _input: ()) -> Result<(), Error> {
    let _lock = ctx.lock_entities(&[alice()]).await?;
    ctx.call_entity::<i64>(&bob(), "get", &()).await?;
    Ok(())
}

/// Returns while holding the locks (no release).
async fn forgets_to_release(ctx: OrchestrationContext, _input: ()) -> Result<&'static str, Error> {
    let _lock = ctx.lock_entities(&[alice(), bob()]).await?;
    Ok("done")
}

/// The same as `transfer`, through `critical_section`.
async fn transfer_in_section(ctx: OrchestrationContext, _input: ()) -> Result<i64, Error> {
    let inner = ctx.clone();
    let balance = ctx
        .critical_section(&[alice(), bob()], async move {
            let balance: i64 = inner.call_entity(&alice(), "add", &-5).await?;
            inner.call_entity::<i64>(&bob(), "add", &5).await?;
            Ok::<_, Error>(balance)
        })
        .await??;
    Ok(balance)
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("transfer", transfer)
        .and_then(|r| r.add_orchestrator("signal_inside", signal_inside))
        .and_then(|r| r.add_orchestrator("call_unlocked", call_unlocked))
        .and_then(|r| r.add_orchestrator("forgets_to_release", forgets_to_release))
        .and_then(|r| r.add_orchestrator("transfer_in_section", transfer_in_section))
        .unwrap();
    registry
}

fn start(name: &str) -> Vec<proto::HistoryEvent> {
    vec![
        history::orchestrator_started(Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()),
        history::execution_started(name, ID, None),
    ]
}

fn run(past: &[proto::HistoryEvent], new: &[proto::HistoryEvent]) -> proto::OrchestratorResponse {
    execute_orchestrator(
        &registry(),
        &proto::OrchestratorRequest {
            instance_id: ID.into(),
            past_events: past.to_vec(),
            new_events: new.to_vec(),
            ..Default::default()
        },
    )
}

fn entity_message(action: &proto::OrchestratorAction) -> &EntityMessageType {
    match &action.orchestrator_action_type {
        Some(Action::SendEntityMessage(message)) => message.entity_message_type.as_ref().expect("a message"),
        other => panic!("expected an entity message, got {other:?}"),
    }
}

fn lock_request(response: &proto::OrchestratorResponse) -> proto::EntityLockRequestedEvent {
    match entity_message(&response.actions[0]) {
        EntityMessageType::EntityLockRequested(request) => request.clone(),
        other => panic!("expected a lock request, got {other:?}"),
    }
}

fn call_request_id(action: &proto::OrchestratorAction) -> String {
    match entity_message(action) {
        EntityMessageType::EntityOperationCalled(call) => call.request_id.clone(),
        other => panic!("expected an entity call, got {other:?}"),
    }
}

fn unlock_targets(response: &proto::OrchestratorResponse) -> Vec<(i32, String)> {
    response
        .actions
        .iter()
        .filter_map(|action| match &action.orchestrator_action_type {
            Some(Action::SendEntityMessage(proto::SendEntityMessageAction {
                entity_message_type: Some(EntityMessageType::EntityUnlockSent(unlock)),
            })) => Some((action.id, unlock.target_instance_id.clone().unwrap_or_default())),
            _ => None,
        })
        .collect()
}

fn status(response: &proto::OrchestratorResponse) -> Option<OrchestrationStatus> {
    response
        .actions
        .last()
        .and_then(|action| match &action.orchestrator_action_type {
            Some(Action::CompleteOrchestration(done)) => OrchestrationStatus::try_from(done.orchestration_status).ok(),
            _ => None,
        })
}

#[test]
fn a_lock_request_names_the_sorted_entities_once_and_waits_for_the_grant() {
    let response = run(&[], &start("transfer"));
    assert_eq!(response.actions.len(), 1, "nothing else before the grant: {response:?}");
    assert_eq!(response.actions[0].id, 1);
    let request = lock_request(&response);
    assert_eq!(request.lock_set, ["@account@alice", "@account@bob"]);
    assert_eq!(request.position, 0);
    assert_eq!(request.parent_instance_id.as_deref(), Some(ID));
    assert_eq!(
        request.critical_section_id.len(),
        36,
        "a GUID: {}",
        request.critical_section_id
    );
    // Deterministic: the same id on every replay.
    assert_eq!(
        lock_request(&run(&[], &start("transfer"))).critical_section_id,
        request.critical_section_id
    );
}

#[test]
fn a_whole_critical_section_on_the_grpc_protocol_live_and_replayed() {
    let section = lock_request(&run(&[], &start("transfer"))).critical_section_id;
    let lock_set = vec!["@account@alice".to_string(), "@account@bob".to_string()];
    let mut past = start("transfer");
    past.push(history::entity_lock_requested(1, &section, &lock_set, ID));
    past.push(history::orchestrator_completed());

    let granted = [
        history::orchestrator_started_now(),
        history::entity_lock_granted(&section),
    ];
    let response = run(&past, &granted);
    assert_eq!(response.actions.len(), 1);
    let first_call = call_request_id(&response.actions[0]);
    past.extend(granted);
    past.push(history::entity_operation_called(
        2,
        &first_call,
        "@account@alice",
        "add",
    ));

    let answered = [
        history::orchestrator_started_now(),
        history::entity_operation_completed(&first_call, Some("95")),
    ];
    let response = run(&past, &answered);
    let second_call = call_request_id(&response.actions[0]);
    past.extend(answered);
    past.push(history::entity_operation_called(3, &second_call, "@account@bob", "add"));

    let answered = [
        history::orchestrator_started_now(),
        history::entity_operation_completed(&second_call, Some("105")),
    ];
    let response = run(&past, &answered);
    assert_eq!(
        unlock_targets(&response),
        [(4, "@account@alice".to_string()), (5, "@account@bob".to_string())],
        "one unlock per locked entity, in lock-set order, then the activity"
    );
    assert!(matches!(
        response.actions[2].orchestrator_action_type,
        Some(Action::ScheduleTask(_))
    ));

    // Replayed with the unlocks recorded: they are not sent again.
    past.extend(answered);
    past.push(history::entity_unlock_sent(4, &section, "@account@alice", ID));
    past.push(history::entity_unlock_sent(5, &section, "@account@bob", ID));
    past.push(history::task_scheduled(6, "report", Some("95")));
    let response = run(
        &past,
        &[history::orchestrator_started_now(), history::task_completed(6, None)],
    );
    assert_eq!(status(&response), Some(OrchestrationStatus::Completed));
    assert_eq!(response.actions.len(), 1, "only the completion: {response:?}");
}

#[test]
fn the_functions_extension_grants_with_an_event_named_after_the_section() {
    // The extension records entity messages as `eventSent` to the target (the first entity of the lock set for a
    // lock request) and answers the request with an `eventRaised` named with the critical section id.
    let section = lock_request(&run(&[], &start("transfer"))).critical_section_id;
    let mut past = start("transfer");
    past.push(proto::HistoryEvent {
        event_id: 1,
        timestamp: None,
        event_type: Some(proto::history_event::EventType::EventSent(proto::EventSentEvent {
            instance_id: "@account@alice".into(),
            name: "op".into(),
            input: Some(format!(r#"{{"id":"{section}","isLockRequest":true}}"#)),
        })),
    });
    past.push(history::orchestrator_completed());
    let response = run(
        &past,
        &[
            history::orchestrator_started_now(),
            history::event_raised(&section, Some("{}")),
        ],
    );
    assert_eq!(response.actions.len(), 1);
    assert!(matches!(
        entity_message(&response.actions[0]),
        EntityMessageType::EntityOperationCalled(call) if call.target_instance_id.as_deref() == Some("@account@alice")
    ));
}

#[test]
fn breaking_a_locking_rule_fails_the_orchestration_and_releases_the_locks() {
    for (orchestrator, rule) in [
        ("signal_inside", "cannot be signalled inside the critical section"),
        ("call_unlocked", "is not locked by this critical section"),
    ] {
        let section = lock_request(&run(&[], &start(orchestrator))).critical_section_id;
        let mut past = start(orchestrator);
        past.push(history::entity_lock_requested(
            1,
            &section,
            &["@account@alice".to_string()],
            ID,
        ));
        past.push(history::orchestrator_completed());
        let response = run(
            &past,
            &[
                history::orchestrator_started_now(),
                history::entity_lock_granted(&section),
            ],
        );
        // Nothing the orchestrator did after the broken rule is sent: the unlock, then the failure.
        assert_eq!(
            unlock_targets(&response),
            [(3, "@account@alice".to_string())],
            "{orchestrator}: {response:?}"
        );
        assert_eq!(response.actions.len(), 2, "{orchestrator}: {response:?}");
        let Some(Action::CompleteOrchestration(done)) = &response.actions[1].orchestrator_action_type else {
            panic!("{response:?}")
        };
        assert_eq!(done.orchestration_status, OrchestrationStatus::Failed as i32);
        let failure = done.failure_details.as_ref().unwrap();
        assert_eq!(failure.error_type, ENTITY_LOCKING_RULE);
        assert!(
            failure.error_message.contains(rule),
            "{orchestrator}: {}",
            failure.error_message
        );
    }
}

#[test]
fn locks_still_held_at_the_end_are_released_before_the_completion() {
    let section = lock_request(&run(&[], &start("forgets_to_release"))).critical_section_id;
    let lock_set = vec!["@account@alice".to_string(), "@account@bob".to_string()];
    let mut past = start("forgets_to_release");
    past.push(history::entity_lock_requested(1, &section, &lock_set, ID));
    past.push(history::orchestrator_completed());
    let response = run(
        &past,
        &[
            history::orchestrator_started_now(),
            history::entity_lock_granted(&section),
        ],
    );
    assert_eq!(
        unlock_targets(&response),
        [(2, "@account@alice".to_string()), (3, "@account@bob".to_string())]
    );
    assert_eq!(status(&response), Some(OrchestrationStatus::Completed));
    assert_eq!(response.actions.last().unwrap().id, 4);

    // A termination while waiting for the grant releases them too.
    let response = run(
        &past,
        &[
            history::orchestrator_started_now(),
            history::execution_terminated(Some("\"stop\"")),
        ],
    );
    assert_eq!(unlock_targets(&response).len(), 2);
    assert_eq!(status(&response), Some(OrchestrationStatus::Terminated));
}

#[test]
fn a_critical_section_block_releases_when_its_body_finishes() {
    let section = lock_request(&run(&[], &start("transfer_in_section"))).critical_section_id;
    let lock_set = vec!["@account@alice".to_string(), "@account@bob".to_string()];
    let mut past = start("transfer_in_section");
    past.push(history::entity_lock_requested(1, &section, &lock_set, ID));
    past.push(history::orchestrator_completed());
    let granted = [
        history::orchestrator_started_now(),
        history::entity_lock_granted(&section),
    ];
    let response = run(&past, &granted);
    let first = call_request_id(&response.actions[0]);
    past.extend(granted);
    past.push(history::entity_operation_called(2, &first, "@account@alice", "add"));
    let answered = [
        history::orchestrator_started_now(),
        history::entity_operation_completed(&first, Some("95")),
    ];
    let response = run(&past, &answered);
    let second = call_request_id(&response.actions[0]);
    past.extend(answered);
    past.push(history::entity_operation_called(3, &second, "@account@bob", "add"));
    let response = run(
        &past,
        &[
            history::orchestrator_started_now(),
            history::entity_operation_completed(&second, Some("105")),
        ],
    );
    assert_eq!(unlock_targets(&response).len(), 2);
    assert_eq!(status(&response), Some(OrchestrationStatus::Completed));
    assert_eq!(
        match &response.actions.last().unwrap().orchestrator_action_type {
            Some(Action::CompleteOrchestration(done)) => done.result.clone(),
            _ => None,
        }
        .as_deref(),
        Some("95")
    );
}
