//! External event waits that give up: a wait that loses a race, or times out, no longer takes the next event of
//! its name; `wait_for_external_event_with_timeout` behaves as the official SDKs' wait with a timeout. Every
//! scenario is also replayed from history, where it must decide the same.

use std::time::Duration;

use chrono::{DateTime, Utc};
use durabletask_sdk::orchestration::when_any;
use durabletask_sdk::proto::{self, HistoryEvent};
use durabletask_sdk::testing::history::*;
use durabletask_sdk::testing::{actions, canned, replay, ResponseView};
use durabletask_sdk::{Error, OrchestrationContext, Registry, TaskError};

const ID: &str = "waits-1";
const MINUTE: Duration = Duration::from_secs(60);

fn t0() -> DateTime<Utc> {
    canned::t0()
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(seconds)
}

fn result(response: &proto::OrchestratorResponse) -> Option<&str> {
    ResponseView::new(response).expect_completion().result.as_deref()
}

/// Races a wait for "Go" against a one-minute timer, then waits for "Go" again: the bug reproduced in issue 14.
async fn race_then_wait(ctx: OrchestrationContext, _: ()) -> Result<(String, String), Error> {
    let event = Box::pin(async { ctx.wait_for_external_event::<String>("Go").await.map(Some) });
    let timer = Box::pin(async { ctx.create_timer_after(MINUTE).await.map(|_| None) });
    let futures: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = _>>>> = vec![event, timer];
    let (_, first) = when_any(futures).await;
    let first = first?.unwrap_or_else(|| "timed out".to_string());
    let second: String = ctx.wait_for_external_event("Go").await?;
    Ok((first, second))
}

/// Waits for "Go" for a minute, then waits for "Go" again (with the same timeout).
async fn timeout_then_wait(ctx: OrchestrationContext, _: ()) -> Result<Vec<String>, Error> {
    let mut seen = Vec::new();
    for _ in 0..2 {
        match ctx.wait_for_external_event_with_timeout::<String>("Go", MINUTE).await {
            Ok(payload) => seen.push(payload),
            Err(TaskError::EventTimedOut { name, timeout }) => seen.push(format!("{name} timed out after {timeout:?}")),
            Err(other) => return Err(other.into()),
        }
    }
    Ok(seen)
}

/// Waits for "Go" with the timeout given as input (seconds), once.
async fn wait_once(ctx: OrchestrationContext, seconds: u64) -> Result<String, Error> {
    Ok(ctx
        .wait_for_external_event_with_timeout::<String>("Go", Duration::from_secs(seconds))
        .await?)
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("RaceThenWait", race_then_wait)
        .unwrap()
        .add_orchestrator("TimeoutThenWait", timeout_then_wait)
        .unwrap()
        .add_orchestrator("WaitOnce", wait_once)
        .unwrap();
    registry
}

/// Runs `new` after `past`, then replays the whole history at once (as the next episode would see it) and checks
/// that the replay decides nothing new and ends the same way.
fn run_and_replay(name: &str, past: Vec<HistoryEvent>, new: Vec<HistoryEvent>) -> proto::OrchestratorResponse {
    let registry = registry();
    let live = replay(&registry, ID, past.clone(), new.clone());
    let mut everything = past;
    everything.extend(new);
    let replayed = replay(&registry, ID, everything, vec![orchestrator_completed()]);
    assert_eq!(
        ResponseView::new(&replayed).completion(),
        ResponseView::new(&live).completion(),
        "{name}: replaying the history ends the same way"
    );
    live
}

#[test]
fn a_wait_that_lost_a_race_to_a_timer_does_not_take_the_next_event() {
    let mut past = canned::timer_created("RaceThenWait", ID, None, at(60));
    past.extend(canned::episode(at(60), [timer_fired(1, at(60))]));
    past.push(orchestrator_completed());
    let response = run_and_replay(
        "race",
        past,
        canned::episode(at(90), [event_raised("Go", Some("\"late\""))]),
    );
    assert_eq!(result(&response), Some("[\"timed out\",\"late\"]"));
}

#[test]
fn a_wait_that_lost_a_race_in_the_same_episode_as_the_event_does_not_take_it() {
    // The timer fires and the event arrives in one episode: the timer wins the race, the event is kept for the
    // second wait.
    let past = canned::timer_created("RaceThenWait", ID, None, at(60));
    let new = canned::episode(at(60), [timer_fired(1, at(60)), event_raised("Go", Some("\"next\""))]);
    let response = run_and_replay("same episode", past, new);
    assert_eq!(result(&response), Some("[\"timed out\",\"next\"]"));
}

