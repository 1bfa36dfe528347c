//! Arrival order and duplication never change the outcome: one return, booked with two lines, received in two
//! parcels and refunded in two parts, in all 5! = 120 orders, with duplicates anywhere.

mod domain_common;

use std::collections::HashSet;

use domain_common::{aggregate, at, booked, event, parcel, permutations, refund};
use returns_aggregator::domain::{
    Disposition, ReturnAggregate, ReturnEvent, ReturnSettledNotification, ReturnStatus, Transition,
};
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
        assert_eq!(state, reference, "order {order:?}");
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

                // Only `duplicated` occurs twice, so the return settles when the last other event arrives, and the
                // second copy is ignored as "after completion" exactly when it is the very last delivery.
                let repeat_is_last = with_duplicate[5] == duplicated;
                assert_eq!(
                    settled_at,
                    vec![if repeat_is_last { 4 } else { 5 }],
                    "{with_duplicate:?}"
                );
                let repeats: Vec<_> = dispositions.iter().filter(|d| **d != Disposition::Applied).collect();
                let expected = if repeat_is_last {
                    Disposition::IgnoredAfterCompletion
                } else {
                    Disposition::Duplicate
                };
                assert_eq!(repeats, vec![&expected], "{with_duplicate:?}");
                assert_eq!(state.parcels(), reference.parcels());
                assert_eq!(state.refunds(), reference.refunds());
                assert_eq!(state.booking(), reference.booking());
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
            let expected = if first.transition == Some(Transition::Settled) {
                Disposition::IgnoredAfterCompletion
            } else {
                Disposition::Duplicate
            };
            assert_eq!(again.disposition, expected, "order {order:?}");
        }
        assert_eq!(settlements, 1);
        assert!(state.rejected().is_empty());
    }
}
