//! The business rules of the aggregate: partial receipts, missing and wrong items, partial, final and excessive
//! refunds, conflicts (recorded, never lost), cancellation, and events after completion.

mod domain_common;

use chrono::Duration;
use domain_common::{aggregate, at, booked, cancelled, event, parcel, refund, refund_in};
use returns_aggregator::domain::limits::{Limit, MAX_LISTED_EVENTS, MAX_PARCELS};
use returns_aggregator::domain::notification::NotificationError;
use returns_aggregator::domain::{
    missing_pieces, ready_to_settle, Conflict, Disposition, DomainConfig, EventType, ReturnAggregate, ReturnId,
    ReturnSettledNotification, ReturnStatus, Transition,
};
use serde_json::Value;

const R: &str = "RET-7";

fn apply_all(state: &mut ReturnAggregate, bodies: &[Value]) -> Vec<Disposition> {
    bodies
        .iter()
        .map(|body| state.apply(&event(body), at(0)).disposition)
        .collect()
}

fn missing_text(state: &ReturnAggregate) -> Vec<String> {
    missing_pieces(state).iter().map(ToString::to_string).collect()
}

fn notification(state: &ReturnAggregate) -> ReturnSettledNotification {
    ReturnSettledNotification::from_aggregate(state).unwrap()
}

#[test]
fn partial_receipts_over_several_parcels_settle_when_everything_is_in() {
    let mut state = aggregate(R);
    assert_eq!(missing_text(&state), ["booking: not seen"]);

    let outcome = state.apply(&event(&booked(R, "b", &[("L1", 3, 2499)])), at(0));
    assert_eq!(
        (outcome.disposition, outcome.first_event, outcome.transition),
        (Disposition::Applied, true, None)
    );
    assert_eq!(missing_text(&state), ["line L1: 3 of 3 not received"]);

    assert!(!state
        .apply(&event(&parcel(R, "p1", "P1", &[("L1", 1, "Resellable")])), at(1))
        .became_settled());
    assert_eq!(
        missing_text(&state),
        ["line L1: 2 of 3 not received", "refund: 24.99 of 24.99 EUR outstanding"]
    );

    assert!(!state
        .apply(&event(&parcel(R, "p2", "P2", &[("L1", 2, "Resellable")])), at(2))
        .became_settled());
    assert_eq!(missing_text(&state), ["refund: 74.97 of 74.97 EUR outstanding"]);

    assert!(!state
        .apply(&event(&refund(R, "r1", "R1", 5997)), at(3))
        .became_settled());
    assert_eq!(missing_text(&state), ["refund: 15.00 of 74.97 EUR outstanding"]);

    let last = state.apply(&event(&refund(R, "r2", "R2", 1500)), at(4));
    assert!(last.became_settled());
    assert_eq!(state.status(), ReturnStatus::Settled);
    assert_eq!(state.closed_at(), Some(at(4)));
    assert!(missing_pieces(&state).is_empty());
    let sent = notification(&state);
    assert_eq!((sent.refund.expected_minor, sent.refund.total_minor), (7497, 7497));
    assert_eq!(sent.items[0].quantity_received, 3);
    assert_eq!(sent.timestamps.settled_at, at(4));
}

#[test]
fn items_reported_missing_are_accounted_for_but_not_refunded() {
    let mut state = aggregate(R);
    apply_all(
        &mut state,
        &[
            booked(R, "b", &[("L1", 2, 1000), ("L2", 1, 500)]),
            parcel(
                R,
                "p1",
                "P1",
                &[("L1", 1, "Resellable"), ("L1", 1, "Missing"), ("L2", 1, "WrongItem")],
            ),
        ],
    );
    assert_eq!(missing_text(&state), ["refund: 10.00 of 10.00 EUR outstanding"]);
    assert!(state
        .apply(&event(&refund(R, "r1", "R1", 1000)), at(0))
        .became_settled());

    let sent = notification(&state);
    let l1 = &sent.items[0];
    assert_eq!(
        (
            l1.quantity_booked,
            l1.quantity_received,
            l1.quantity_missing,
            l1.quantity_refundable
        ),
        (2, 1, 1, 1)
    );
    let l2 = &sent.items[1];
    assert_eq!((l2.quantity_received, l2.quantity_refundable), (1, 0));
    assert_eq!(sent.refund.expected_minor, 1000);
}

