//! Conformance, part 2: live differential tests against durabletask-python 1.12.0 (`oracle/oracle.py serve`,
//! started once for this test binary from `<repo>/.venv`; run `bash scripts/setup-venv.sh` first).
//!
//! * Randomly generated `Script` programs are driven to completion by a simulated engine; every orchestrator,
//!   activity and entity request of every episode goes to both SDKs and the answers must agree.
//! * Recorded histories are perturbed (an activity renamed, an event kind changed, a scheduled task dropped)
//!   and both SDKs must judge the perturbed history the same way: failing with non-determinism at the same task.
//! * Ignored tests at the end reproduce the behaviour differences found so far, minimally.
//!
//! `CONFORMANCE_SEED` and `CONFORMANCE_PROGRAMS` change the generated programs (defaults: a fixed seed, 500).

mod support;

use chrono::{DateTime, Duration, TimeZone, Utc};

use durabletask_conformance::diff::first_difference;
use durabletask_conformance::normalize::{self, NONDETERMINISM};
use durabletask_conformance::oracle::vectors_file;
use durabletask_conformance::wire::{read_vectors, Request, Response};
use durabletask_sdk::proto::history_event::EventType;
use durabletask_sdk::proto::orchestrator_action::OrchestratorActionType as Action;
use durabletask_sdk::proto::{self, OrchestrationStatus};
use durabletask_sdk::testing::history;

use support::engine::{Engine, Stats};
use support::program::{self, Features};
use support::rng::Rng;

const DEFAULT_SEED: u64 = 0x00C0_FFEE_2026;
const DEFAULT_PROGRAMS: usize = 500;

/// Constructs the generator leaves out because of known behaviour differences (see the ignored tests at the end).
/// Long timers inside `any` used to be one; the executor now chains them as the Python SDK does.
const FEATURES: Features = Features {
    long_timers_in_any: true,
    locks: false,
};

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text} is not a valid value")),
        Err(_) => default,
    }
}

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap() + Duration::nanoseconds(123_456_789)
}

#[test]
fn random_programs_run_the_same_in_both_sdks() {
    let seed: u64 = setting("CONFORMANCE_SEED", DEFAULT_SEED);
    let programs: usize = setting("CONFORMANCE_PROGRAMS", DEFAULT_PROGRAMS);
    let registry = support::registry();
    let mut oracle = support::oracle();
    let mut rng = Rng::new(seed);
    let mut stats = Stats::default();
    let mut findings = Vec::new();
    for index in 0..programs {
        let root = format!("prog{index}");
        let program = program::program(&mut rng, &root, FEATURES);
        let start = epoch() + Duration::days(index as i64);
        let mut engine = Engine::new(&registry, &mut oracle, rng.fork(), start);
        if let Err(finding) = engine.run(&root, &program) {
            findings.push(format!(
                "{}\nprogram: {}\nrequest (base64): {}\n{}",
                finding.context,
                serde_json::to_string(&program).unwrap(),
                finding.request,
                finding.detail
            ));
        }
        stats.merge(&engine.stats);
    }
    eprintln!("seed {seed:#x}: {stats:?}");
    assert!(
        findings.is_empty(),
        "{} of {programs} programs (seed {seed:#x}) differ between the SDKs; the first ones:\n\n{}",
        findings.len(),
        findings.iter().take(3).cloned().collect::<Vec<_>>().join("\n\n")
    );
    if programs >= DEFAULT_PROGRAMS {
        // The programs must exercise what they are meant to.
        let covered = [
            ("episodes", stats.episodes),
            ("activities", stats.activities),
            ("activity failures", stats.activity_failures),
            ("timers", stats.timers),
            ("sub-orchestrations", stats.sub_orchestrations),
            ("entity calls", stats.entity_calls),
            ("entity signals", stats.entity_signals),
            ("entity batches", stats.entity_batches),
            ("events raised", stats.events_raised),
            ("continue-as-new", stats.continued_as_new),
            ("completed", stats.completed),
            ("failed", stats.failed),
        ];
        for (what, count) in covered {
            assert!(count >= 10, "only {count} {what} in {programs} programs");
        }
    }
}

