//! Arrival order and duplication never change the outcome: one return, booked with two lines, received in two
//! parcels and refunded in two parts, in all 5! = 120 orders, with duplicates anywhere; with a second content
//! under one event id in all 6! = 720 orders; and a refund after a final one in all 4! orders.

mod domain_common;

use std::collections::HashSet;

use domain_common::{aggregate, at, booked, event, facts_of, parcel, permutations, refund, refund_in};
use returns_aggregator::domain::{Disposition, ReturnAggregate, ReturnEvent, ReturnSettledNotification, ReturnStatus};
use serde_json::Value;

const RETURN: &str = "RET-1";

/// Booking L1 ×2 at 24.99 and L2 ×1 at 15.00; parcels P1 (L1 ×1, L2 ×1 damaged) and P2 (L1 ×1); refunds of
/// 40.00 and 24.98 = 64.98 = the expected refund. No proper subset settles it.
fn bodies() -> Vec<Value> {
    vec![
        booked(RETURN, "evt-book", &[("L1", 2, 2499), ("L2", 1, 1500)]),
        parcel(RETURN, "evt-p1", "P1", &[("L1", 1, "Resellable"), ("L2", 1, "Damaged")]),
        parcel(RETURN, "evt-p2", "P2", &[("L1", 1, "Resellable")]),
        refund(RETURN, "evt-r1", "R1", 4000),
        refund(RETURN, "evt-r2", "R2", 2498),
    ]
}

fn events() -> Vec<ReturnEvent> {
    bodies().iter().map(event).collect()
}

/// Applies `order` with the i-th delivery at minute i; returns the state and the delivery indexes that settled.
fn run(events: &[ReturnEvent], order: &[usize]) -> (ReturnAggregate, Vec<usize>, Vec<Disposition>) {
    let mut state = aggregate(RETURN);
    let mut settled_at = Vec::new();
    let mut dispositions = Vec::new();
    for (delivery, &index) in order.iter().enumerate() {
        let outcome = state.apply(&events[index], at(delivery as i64));
        if outcome.became_settled() {
            settled_at.push(delivery);
        }
        dispositions.push(outcome.disposition);
    }
    (state, settled_at, dispositions)
}

#[test]
fn there_are_120_distinct_orders() {
    let orders: HashSet<Vec<usize>> = permutations(5).into_iter().collect();
    assert_eq!(orders.len(), 120);
}

#[test]
fn every_order_settles_once_on_the_last_event_with_identical_state() {
    let events = events();
    let (reference, _, _) = run(&events, &[0, 1, 2, 3, 4]);
    assert_eq!(reference.status(), ReturnStatus::Settled);
    let reference_notification = ReturnSettledNotification::from_aggregate(&reference).unwrap();

    for order in permutations(5) {
        let (state, settled_at, dispositions) = run(&events, &order);
        assert_eq!(settled_at, vec![4], "order {order:?}");
        assert!(
            dispositions.iter().all(|d| *d == Disposition::Applied),
            "order {order:?}: {dispositions:?}"
        );
        assert_eq!(facts_of(&state), facts_of(&reference), "order {order:?}");
        assert_eq!(state.closed_at(), Some(at(4)), "order {order:?}");
        assert_eq!(
            ReturnSettledNotification::from_aggregate(&state).unwrap(),
            reference_notification
        );
    }
}

#[test]
fn a_duplicate_anywhere_changes_nothing() {
    let events = events();
    for order in permutations(5) {
        let (reference, _, _) = run(&events, &order);
        for duplicated in 0..5 {
            for insert_at in 0..=order.len() {
                let mut with_duplicate = order.clone();
                with_duplicate.insert(insert_at, duplicated);
                let (state, settled_at, dispositions) = run(&events, &with_duplicate);

                // Only `duplicated` occurs twice, so the return settles when the last other event arrives; the second
                // copy is recognised as a duplicate, before or after the settlement.
                let repeat_is_last = with_duplicate[5] == duplicated;
                assert_eq!(
                    settled_at,
                    vec![if repeat_is_last { 4 } else { 5 }],
                    "{with_duplicate:?}"
                );
                let repeats: Vec<_> = dispositions.iter().filter(|d| **d != Disposition::Applied).collect();
                assert_eq!(repeats, vec![&Disposition::Duplicate], "{with_duplicate:?}");
                let without_closing_time = |state: &ReturnAggregate| {
                    let mut facts = facts_of(state);
                    facts.as_object_mut().unwrap().remove("closedAt");
                    facts
                };
                assert_eq!(
                    without_closing_time(&state),
                    without_closing_time(&reference),
                    "{with_duplicate:?}"
                );
                assert_eq!(state.status(), ReturnStatus::Settled);
            }
        }
    }
}