#[test]
fn a_return_with_everything_missing_settles_without_a_refund() {
    let mut state = aggregate(R);
    let outcomes = apply_all(
        &mut state,
        &[
            booked(R, "b", &[("L1", 1, 1000)]),
            parcel(R, "p1", "P1", &[("L1", 1, "Missing")]),
        ],
    );
    assert_eq!(outcomes, [Disposition::Applied, Disposition::Applied]);
    assert_eq!(state.status(), ReturnStatus::Settled);
    let sent = notification(&state);
    assert_eq!((sent.refund.expected_minor, sent.refund.total_minor), (0, 0));
    assert!(sent.refund.refunds.is_empty());
    assert_eq!(sent.timestamps.refunded_at, None);
}

#[test]
fn over_receipt_does_not_raise_the_expected_refund() {
    let mut state = aggregate(R);
    apply_all(
        &mut state,
        &[
            booked(R, "b", &[("L1", 1, 1000)]),
            parcel(R, "p1", "P1", &[("L1", 3, "Resellable")]),
        ],
    );
    assert_eq!(missing_text(&state), ["refund: 10.00 of 10.00 EUR outstanding"]);
}

#[test]
fn an_over_refund_settles_and_shows_both_amounts() {
    let mut state = aggregate(R);
    apply_all(
        &mut state,
        &[
            booked(R, "b", &[("L1", 1, 1000)]),
            parcel(R, "p1", "P1", &[("L1", 1, "Resellable")]),
        ],
    );
    assert!(state
        .apply(&event(&refund(R, "r1", "R1", 1495)), at(0))
        .became_settled());
    let sent = notification(&state);
    assert_eq!((sent.refund.expected_minor, sent.refund.total_minor), (1000, 1495));
}

#[test]
fn a_final_refund_settles_even_when_short() {
    let mut state = aggregate(R);
    apply_all(
        &mut state,
        &[
            booked(R, "b", &[("L1", 2, 1000)]),
            parcel(R, "p1", "P1", &[("L1", 2, "Damaged")]),
        ],
    );
    assert!(!state.apply(&event(&refund(R, "r1", "R1", 800)), at(0)).became_settled());
    assert!(state
        .apply(&event(&refund_in(R, "r2", "R2", 400, "EUR", true)), at(0))
        .became_settled());
    let sent = notification(&state);
    assert_eq!((sent.refund.expected_minor, sent.refund.total_minor), (2000, 1200));
    assert!(sent.refund.refunds[1].is_final);
}

#[test]
fn a_final_refund_still_waits_for_the_items() {
    let mut state = aggregate(R);
    apply_all(
        &mut state,
        &[
            booked(R, "b", &[("L1", 2, 1000)]),
            refund_in(R, "r1", "R1", 2000, "EUR", true),
        ],
    );
    assert_eq!(missing_text(&state), ["line L1: 2 of 2 not received"]);
    assert!(!ready_to_settle(&state));
}

#[test]
fn a_refund_in_another_currency_is_rejected_and_recorded_in_either_order() {
    let booking = booked(R, "b", &[("L1", 1, 1000)]);
    let usd = refund_in(R, "r-usd", "R1", 1000, "USD", false);
    let expected_reason = "refund R1 is in USD but the return is booked in EUR";

    let mut booking_first = aggregate(R);
    let dispositions = apply_all(&mut booking_first, &[booking.clone(), usd.clone()]);
    match &dispositions[1] {
        Disposition::Rejected(conflict @ Conflict::CurrencyMismatch { .. }) => {
            assert_eq!(conflict.to_string(), expected_reason)
        }
        other => panic!("expected a currency mismatch, got {other:?}"),
    }

    let mut refund_first = aggregate(R);
    assert_eq!(
        apply_all(&mut refund_first, &[usd.clone(), booking]),
        [Disposition::Applied, Disposition::Applied]
    );

    for state in [&booking_first, &refund_first] {
        assert!(state.counted_refunds().is_empty());
        assert_eq!(state.rejected().len(), 1);
        assert_eq!(state.rejected()[0].reason, expected_reason);
        assert_eq!(state.rejected()[0].event_type, EventType::RefundIssued);
    }
    assert_eq!(booking_first, refund_first);

    // Redelivery of the rejected event is recognised; a corrected refund settles the return.
    let mut state = booking_first;
    assert_eq!(state.apply(&event(&usd), at(0)).disposition, Disposition::Duplicate);
    apply_all(&mut state, &[parcel(R, "p1", "P1", &[("L1", 1, "Resellable")])]);
    assert!(state
        .apply(&event(&refund(R, "r-eur", "R1", 1000)), at(0))
        .became_settled());
    assert_eq!(state.rejected().len(), 1, "the conflict stays visible after settling");
}