/// Programs with critical sections (`lock` steps: `lock_entities`, calls inside, release; rules kept and broken),
/// in their own run so that the programs of the main run stay those of its seed.
#[test]
fn random_programs_with_entity_locks_run_the_same_in_both_sdks() {
    let seed: u64 = setting("CONFORMANCE_SEED", DEFAULT_SEED) ^ 0x10C5;
    let programs: usize = setting("CONFORMANCE_PROGRAMS", DEFAULT_PROGRAMS) / 4;
    let registry = support::registry();
    let mut oracle = support::oracle();
    let mut rng = Rng::new(seed);
    let mut stats = Stats::default();
    let mut findings = Vec::new();
    let features = Features {
        locks: true,
        ..FEATURES
    };
    for index in 0..programs {
        let root = format!("locks{index}");
        let program = program::program(&mut rng, &root, features);
        let start = epoch() + Duration::days(index as i64);
        // A termination while a call to a locked entity is in flight meets a known difference (see
        // `known_difference_a_call_in_flight_when_the_locks_are_released`).
        let mut engine = Engine::new(&registry, &mut oracle, rng.fork(), start).without_terminations();
        if let Err(finding) = engine.run(&root, &program) {
            findings.push(format!(
                "{}\nprogram: {}\nrequest (base64): {}\n{}",
                finding.context,
                serde_json::to_string(&program).unwrap(),
                finding.request,
                finding.detail
            ));
        }
        stats.merge(&engine.stats);
    }
    eprintln!("seed {seed:#x}: {stats:?}");
    assert!(
        findings.is_empty(),
        "{} of {programs} lock programs (seed {seed:#x}) differ between the SDKs; the first ones:\n\n{}",
        findings.len(),
        findings.iter().take(3).cloned().collect::<Vec<_>>().join("\n\n")
    );
    if programs >= DEFAULT_PROGRAMS / 4 {
        for (what, count) in [
            ("locks granted", stats.locks_granted),
            ("unlocks", stats.unlocks),
            ("entity calls", stats.entity_calls),
            ("failed", stats.failed),
            ("completed", stats.completed),
        ] {
            assert!(count >= 10, "only {count} {what} in {programs} lock programs");
        }
    }
}

// ---------------------------------------------------------------------------------------------- non-determinism

/// A change to a recorded history that makes it disagree with what `Script` does.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Perturbation {
    /// The first `taskScheduled` names another activity.
    RenameActivity,
    /// The first `taskScheduled` becomes a `timerCreated` with the same event id.
    ActivityBecomesTimer,
    /// The first `timerCreated` becomes a `taskScheduled` of `echo`.
    TimerBecomesActivity,
    /// The first `subOrchestrationInstanceCreated` names another orchestrator.
    RenameSubOrchestration,
    /// The first `taskScheduled` and its completion are gone.
    DropScheduledTask,
}

impl Perturbation {
    const ALL: [Perturbation; 5] = [
        Perturbation::RenameActivity,
        Perturbation::ActivityBecomesTimer,
        Perturbation::TimerBecomesActivity,
        Perturbation::RenameSubOrchestration,
        Perturbation::DropScheduledTask,
    ];

    /// Whether the perturbed history must fail the instance (a dropped task only does when later history
    /// depends on it).
    fn must_fail(self) -> bool {
        self != Perturbation::DropScheduledTask
    }
}

/// A perturbed request, the task id it concerns and the two names our message must mention.
struct Perturbed {
    request: proto::OrchestratorRequest,
    task_id: i32,
    names: [String; 2],
}

