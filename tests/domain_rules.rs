//! The business rules of the aggregate: partial receipts, missing and wrong items, partial, final and excessive
//! refunds, conflicts (recorded, never lost), cancellation, and events after completion.

mod domain_common;

use domain_common::{aggregate, at, booked, cancelled, event, parcel, refund, refund_in};
use returns_aggregator::domain::aggregate::{MAX_PARCELS, MAX_RECORDED_REJECTIONS};
use returns_aggregator::domain::notification::NotificationError;
use returns_aggregator::domain::{
    missing_pieces, ready_to_settle, Conflict, Disposition, EventType, ReturnAggregate, ReturnId,
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
        [
            "line L1: 2 of 3 not received",
            "refund: 2499 of 2499 EUR minor units outstanding"
        ]
    );

    assert!(!state
        .apply(&event(&parcel(R, "p2", "P2", &[("L1", 2, "Resellable")])), at(2))
        .became_settled());
    assert_eq!(
        missing_text(&state),
        ["refund: 7497 of 7497 EUR minor units outstanding"]
    );

    assert!(!state
        .apply(&event(&refund(R, "r1", "R1", 5997)), at(3))
        .became_settled());
    assert_eq!(
        missing_text(&state),
        ["refund: 1500 of 7497 EUR minor units outstanding"]
    );

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
    assert_eq!(
        missing_text(&state),
        ["refund: 1000 of 1000 EUR minor units outstanding"]
    );
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
    assert_eq!(
        missing_text(&state),
        ["refund: 1000 of 1000 EUR minor units outstanding"]
    );
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
        assert!(state.refunds().is_empty());
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
    let reasons: Vec<&str> = after.rejected().iter().map(|r| r.reason.as_str()).collect();
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
fn competing_versions_of_a_fact_keep_the_first_and_record_the_rest() {
    let mut state = aggregate(R);
    let other_booking = booked(R, "b2", &[("L1", 5, 1000)]);
    let other_parcel = parcel(R, "p1-bis", "P1", &[("L1", 1, "Damaged")]);
    let other_refund = refund(R, "r1-bis", "R1", 999);
    let dispositions = apply_all(
        &mut state,
        &[
            booked(R, "b1", &[("L1", 2, 1000)]),
            parcel(R, "p1", "P1", &[("L1", 1, "Resellable")]),
            refund(R, "r1", "R1", 1000),
            other_booking,
            other_parcel,
            other_refund,
        ],
    );
    let reasons: Vec<String> = dispositions[3..]
        .iter()
        .map(|d| match d {
            Disposition::Rejected(conflict) => conflict.to_string(),
            other => panic!("expected a rejection, got {other:?}"),
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "a different booking is already recorded (event returns-service b1)",
            "parcel P1 is already recorded with different contents (event warehouse p1)",
            "refund R1 is already recorded with different contents (event payments r1)",
        ]
    );
    assert_eq!(state.booking().unwrap().lines[0].quantity, 2);
    assert_eq!(state.rejected().len(), 3);
}

#[test]
fn an_event_for_another_return_is_rejected() {
    let mut state = aggregate(R);
    let outcome = state.apply(&event(&booked("RET-OTHER", "b", &[("L1", 1, 1)])), at(0));
    assert_eq!(
        outcome.disposition,
        Disposition::Rejected(Conflict::WrongReturn {
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
    assert_eq!(
        late,
        [Disposition::IgnoredAfterCompletion, Disposition::IgnoredAfterCompletion]
    );
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
fn events_after_settlement_are_ignored_and_change_nothing() {
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
    assert!(
        late.iter().all(|d| *d == Disposition::IgnoredAfterCompletion),
        "{late:?}"
    );
    assert_eq!(state, settled);
}

#[test]
fn rejections_beyond_the_limit_are_counted_not_listed() {
    let mut state = aggregate(R);
    apply_all(&mut state, &[booked(R, "b", &[("L1", 1, 1000)])]);
    let extra = 5;
    for i in 0..MAX_RECORDED_REJECTIONS + extra {
        let body = refund_in(R, &format!("bad-{i:02}"), &format!("R{i}"), 1, "GBP", false);
        assert!(matches!(
            state.apply(&event(&body), at(0)).disposition,
            Disposition::Rejected(_)
        ));
    }
    assert_eq!(state.rejected().len(), MAX_RECORDED_REJECTIONS);
    assert_eq!(state.rejected_overflow(), extra as u32);
}

#[test]
fn the_number_of_parcels_is_bounded() {
    let mut state = aggregate(R);
    apply_all(&mut state, &[booked(R, "b", &[("L1", 1000, 1)])]);
    for i in 0..MAX_PARCELS {
        let body = parcel(R, &format!("p{i}"), &format!("P{i:03}"), &[("L1", 1, "Resellable")]);
        assert_eq!(state.apply(&event(&body), at(0)).disposition, Disposition::Applied);
    }
    let one_more = parcel(R, "p-extra", "P999", &[("L1", 1, "Resellable")]);
    assert_eq!(
        state.apply(&event(&one_more), at(0)).disposition,
        Disposition::Rejected(Conflict::TooMany {
            what: "parcels",
            limit: MAX_PARCELS
        })
    );
    let ids: Vec<&str> = state.parcels().iter().map(|p| p.parcel_id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "parcels are kept sorted by id");
}