#[test]
fn lines_unknown_to_the_booking_are_rejected_in_either_order() {
    let booking = booked(R, "b", &[("L1", 1, 1000)]);
    let stray_parcel = parcel(R, "p9", "P9", &[("L9", 1, "Resellable")]);
    let mut stray_refund = refund(R, "r9", "R9", 100);
    stray_refund["lines"] = serde_json::json!([{"lineId": "L9", "amountMinor": 100}]);

    let mut before = aggregate(R);
    apply_all(
        &mut before,
        &[stray_parcel.clone(), stray_refund.clone(), booking.clone()],
    );
    let mut after = aggregate(R);
    let dispositions = apply_all(&mut after, &[booking, stray_refund, stray_parcel]);
    assert!(matches!(
        dispositions[1],
        Disposition::Rejected(Conflict::UnknownLine { .. })
    ));
    assert!(matches!(
        dispositions[2],
        Disposition::Rejected(Conflict::UnknownLine { .. })
    ));

    assert_eq!(before, after);
    let rejected = after.rejected();
    let reasons: Vec<&str> = rejected.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            // sorted by event key: "payments r9" < "warehouse p9"
            "refund R9 names line L9, which the booking does not contain",
            "parcel P9 names line L9, which the booking does not contain",
        ]
    );
}

#[test]
fn competing_versions_of_a_fact_are_all_recorded_and_hold_the_return_in_either_order() {
    let first = [
        booked(R, "b1", &[("L1", 2, 1000)]),
        parcel(R, "p1", "P1", &[("L1", 2, "Resellable")]),
        refund(R, "r1", "R1", 2000),
    ];
    let second = [
        booked(R, "b2", &[("L1", 5, 1000)]),
        parcel(R, "p1-bis", "P1", &[("L1", 1, "Damaged")]),
        refund(R, "r1-bis", "R1", 999),
    ];
    let mut first_wins = aggregate(R);
    let mut dispositions = apply_all(&mut first_wins, &[first[0].clone(), second[0].clone()]);
    dispositions.extend(apply_all(&mut first_wins, &first[1..]));
    dispositions.extend(apply_all(&mut first_wins, &second[1..]));
    let mut second_wins = aggregate(R);
    apply_all(&mut second_wins, &second);
    apply_all(&mut second_wins, &first);

    assert_eq!(first_wins, second_wins, "the arrival order picks no version");
    assert_eq!(
        first_wins.status(),
        ReturnStatus::Open,
        "a return in conflict never settles by itself"
    );
    assert!(first_wins.is_held());
    let conflicts: Vec<String> = first_wins.conflicts().iter().map(ToString::to_string).collect();
    assert_eq!(
        conflicts,
        [
            "the booking has 2 different versions (events returns-service b1, returns-service b2)",
            "parcel P1 has 2 different versions (events warehouse p1, warehouse p1-bis)",
            "refund R1 has 2 different versions (events payments r1, payments r1-bis)",
        ]
    );
    assert!(matches!(
        dispositions[1],
        Disposition::Rejected(Conflict::ConflictingBooking { .. })
    ));
    assert_eq!(
        missing_text(&first_wins)[0],
        "conflict: the booking has 2 different versions (events returns-service b1, returns-service b2)"
    );
}