fn perturb(original: &proto::OrchestratorRequest, perturbation: Perturbation) -> Option<Perturbed> {
    let mut request = original.clone();
    let position = request
        .past_events
        .iter()
        .position(|event| match (&event.event_type, perturbation) {
            (Some(EventType::TimerCreated(_)), Perturbation::TimerBecomesActivity) => true,
            (Some(EventType::SubOrchestrationInstanceCreated(_)), Perturbation::RenameSubOrchestration) => true,
            (
                Some(EventType::TaskScheduled(_)),
                Perturbation::TimerBecomesActivity | Perturbation::RenameSubOrchestration,
            ) => false,
            (Some(EventType::TaskScheduled(_)), _) => true,
            _ => false,
        })?;
    let event = &mut request.past_events[position];
    let task_id = event.event_id;
    let names = match (event.event_type.as_mut()?, perturbation) {
        (EventType::TaskScheduled(scheduled), Perturbation::RenameActivity) => {
            let original = scheduled.name.clone();
            scheduled.name = format!("{original}_renamed");
            [original, scheduled.name.clone()]
        }
        (EventType::TaskScheduled(scheduled), Perturbation::ActivityBecomesTimer) => {
            let original = scheduled.name.clone();
            event.event_type = Some(EventType::TimerCreated(proto::TimerCreatedEvent {
                fire_at: Some(prost_types::Timestamp {
                    seconds: 1_714_557_600,
                    nanos: 0,
                }),
            }));
            [original, "timer".to_string()]
        }
        (EventType::TimerCreated(_), Perturbation::TimerBecomesActivity) => {
            event.event_type = Some(EventType::TaskScheduled(Box::new(proto::TaskScheduledEvent {
                name: "echo".to_string(),
                ..Default::default()
            })));
            ["timer".to_string(), "echo".to_string()]
        }
        (EventType::SubOrchestrationInstanceCreated(created), Perturbation::RenameSubOrchestration) => {
            let original = created.name.clone();
            created.name = "Other".to_string();
            [original, "Other".to_string()]
        }
        (EventType::TaskScheduled(scheduled), Perturbation::DropScheduledTask) => {
            let name = scheduled.name.clone();
            request.past_events.remove(position);
            let completes_task = |event: &proto::HistoryEvent| match &event.event_type {
                Some(EventType::TaskCompleted(done)) => done.task_scheduled_id == task_id,
                Some(EventType::TaskFailed(failed)) => failed.task_scheduled_id == task_id,
                _ => false,
            };
            request.past_events.retain(|event| !completes_task(event));
            request.new_events.retain(|event| !completes_task(event));
            [name, String::new()]
        }
        _ => return None,
    };
    Some(Perturbed {
        request,
        task_id,
        names,
    })
}

/// The task id in a normalised non-determinism message.
fn task_id_in_marker(marker: &str) -> Option<i32> {
    marker
        .strip_prefix("<nondeterminism at task #")?
        .strip_suffix('>')?
        .parse()
        .ok()
}

/// The completion action of a response, if it has one.
fn completion(response: &Response) -> Option<&proto::CompleteOrchestrationAction> {
    response
        .as_orchestrator()?
        .actions
        .iter()
        .find_map(|action| match &action.orchestrator_action_type {
            Some(Action::CompleteOrchestration(complete)) => Some(complete),
            _ => None,
        })
}