#[test]
fn a_restated_fact_under_a_new_event_id_is_a_duplicate() {
    let mut republished = bodies();
    for (body, suffix) in republished.iter_mut().zip(["a", "b", "c", "d", "e"]) {
        body["eventId"] = Value::from(format!("evt-republished-{suffix}"));
    }
    let originals = events();
    let copies: Vec<ReturnEvent> = republished.iter().map(event).collect();

    for order in permutations(5) {
        let mut state = aggregate(RETURN);
        let mut settlements = 0;
        for &index in &order {
            let first = state.apply(&originals[index], at(0));
            let again = state.apply(&copies[index], at(0));
            settlements += usize::from(first.became_settled());
            // Before and after the settlement alike: the fact is recognised under its new id.
            assert_eq!(again.disposition, Disposition::Duplicate, "order {order:?}");
        }
        assert_eq!(settlements, 1);
        assert!(state.rejected().is_empty());
    }
}

#[test]
fn a_second_content_under_one_event_id_never_lets_the_order_pick_silently() {
    // Parcel P1 restated under its own event id with other contents (issue 17: the first to arrive won). In every
    // order: if both versions arrive before the return settles, it is held in one identical state, the conflict
    // named; if one version completed the return first, the other is recorded as a late event, never dropped.
    let mut bodies = bodies();
    let mut restated = bodies[1].clone();
    restated["items"][1]["condition"] = Value::from("Missing");
    bodies.push(restated);
    let events: Vec<ReturnEvent> = bodies.iter().map(event).collect();
    let (held_reference, _, _) = run(&events, &[5, 0, 1, 2, 3, 4]);
    assert!(held_reference.is_held());
    let (mut held, mut settled) = (0, 0);
    for order in permutations(6) {
        let (state, settled_at, dispositions) = run(&events, &order);
        let last_version = *order.iter().rev().find(|i| **i == 1 || **i == 5).unwrap();
        let settles_first = order.last() == Some(&last_version);
        if settles_first {
            settled += 1;
            assert_eq!(settled_at, vec![4], "order {order:?}");
            assert_eq!(dispositions[5], Disposition::Late, "order {order:?}");
            let late: Vec<&str> = state.late_events().iter().map(|l| l.summary.as_str()).collect();
            assert_eq!(
                late,
                ["parcel P1: 2 unit(s) (a second content under a recorded event id)"],
                "order {order:?}"
            );
        } else {
            held += 1;
            assert!(settled_at.is_empty(), "order {order:?} settled: {dispositions:?}");
            assert_eq!(facts_of(&state), facts_of(&held_reference), "order {order:?}");
            let conflicts: Vec<String> = state.conflicts().iter().map(ToString::to_string).collect();
            assert_eq!(
                conflicts,
                ["parcel P1 has 2 different versions (events warehouse evt-p1)"]
            );
        }
    }
    assert_eq!((held, settled), (480, 240));
}

#[test]
fn a_refund_after_a_final_one_is_counted_or_recorded_late_in_every_order() {
    let events: Vec<ReturnEvent> = [
        booked(RETURN, "evt-book", &[("L1", 1, 1000)]),
        parcel(RETURN, "evt-p1", "P1", &[("L1", 1, "Resellable")]),
        refund_in(RETURN, "evt-r1", "R1", 500, "EUR", true),
        refund(RETURN, "evt-r2", "R2", 500),
    ]
    .iter()
    .map(event)
    .collect();
    for order in permutations(4) {
        let (mut state, settled_at, dispositions) = run(&events, &order);
        assert_eq!(settled_at.len(), 1, "order {order:?}");
        let notified = ReturnSettledNotification::from_aggregate(&state)
            .unwrap()
            .refund
            .total_minor;
        let late: Vec<String> = state.late_events().iter().map(|l| l.summary.clone()).collect();
        match late.as_slice() {
            [] => assert_eq!(notified, 1000, "order {order:?}"),
            [only] => {
                assert_eq!(
                    (notified, only.as_str()),
                    (500, "refund R2: 5.00 EUR"),
                    "order {order:?}"
                );
                assert_eq!(dispositions.last(), Some(&Disposition::Late));
            }
            more => panic!("order {order:?}: {more:?}"),
        }
        assert!(state.compact());
        assert_eq!(
            state.late_events().len(),
            late.len(),
            "the tombstone keeps the late refund"
        );
    }
}