#[test]
fn one_event_id_with_two_contents_is_a_conflict_whatever_arrives_first() {
    // Issue 17: the same event id arriving with different contents let the arrival order pick the notification.
    let book = booked(R, "b", &[("L1", 2, 1000)]);
    let pay = refund(R, "r", "R1", 2000);
    let resellable = parcel(R, "p", "P1", &[("L1", 2, "Resellable")]);
    let mut restated = parcel(R, "p", "P1", &[("L1", 1, "Damaged"), ("L1", 1, "Missing")]);
    restated["warehouseId"] = Value::from("WH-OTHER");
    let mut outcomes = Vec::new();
    for parcels in [[&resellable, &restated], [&restated, &resellable]] {
        let mut state = aggregate(R);
        apply_all(
            &mut state,
            &[book.clone(), parcels[0].clone(), parcels[1].clone(), pay.clone()],
        );
        outcomes.push(state);
    }
    assert_eq!(outcomes[0], outcomes[1]);
    assert_eq!(outcomes[0].status(), ReturnStatus::Open);
    assert_eq!(
        missing_text(&outcomes[0]),
        [
            "conflict: parcel P1 has 2 different versions (events warehouse p)",
            "line L1: 2 of 2 not received",
        ],
        "neither version counts"
    );
}

#[test]
fn an_event_for_another_return_is_rejected() {
    let mut state = aggregate(R);
    let outcome = state.apply(&event(&booked("RET-OTHER", "b", &[("L1", 1, 1)])), at(0));
    assert_eq!(
        outcome.disposition,
        Disposition::Refused(Conflict::WrongReturn {
            event: ReturnId::parse("RET-OTHER").unwrap(),
            aggregate: ReturnId::parse(R).unwrap()
        })
    );
    assert!(state.booking().is_none());
}

#[test]
fn cancellation_before_the_booking_closes_the_return_without_a_notification() {
    let mut state = aggregate(R);
    let outcome = state.apply(&event(&cancelled(R, "c")), at(5));
    assert_eq!(outcome.transition, Some(Transition::Cancelled));
    assert!(outcome.first_event && outcome.became_closed() && !outcome.became_settled());
    assert_eq!(
        (state.status(), state.closed_at()),
        (ReturnStatus::Cancelled, Some(at(5)))
    );

    let late = apply_all(&mut state, &[booked(R, "b", &[("L1", 1, 1000)]), cancelled(R, "c")]);
    assert_eq!(late, [Disposition::Late, Disposition::Duplicate]);
    assert_eq!(state.late_events()[0].summary, "booking of order O-RET-7");
    assert!(state.booking().is_none());
    assert!(missing_pieces(&state).is_empty());
    assert!(matches!(
        ReturnSettledNotification::from_aggregate(&state),
        Err(NotificationError::NotSettled {
            status: ReturnStatus::Cancelled,
            ..
        })
    ));
}

#[test]
fn cancellation_after_the_booking_closes_the_open_return() {
    let mut state = aggregate(R);
    apply_all(
        &mut state,
        &[
            booked(R, "b", &[("L1", 2, 1000)]),
            parcel(R, "p1", "P1", &[("L1", 1, "Resellable")]),
        ],
    );
    assert!(state.apply(&event(&cancelled(R, "c")), at(0)).became_closed());
    assert_eq!(state.status(), ReturnStatus::Cancelled);
    assert_eq!(state.cancellation().unwrap().reason, "customer kept the items");
    assert_eq!(state.notification_id(), None);
}

#[test]
fn events_after_settlement_change_nothing_but_are_recorded() {
    let mut state = aggregate(R);
    apply_all(
        &mut state,
        &[
            booked(R, "b", &[("L1", 1, 1000)]),
            parcel(R, "p1", "P1", &[("L1", 1, "Resellable")]),
            refund(R, "r1", "R1", 1000),
        ],
    );
    assert_eq!(state.status(), ReturnStatus::Settled);
    let settled = state.clone();

    let late = apply_all(
        &mut state,
        &[
            refund(R, "r1", "R1", 1000),
            refund(R, "r2", "R2", 50),
            cancelled(R, "c"),
            booked(R, "b9", &[("X", 1, 1)]),
        ],
    );
    assert_eq!(
        late,
        [
            Disposition::Duplicate,
            Disposition::Late,
            Disposition::Late,
            Disposition::Late
        ]
    );
    let summaries: Vec<&str> = state.late_events().iter().map(|l| l.summary.as_str()).collect();
    assert_eq!(
        summaries,
        ["refund R2: 0.50 EUR", "cancellation", "booking of order O-RET-7"]
    );
    assert_eq!(
        (
            state.bookings(),
            state.parcels(),
            state.refunds(),
            state.status(),
            state.closed_at()
        ),
        (
            settled.bookings(),
            settled.parcels(),
            settled.refunds(),
            settled.status(),
            settled.closed_at()
        ),
        "a late event changes no fact"
    );
    assert_eq!(notification(&state), notification(&settled));
}