/// Both SDKs must give every perturbed history the same status; where it fails, both must name the same task
/// as non-deterministic and our message must name it and both sides of the mismatch. The rest of a failed
/// response is not compared: the SDKs return different actions alongside the failure (a known difference, see
/// `known_difference_actions_returned_with_a_nondeterminism_failure`).
#[test]
fn perturbed_histories_are_judged_the_same_by_both_sdks() {
    let registry = support::registry();
    let vectors =
        read_vectors(&vectors_file()).unwrap_or_else(|error| panic!("cannot read the golden vectors: {error}"));
    let mut problems = Vec::new();
    let mut failed_in_both = 0;
    let mut tried = 0;
    for vector in &vectors {
        let Request::Orchestrator(original) = &vector.request else {
            continue;
        };
        for perturbation in Perturbation::ALL {
            let Some(perturbed) = perturb(original, perturbation) else {
                continue;
            };
            tried += 1;
            let request = Request::Orchestrator(perturbed.request.clone());
            let (python, ours) = support::both(&registry, &request);
            let context = format!(
                "{perturbation:?} of a {} request at task #{}",
                vector.scenario, perturbed.task_id
            );
            let (python_end, our_end) = (completion(&python), completion(&ours));
            let status = |end: Option<&proto::CompleteOrchestrationAction>| {
                end.and_then(|end| OrchestrationStatus::try_from(end.orchestration_status).ok())
            };
            if status(python_end) != status(our_end) {
                problems.push(format!(
                    "{context}: python {:?}, ours {:?}",
                    status(python_end),
                    status(our_end)
                ));
                continue;
            }
            if status(our_end) != Some(OrchestrationStatus::Failed) {
                if perturbation.must_fail() {
                    problems.push(format!("{context}: neither SDK failed the instance"));
                } else if let Some(difference) = first_difference(&python.normalized(), &ours.normalized()) {
                    problems.push(format!("{context}:\n{difference}"));
                }
                continue;
            }
            failed_in_both += 1;
            let details = |end: Option<&proto::CompleteOrchestrationAction>| {
                let details = end.and_then(|end| end.failure_details.clone()).unwrap_or_default();
                let normalized = normalize::failure(&details, &perturbed.request.instance_id);
                (normalized.error_type, normalized.error_message)
            };
            // A dropped task makes the next confirmation the first one without a decision.
            let failing_task = match perturbation {
                Perturbation::DropScheduledTask => {
                    task_id_in_marker(&details(python_end).1).unwrap_or(perturbed.task_id)
                }
                _ => perturbed.task_id,
            };
            let expected = (
                NONDETERMINISM.to_string(),
                format!("<nondeterminism at task #{failing_task}>"),
            );
            if details(python_end) != expected || details(our_end) != expected {
                problems.push(format!(
                    "{context}: expected {expected:?}, python {:?}, ours {:?}",
                    details(python_end),
                    details(our_end)
                ));
            }
            let our_message = our_end
                .and_then(|end| end.failure_details.as_ref())
                .map(|d| d.error_message.clone());
            let our_message = our_message.unwrap_or_default();
            // The perturbed task's names are only where it is the failing one: after a dropped task the mismatch
            // is at the next confirmation, which may be another kind of task (an entity call in a lock scenario).
            let names = perturbed.names.iter().filter(|name| !name.is_empty());
            let mentions = std::iter::once(failing_task.to_string())
                .chain(names.filter(|_| failing_task == perturbed.task_id).cloned())
                .all(|needle| our_message.contains(&needle));
            if !mentions {
                problems.push(format!(
                    "{context}: our message does not name the task id and {:?}: {our_message}",
                    perturbed.names
                ));
            }
        }
    }
    eprintln!("{tried} perturbed histories, {failed_in_both} failed in both SDKs");
    assert!(
        tried >= 40 && failed_in_both >= 30,
        "too few perturbations apply: {tried} tried, {failed_in_both} failed"
    );
    assert!(
        problems.is_empty(),
        "{} perturbed histories are judged differently:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------- known differences
//
// Minimal reproductions of the behaviour differences the tests above found. Each asks both SDKs and fails while
// the difference exists; they are ignored so the suite passes, and the generator and engine above steer around
// them (see `FEATURES` and the engine's notes). Run them with `cargo test -p durabletask-conformance --test
// live_differential -- --ignored`.

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap() + Duration::seconds(seconds)
}

/// A request for instance `known` running the `Script` program `steps` (JSON). The first episode starts with
/// `orchestratorStarted` and `executionStarted`; `past` holds the rest of the earlier episodes and `new` the
/// current one (which is the first when `past` is empty, and then has no `orchestratorStarted` of its own).
fn script_request(steps: &str, past: Vec<proto::HistoryEvent>, new: Vec<proto::HistoryEvent>) -> Request {
    let input = format!("{{\"steps\": {steps}}}");
    let start = vec![
        history::orchestrator_started(at(0)),
        history::execution_started("Script", "known", Some(&input)),
    ];
    let (past_events, new_events) = if past.is_empty() {
        (Vec::new(), start.into_iter().chain(new).collect())
    } else {
        (start.into_iter().chain(past).collect(), new)
    };
    Request::Orchestrator(proto::OrchestratorRequest {
        instance_id: "known".to_string(),
        past_events,
        new_events,
        ..Default::default()
    })
}

fn assert_same_response(request: &Request) {
    let (python, ours) = support::both(&support::registry(), request);
    if let Some(difference) = first_difference(&python.normalized(), &ours.normalized()) {
        panic!("the SDKs answer differently:\n{difference}");
    }
}

const THREE_DAYS: i64 = 3 * 24 * 60 * 60;

#[test]
fn a_losing_long_timer_still_chains() {
    // any[echo, a 4-day timer] is won by the activity; when the timer's first 3-day step fires, Python schedules
    // the next step (createTimer #3), we schedule nothing.
    let steps = r#"[{"op": "any", "of": [{"op": "activity", "name": "echo", "input": "x"}, {"op": "timer", "seconds": 345600}]}, {"op": "event", "name": "Go"}]"#;
    let past = vec![
        history::task_scheduled(1, "echo", Some("\"x\"")),
        history::timer_created(2, at(THREE_DAYS)),
        history::orchestrator_completed(),
        history::orchestrator_started(at(1)),
        history::task_completed(1, Some("\"x\"")),
        history::orchestrator_completed(),
    ];
    let new = vec![
        history::orchestrator_started(at(THREE_DAYS)),
        history::timer_fired(2, at(THREE_DAYS)),
    ];
    assert_same_response(&script_request(steps, past, new));
}

// ---------------------------------------------------------------------------------------------- waits that cancel
//
// A wait that lost a race, or timed out, must not take the next event of its name. Python 1.12.0 has no wait with
// a timeout: the oracle composes it from a wait, a timer and a cancellation, as durabletask-java and -go implement
// it (see `_timed_wait` in oracle.py), and its `any` cancels the waits its losers leave behind, as dropping them
// does in Rust. Each scenario is asked live, then replayed from the full history.

/// Asks both SDKs for the episode `new` after `past`, then for a replay of all of it with nothing new.
fn assert_same_live_and_replayed(steps: &str, past: Vec<proto::HistoryEvent>, new: Vec<proto::HistoryEvent>) {
    assert_same_response(&script_request(steps, past.clone(), new.clone()));
    let mut everything = past;
    everything.extend(new);
    everything.push(history::orchestrator_completed());
    let later = vec![history::orchestrator_started(at(3600))];
    assert_same_response(&script_request(steps, everything, later));
}

const RACE_THEN_WAIT: &str = r#"[{"op": "any", "of": [{"op": "event", "name": "Go"}, {"op": "timer", "seconds": 60}]},
    {"op": "event", "name": "Go"}]"#;