#[test]
fn after_a_timeout_the_next_wait_gets_the_next_event() {
    let first = replay(&registry(), ID, vec![], canned::started("TimeoutThenWait", ID, None));
    assert_eq!(first.actions, [actions::create_timer(1, at(60))]);

    let mut past = canned::timer_created("TimeoutThenWait", ID, None, at(60));
    let second = replay(
        &registry(),
        ID,
        past.clone(),
        canned::episode(at(60), [timer_fired(1, at(60))]),
    );
    assert_eq!(
        second.actions,
        [actions::create_timer(2, at(120))],
        "the second wait has its own timer"
    );

    past.extend(canned::episode(
        at(60),
        [timer_fired(1, at(60)), timer_created(2, at(120))],
    ));
    past.push(orchestrator_completed());
    let response = run_and_replay(
        "re-wait",
        past,
        canned::episode(at(70), [event_raised("go", Some("\"second\""))]),
    );
    assert_eq!(result(&response), Some("[\"Go timed out after 60s\",\"second\"]"));
}

#[test]
fn an_event_in_the_same_episode_as_the_timeout_goes_to_whichever_came_first() {
    let past = canned::timer_created("TimeoutThenWait", ID, None, at(60));

    // The timer first: the first wait times out and the event, arriving after, is the second wait's.
    let timer_first = canned::episode(at(60), [timer_fired(1, at(60)), event_raised("Go", Some("\"e1\""))]);
    let response = run_and_replay("timer first", past.clone(), timer_first);
    assert_eq!(result(&response), Some("[\"Go timed out after 60s\",\"e1\"]"));
    assert_eq!(
        ResponseView::new(&response).timers(),
        [(2, at(120))],
        "the second wait started (with its timer) before the event was read"
    );

    // The event first: the first wait gets it, its timer fires unobserved, the second wait starts its own timer.
    let event_first = canned::episode(at(60), [event_raised("Go", Some("\"e1\"")), timer_fired(1, at(60))]);
    let response = replay(&registry(), ID, past, event_first);
    assert_eq!(response.actions, [actions::create_timer(2, at(120))]);
}

#[test]
fn an_event_that_already_arrived_is_taken_without_a_timer() {
    let mut new = canned::started("WaitOnce", ID, Some("60"));
    new.insert(1, event_raised("Go", Some("\"early\"")));
    let response = run_and_replay("buffered", vec![], new);
    assert_eq!(response.actions, [actions::complete(1, Some("\"early\""))]);
}

#[test]
fn a_zero_timeout_times_out_at_once_without_a_timer() {
    let response = run_and_replay("zero", vec![], canned::started("WaitOnce", ID, Some("0")));
    let view = ResponseView::new(&response);
    assert_eq!(view.timers(), []);
    let failure = view.failure().expect("the unhandled timeout fails the orchestration");
    assert_eq!(failure.error_type, "EventTimeoutError");
    assert!(failure.error_message.contains("'Go'"), "{}", failure.error_message);
}

#[test]
fn when_the_event_wins_the_timer_stays_and_its_firing_is_ignored() {
    let mut past = canned::timer_created("WaitOnce", ID, Some("600"), at(600));
    past.extend(canned::episode(at(10), [event_raised("Go", Some("\"quick\""))]));
    let response = run_and_replay("event wins", past, canned::episode(at(600), [timer_fired(1, at(600))]));
    assert_eq!(result(&response), Some("\"quick\""));
}

#[test]
fn a_long_timeout_is_chained_like_any_long_timer() {
    let week = 7 * 24 * 3600;
    let response = replay(
        &registry(),
        ID,
        vec![],
        canned::started("WaitOnce", ID, Some(&week.to_string())),
    );
    assert_eq!(response.actions, [actions::create_timer(1, at(3 * 24 * 3600))]);
}

#[test]
fn a_dropped_wait_lets_events_be_carried_over_by_continue_as_new() {
    let mut registry = Registry::new();
    registry
        .add_orchestrator("Loop", |ctx: OrchestrationContext, _: ()| async move {
            let outcome = ctx.wait_for_external_event_with_timeout::<String>("Go", MINUTE).await;
            ctx.continue_as_new_preserving_events(&());
            Ok(outcome.is_ok())
        })
        .unwrap();
    let past = canned::timer_created("Loop", ID, None, at(60));
    let new = canned::episode(at(60), [timer_fired(1, at(60)), event_raised("Go", Some("\"kept\""))]);
    let response = replay(&registry, ID, past, new);
    let complete = ResponseView::new(&response).expect_completion();
    assert_eq!(
        complete.carryover_events.len(),
        1,
        "the event nobody waits for any more is carried over"
    );
}