#[test]
fn a_refund_after_a_final_one_is_recorded_not_ignored() {
    // Issue 17: a final refund settled the return at 500 of 1,000 and the other refund vanished without a trace.
    let mut state = aggregate(R);
    apply_all(
        &mut state,
        &[
            booked(R, "b", &[("L1", 1, 1000)]),
            parcel(R, "p1", "P1", &[("L1", 1, "Resellable")]),
            refund_in(R, "r1", "R1", 500, "EUR", true),
        ],
    );
    assert_eq!(state.status(), ReturnStatus::Settled);
    let outcome = state.apply(&event(&refund(R, "r2", "R2", 500)), at(0));
    assert_eq!(outcome.disposition, Disposition::Late);
    assert_eq!(state.late_events()[0].summary, "refund R2: 5.00 EUR");
    // ... and it is told: the entity publishes this follow-up alert.
    let alert = state.late_event_alert(outcome.late_event.as_ref().expect("the late refund is listed"));
    assert_eq!(
        (alert.return_status, alert.summary.as_str(), alert.event_key.to_string()),
        (
            ReturnStatus::Settled,
            "refund R2: 5.00 EUR",
            state.late_events()[0].event_key.to_string()
        )
    );
    assert!(state.compact());
    assert_eq!(state.late_events().len(), 1, "the tombstone keeps it");
}

#[test]
fn the_number_of_parcels_is_bounded_and_the_cap_holds_the_return_and_alerts_at_once() {
    let mut state = aggregate(R);
    apply_all(&mut state, &[booked(R, "b", &[("L1", 1000, 1)])]);
    for i in 0..MAX_PARCELS {
        let body = parcel(R, &format!("p{i}"), &format!("P{i:03}"), &[("L1", 1, "Resellable")]);
        assert_eq!(state.apply(&event(&body), at(0)).disposition, Disposition::Applied);
    }
    let one_more = parcel(R, "p-extra", "P999", &[("L1", 1, "Resellable")]);
    let outcome = state.apply(&event(&one_more), at(1));
    assert_eq!(
        outcome.disposition,
        Disposition::Refused(Conflict::LimitReached(Limit::Parcels))
    );
    assert!(outcome.limit_reached, "the caller raises the alert now");
    assert_eq!(state.limit_reached(), Some(Limit::Parcels));
    assert!(state.is_held());
    let ids: Vec<&str> = state.parcels().iter().map(|p| p.parcel_id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "parcels are kept sorted by id");

    let alert = state
        .check_stuck(at(2), &DomainConfig::default())
        .expect("due at once, not in 30 days");
    assert!(
        alert
            .summary
            .starts_with("limit: the return reached the cap of 100 parcels per return"),
        "{}",
        alert.summary
    );
    assert!(
        state
            .check_stuck(at(0) + Duration::days(31), &DomainConfig::default())
            .is_none(),
        "once"
    );

    // Refusals are listed up to a bound, then counted; a redelivered refusal is recognised.
    for i in 0..MAX_LISTED_EVENTS + 4 {
        let body = parcel(R, &format!("x{i:02}"), &format!("X{i:02}"), &[("L1", 1, "Resellable")]);
        let _ = state.apply(&event(&body), at(3));
    }
    assert_eq!(state.rejected().len(), MAX_LISTED_EVENTS);
    assert_eq!(state.rejected_overflow(), 5);
    assert_eq!(
        state.apply(&event(&one_more), at(4)).disposition,
        Disposition::Duplicate
    );
}