const TWO_TIMED_WAITS: &str =
    r#"[{"op": "event", "name": "Go", "timeout": 60}, {"op": "event", "name": "Go", "timeout": 60}]"#;

#[test]
fn a_wait_that_lost_a_race_does_not_take_the_next_event() {
    let past = vec![
        history::timer_created(1, at(60)),
        history::orchestrator_completed(),
        history::orchestrator_started(at(60)),
        history::timer_fired(1, at(60)),
        history::orchestrator_completed(),
    ];
    let new = vec![
        history::orchestrator_started(at(90)),
        history::event_raised("Go", Some("\"late\"")),
    ];
    assert_same_live_and_replayed(RACE_THEN_WAIT, past, new);
}

#[test]
fn after_a_timeout_the_next_wait_gets_the_next_event() {
    let past = vec![
        history::timer_created(1, at(60)),
        history::orchestrator_completed(),
        history::orchestrator_started(at(60)),
        history::timer_fired(1, at(60)),
        history::timer_created(2, at(120)),
        history::orchestrator_completed(),
    ];
    let new = vec![
        history::orchestrator_started(at(70)),
        history::event_raised("GO", Some("\"second\"")),
    ];
    assert_same_live_and_replayed(TWO_TIMED_WAITS, past, new);
}

#[test]
fn an_event_in_the_same_episode_as_the_timeout_goes_to_whichever_came_first() {
    let past = vec![history::timer_created(1, at(60)), history::orchestrator_completed()];
    let timer_first = vec![
        history::orchestrator_started(at(60)),
        history::timer_fired(1, at(60)),
        history::event_raised("Go", Some("1")),
    ];
    assert_same_live_and_replayed(TWO_TIMED_WAITS, past.clone(), timer_first);
    let event_first = vec![
        history::orchestrator_started(at(60)),
        history::event_raised("Go", Some("1")),
        history::timer_fired(1, at(60)),
    ];
    assert_same_live_and_replayed(TWO_TIMED_WAITS, past, event_first);
}

#[test]
fn a_timed_wait_takes_an_event_that_already_arrived_and_a_zero_timeout_gives_up_at_once() {
    let steps = r#"[{"op": "event", "name": "Go", "timeout": 60}, {"op": "event", "name": "Go", "timeout": 0},
        {"op": "activity", "name": "echo", "input": "after"}]"#;
    // The event precedes the start: the first wait takes it without a timer, the second gives up at once.
    let mut new = vec![history::event_raised("Go", Some("\"early\""))];
    new.extend([
        history::orchestrator_started(at(0)),
        history::execution_started("Script", "known", Some(&format!("{{\"steps\": {steps}}}"))),
    ]);
    assert_same_response(&Request::Orchestrator(proto::OrchestratorRequest {
        instance_id: "known".to_string(),
        new_events: new,
        ..Default::default()
    }));
}

#[test]
fn activity_tags_are_sent_as_python_sends_them() {
    let steps = r#"[{"op": "all", "of": [
        {"op": "activity", "name": "echo", "input": 1, "tags": {"team": "returns", "kind": "notification"}},
        {"op": "activity", "name": "echo", "input": 2, "tags": {}},
        {"op": "activity", "name": "echo", "input": 3}]}]"#;
    assert_same_response(&script_request(steps, vec![], vec![]));
}

#[test]
#[ignore = "known difference: Python skips the events after the completion; a decision they confirm is sent again"]
fn known_difference_a_confirmation_after_the_completion() {
    // The instance was suspended when the event and the confirmation of the wait's timer (#1) were recorded, so
    // both are held back until it resumes; the event then ends the wait and the program fails. Python:
    // [createTimer #1 (again), completeOrchestration FAILED #2]; ours: [completeOrchestration FAILED #2] (we still
    // apply the confirmation). Found by seed 7 once timed waits were generated.
    let steps = r#"[{"op": "event", "name": "Go", "timeout": 60}, {"op": "fail", "message": "x"}]"#;
    let past = vec![
        history::execution_suspended(),
        history::event_raised("Go", Some("1")),
        history::timer_created(1, at(60)),
        history::orchestrator_completed(),
    ];
    let new = vec![history::orchestrator_started(at(1)), history::execution_resumed()];
    assert_same_response(&script_request(steps, past, new));
}

#[test]
#[ignore = "known difference: Python fails on an entity response nobody waits for, we ignore it"]
fn known_difference_an_unexpected_entity_response() {
    // Python: FAILED, builtins.RuntimeError "Could not parse entity ID from request ID 'no-such-call'".
    // Ours: the response is ignored and the orchestration keeps waiting.
    let new = vec![history::entity_operation_completed("no-such-call", Some("1"))];
    assert_same_response(&script_request(r#"[{"op": "event", "name": "Go"}]"#, vec![], new));
}

#[test]
#[ignore = "known difference: Python runs the orchestrator on after a termination in the same episode"]
fn known_difference_events_after_a_termination() {
    // Python: [completeOrchestration TERMINATED #2, sendEntityMessage #3] (the signal after the completion);
    // ours: [completeOrchestration TERMINATED #2].
    let steps = r#"[{"op": "activity", "name": "echo", "input": "x"}, {"op": "signal", "entity": "@counter@k0", "operation": "add", "input": 1}]"#;
    let past = vec![
        history::task_scheduled(1, "echo", Some("\"x\"")),
        history::orchestrator_completed(),
    ];
    let new = vec![
        history::orchestrator_started(at(1)),
        history::execution_terminated(Some("\"stop\"")),
        history::task_completed(1, Some("\"x\"")),
    ];
    assert_same_response(&script_request(steps, past, new));
}

#[test]
#[ignore = "known difference: our non-determinism failures are non-retriable, Python's are not"]
fn known_difference_nondeterminism_is_non_retriable() {
    let past = vec![
        history::task_scheduled(1, "echo_renamed", Some("1")),
        history::orchestrator_completed(),
    ];
    let new = vec![
        history::orchestrator_started(at(1)),
        history::task_completed(1, Some("1")),
    ];
    assert_same_response(&script_request(
        r#"[{"op": "activity", "name": "echo", "input": 1}]"#,
        past,
        new,
    ));
}

#[test]
#[ignore = "known difference: after a non-determinism failure Python returns the actions still pending, we don't"]
fn known_difference_actions_returned_with_a_nondeterminism_failure() {
    // Python stops at the mismatch (#1) and returns what is pending then: scheduleTask #2 and #3 again, then the
    // failure #4. We go on confirming #2 and #3 from history and return only the failure #4.
    let steps = r#"[{"op": "all", "of": [{"op": "activity", "name": "echo", "input": 0}, {"op": "activity", "name": "echo", "input": 1}, {"op": "activity", "name": "echo", "input": 2}]}]"#;
    let past = vec![
        history::task_scheduled(1, "renamed", Some("0")),
        history::task_scheduled(2, "echo", Some("1")),
        history::task_scheduled(3, "echo", Some("2")),
        history::orchestrator_completed(),
    ];
    let new = vec![
        history::orchestrator_started(at(1)),
        history::task_completed(2, Some("1")),
    ];
    let (python, ours) = support::both(&support::registry(), &script_request(steps, past, new));
    let ids = |response: &Response| {
        response
            .as_orchestrator()
            .map(|r| r.actions.iter().map(|a| a.id).collect::<Vec<_>>())
    };
    assert_eq!(ids(&python), ids(&ours), "the action ids differ");
}

#[test]
#[ignore = "known difference: Python never finishes an `all` of nothing, we finish it at once"]
fn known_difference_an_empty_all() {
    // Python: no actions (the when_all of no tasks never completes); ours: completes with [[]].
    assert_same_response(&script_request(r#"[{"op": "all", "of": []}]"#, vec![], vec![]));
}

#[test]
#[ignore = "known difference: event names are matched with Python's casefold(), we use to_lowercase()"]
fn known_difference_event_names_fold_case_fully() {
    // "Straße".casefold() == "STRASSE".casefold() == "strasse"; to_lowercase gives "straße" and "strasse".
    let new = vec![history::event_raised("STRASSE", Some("1"))];
    assert_same_response(&script_request(r#"[{"op": "event", "name": "Straße"}]"#, vec![], new));
}

#[test]
#[ignore = "known difference: Python fails on a resume without a suspension, we ignore it"]
fn known_difference_a_resume_without_a_suspension() {
    let new = vec![history::execution_resumed()];
    assert_same_response(&script_request(r#"[{"op": "event", "name": "Go"}]"#, vec![], new));
}

#[test]
#[ignore = "known difference: we check the target entity of a replayed call, Python only its kind"]
fn known_difference_a_replayed_entity_call_with_another_target() {
    // History says task #1 called @counter@b; the code calls @counter@a. Python replays on (completes with [1]);
    // we fail the instance with a non-determinism error.
    let past = vec![
        history::entity_operation_called(1, "call-1", "@counter@b", "get"),
        history::orchestrator_completed(),
    ];
    let new = vec![
        history::orchestrator_started(at(1)),
        history::entity_operation_completed("call-1", Some("1")),
    ];
    let steps = r#"[{"op": "call_entity", "entity": "@counter@a", "operation": "get"}]"#;
    assert_same_response(&script_request(steps, past, new));
}

#[test]
#[ignore = "known difference: Python forgets the unlock of an entity whose call is in flight when the locks are released"]
fn known_difference_a_call_in_flight_when_the_locks_are_released() {
    // Python's list of available locks is its list of locks (the same list object): a call removes the entity from
    // both until it returns, so locks released meanwhile (here by a termination) send no unlock for that entity,
    // which stays locked. Python: [call @counter@k0 #2, unlock @counter@k1 #3, terminated #4]; ours unlocks both.
    let steps = r#"[{"op": "lock", "entities": ["@counter@k1", "@counter@k0"],
        "steps": [{"op": "call_entity", "entity": "@counter@k0", "operation": "add", "input": 0}]}]"#;
    let first = durabletask_conformance::wire::execute(&support::registry(), &script_request(steps, vec![], vec![]));
    let section = first
        .as_orchestrator()
        .and_then(|response| response.actions.first())
        .and_then(|action| match &action.orchestrator_action_type {
            Some(Action::SendEntityMessage(message)) => match &message.entity_message_type {
                Some(proto::send_entity_message_action::EntityMessageType::EntityLockRequested(request)) => {
                    Some(request.clone())
                }
                _ => None,
            },
            _ => None,
        })
        .expect("the first episode requests the locks");
    let past = vec![
        history::entity_lock_requested(1, &section.critical_section_id, &section.lock_set, "known"),
        history::orchestrator_completed(),
    ];
    let new = vec![
        history::orchestrator_started(at(1)),
        history::entity_lock_granted(&section.critical_section_id),
        history::execution_terminated(Some("\"stop\"")),
    ];
    assert_same_response(&script_request(steps, past, new));
}
