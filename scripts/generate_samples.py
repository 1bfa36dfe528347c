#!/usr/bin/env python3
"""Generate the demo traffic and its expected outcome, deterministically (fixed seed, standard library only).

Writes, relative to the repository root:
  samples/messages.jsonl            realistic Service Bus traffic for the demo (one message a line)
  samples/expected.json             what the demo must produce from it
  samples/scenarios/*.jsonl         small focused scenarios
  samples/scenarios/expected.json   what each scenario must produce

Message lines follow the project's file convention:
  {"function": "ServiceBusTrigger", "messageId": ..., "subject": ..., "correlationId": ...,
   "contentType": "application/json", "applicationProperties": {...}, "body": {...} or "text"}

Every return is designed so that its outcome does not depend on arrival order: a settled return satisfies the
completion rule only once all of its events are in, an open one never does, a cancelled one can never settle.

Usage: python3 scripts/generate_samples.py [--check]   (--check: fail if the committed files differ)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

SEED = 20250301
DUPLICATE_RATE = 0.10
START = datetime(2025, 3, 1, tzinfo=timezone.utc)
FUNCTION = "ServiceBusTrigger"

# Outcome → kinds, with how many returns of each. Settled kinds satisfy the completion rule only with every event;
# open kinds never do (they become stuck alerts once the deadline passes); cancelled kinds can never settle.
PLAN = {
    "settled": {
        "standard": 140,
        "damaged": 25,
        "some_missing": 20,
        "wrong_item": 15,
        "over_refund": 20,
        "final_short_refund": 15,
        "all_missing": 5,
    },
    "open": {
        "no_refund": 12,
        "lost_parcel": 10,
        "no_booking": 6,
        "short_refund": 7,
    },
    "cancelled": {
        "cancelled_after_booking": 15,
        "cancelled_after_parcel": 10,
    },
}

MARKETS = [  # market, locale, currency, price multiplier
    ("DE", "de-DE", "EUR", 1),
    ("FR", "fr-FR", "EUR", 1),
    ("NL", "nl-NL", "EUR", 1),
    ("GB", "en-GB", "GBP", 1),
    ("SE", "sv-SE", "SEK", 10),
    ("PL", "pl-PL", "PLN", 4),
]
PRODUCTS = [  # sku, base price in minor units
    ("SKU-JKT-NAVY-M", 8999),
    ("SKU-JNS-BLK-32", 4999),
    ("SKU-TEE-WHT-S", 1299),
    ("SKU-DRS-RED-38", 5999),
    ("SKU-SNK-WHT-42", 7499),
    ("SKU-SCF-GRY-OS", 1999),
    ("SKU-HDY-GRN-L", 3999),
    ("SKU-SKT-BLU-36", 2999),
    ("SKU-BAG-TAN-OS", 6499),
    ("SKU-SHT-PNK-M", 2499),
]
WAREHOUSES = ["WH-BER-01", "WH-MAD-02", "WH-LDS-01"]
RETURN_METHODS = ["DropOff", "Courier", "InStore"]
SOURCES = {
    "ReturnBooked": "returns-service",
    "ReturnItemsReceived": "warehouse-wms",
    "RefundIssued": "payments-gateway",
    "ReturnCancelled": "returns-service",
}
ALIASES = {
    "ReturnBooked": "returns.booked.v1",
    "ReturnItemsReceived": "returns.items_received.v1",
    "RefundIssued": "returns.refund_issued.v1",
    "ReturnCancelled": "returns.cancelled.v1",
}
SHIPPING_REFUND = 495


def timestamp(moment: datetime, offset_hours: int = 0) -> str:
    """RFC 3339 with second precision; a non-zero offset renders local time (as some producers send)."""
    local = moment.astimezone(timezone(timedelta(hours=offset_hours)))
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    return text + ("Z" if offset_hours == 0 else local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:])


@dataclass
class Line:
    line_id: str
    sku: str
    quantity: int
    unit_price: int


@dataclass
class Unit:
    line: Line
    condition: str
    parcel: int


@dataclass
class Return:
    """One planned return: its facts and the events that carry them."""

    return_id: str
    outcome: str
    kind: str
    order_id: str
    customer_id: str
    market: tuple
    lines: list[Line]
    units: list[Unit] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    refunds: list[tuple[str, int]] = field(default_factory=list)  # (refund id, amount)
    parcel_count: int = 0

    @property
    def currency(self) -> str:
        return self.market[2]

    def expected_refund(self, received_units: list[Unit]) -> int:
        total = 0
        for line in self.lines:
            refundable = sum(1 for u in received_units if u.line is line and u.condition in ("Resellable", "Damaged"))
            total += line.unit_price * min(refundable, line.quantity)
        return total


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def ident(self, prefix: str, digits: int = 8) -> str:
        return f"{prefix}{self.rng.getrandbits(4 * digits):0{digits}X}"

    def event_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # ---- planning -------------------------------------------------------------------------------------------------

    def plan_return(self, number: int, outcome: str, kind: str) -> Return:
        market = self.rng.choice(MARKETS)
        products = self.rng.sample(PRODUCTS, self.rng.choice([1, 1, 2, 2, 2, 3]))
        lines = [
            Line(f"L{i + 1}", sku, self.rng.choice([1, 1, 1, 2, 2, 3]), price * market[3])
            for i, (sku, price) in enumerate(products)
        ]
        ret = Return(
            return_id=f"RET-2025-{number:06d}",
            outcome=outcome,
            kind=kind,
            order_id=f"ORD-{self.rng.randrange(10**7, 10**8)}",
            customer_id=f"CUST-{self.rng.randrange(10**6, 10**7)}",
            market=market,
            lines=lines,
        )
        base = START + timedelta(minutes=self.rng.randrange(0, 20 * 24 * 60))
        self.add_events(ret, base)
        return ret

    def split_units(self, ret: Return, conditions: list[str], parcels: int) -> None:
        """Assigns every booked unit a condition and a parcel; every parcel gets at least one unit."""
        units = [Unit(line, "Resellable", 0) for line in ret.lines for _ in range(line.quantity)]
        parcels = max(1, min(parcels, len(units)))
        order = list(range(len(units)))
        self.rng.shuffle(order)
        for position, index in enumerate(order):
            units[index].parcel = position if position < parcels else self.rng.randrange(parcels)
        for unit, condition in zip(units, conditions + ["Resellable"] * len(units)):
            unit.condition = condition
        ret.units = units
        ret.parcel_count = parcels

    def add_events(self, ret: Return, base: datetime) -> None:
        kind = ret.kind
        total_units = sum(line.quantity for line in ret.lines)
        parcels = self.rng.choice([1, 1, 2, 2, 3])
        conditions: list[str] = []
        if kind == "damaged":
            conditions = ["Damaged"]
        elif kind == "some_missing":
            conditions = ["Missing"]
            parcels = max(parcels, 1)
        elif kind == "wrong_item":
            conditions = ["WrongItem"]
        elif kind == "all_missing":
            conditions = ["Missing"] * total_units
            parcels = 1
        elif kind == "lost_parcel":
            parcels = max(2, parcels)
        if kind in ("some_missing", "wrong_item") and total_units < 2:
            ret.lines[0].quantity = 2  # keep one refundable unit so the return still expects a refund
        self.split_units(ret, conditions, parcels)
        if kind == "lost_parcel" and ret.parcel_count < 2:
            ret.lines[0].quantity += 1
            self.split_units(ret, conditions, 2)

        booked_at = base
        if kind != "no_booking":
            ret.events.append(self.booked(ret, booked_at))
        if ret.outcome == "cancelled":
            cancelled_at = booked_at + timedelta(days=self.rng.randint(1, 3), hours=self.rng.randint(0, 12))
            if kind == "cancelled_after_parcel":
                first = [u for u in ret.units if u.parcel == 0]
                for unit in first:
                    unit.condition = "Resellable"
                ret.events.append(self.parcel(ret, 0, first, booked_at + timedelta(days=2)))
                cancelled_at = booked_at + timedelta(days=3, hours=self.rng.randint(1, 9))
            ret.events.append(self.cancelled(ret, cancelled_at))
            return

        lost = self.rng.randrange(ret.parcel_count) if kind == "lost_parcel" else None
        refund_plan: list[tuple[datetime, int, list[tuple[str, int]]]] = []
        received_at = booked_at + timedelta(days=2)
        for index in range(ret.parcel_count):
            received_at += timedelta(hours=self.rng.randint(4, 60))
            in_parcel = [u for u in ret.units if u.parcel == index]
            if index != lost:
                ret.events.append(self.parcel(ret, index, in_parcel, received_at))
            value = ret.expected_refund(in_parcel)
            if value > 0 and index != lost:
                per_line = {}
                for unit in in_parcel:
                    if unit.condition in ("Resellable", "Damaged"):
                        per_line[unit.line.line_id] = per_line.get(unit.line.line_id, 0) + unit.line.unit_price
                refund_plan.append((received_at + timedelta(hours=self.rng.randint(2, 48)), value, sorted(per_line.items())))
        if len(refund_plan) > 2:  # payments batches the later parcels into one refund
            last = refund_plan[1:]
            merged: dict[str, int] = {}
            for _, _, lines in last:
                for line_id, amount in lines:
                    merged[line_id] = merged.get(line_id, 0) + amount
            refund_plan = [refund_plan[0], (last[-1][0], sum(v for _, v, _ in last), sorted(merged.items()))]

        if kind in ("no_refund", "all_missing"):
            return
        if kind in ("over_refund", "final_short_refund", "short_refund"):
            issued_at = max(at for at, _, _ in refund_plan)
            expected = sum(value for _, value, _ in refund_plan)
            if kind == "over_refund":
                ret.events.append(self.refund(ret, issued_at, expected + SHIPPING_REFUND, [], final=False))
            else:
                deduction = max(1, expected * self.rng.choice([10, 15, 20]) // 100)
                ret.events.append(self.refund(ret, issued_at, expected - deduction, [], final=kind == "final_short_refund"))
            return
        for issued_at, value, lines in refund_plan:
            ret.events.append(self.refund(ret, issued_at, value, lines, final=False))

    # ---- events ---------------------------------------------------------------------------------------------------

    def envelope(self, ret: Return, event_type: str, occurred_at: str) -> dict:
        return {
            "eventId": self.event_id(),
            "eventType": event_type,
            "schemaVersion": 1,
            "source": SOURCES[event_type],
            "occurredAt": occurred_at,
            "returnId": ret.return_id,
            "correlationId": f"corr-{ret.order_id}",
        }

    def booked(self, ret: Return, at: datetime) -> dict:
        body = self.envelope(ret, "ReturnBooked", timestamp(at))
        body.update(
            orderId=ret.order_id,
            customerId=ret.customer_id,
            market=ret.market[0],
            locale=ret.market[1],
            bookedAt=timestamp(at),
            returnMethod=self.rng.choice(RETURN_METHODS),
            items=[
                {
                    "lineId": line.line_id,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "unitPrice": {"amountMinor": line.unit_price, "currency": ret.currency},
                }
                for line in ret.lines
            ],
        )
        return body

    def parcel(self, ret: Return, index: int, units: list[Unit], at: datetime) -> dict:
        counts: dict[tuple[str, str, str], int] = {}
        for unit in units:
            key = (unit.line.line_id, unit.line.sku, unit.condition)
            counts[key] = counts.get(key, 0) + 1
        body = self.envelope(ret, "ReturnItemsReceived", timestamp(at, 1))
        body.update(
            parcelId=self.ident("PCL-"),
            warehouseId=self.rng.choice(WAREHOUSES),
            receivedAt=timestamp(at, 1),
            items=[
                {"lineId": line_id, "sku": sku, "quantity": quantity, "condition": condition}
                for (line_id, sku, condition), quantity in sorted(counts.items())
            ],
        )
        return body

    def refund(self, ret: Return, at: datetime, amount: int, lines: list[tuple[str, int]], final: bool) -> dict:
        refund_id = self.ident("RFD-")
        ret.refunds.append((refund_id, amount))
        body = self.envelope(ret, "RefundIssued", timestamp(at))
        body.update(
            refundId=refund_id,
            amount={"amountMinor": amount, "currency": ret.currency},
            lines=[{"lineId": line_id, "amountMinor": value} for line_id, value in lines],
            paymentReference=self.ident("PSP-", 16),
            issuedAt=timestamp(at),
        )
        if final:
            body["final"] = True
        return body

    def cancelled(self, ret: Return, at: datetime) -> dict:
        body = self.envelope(ret, "ReturnCancelled", timestamp(at))
        body.update(reason=self.rng.choice(["customer kept the items", "booked by mistake", "exchange instead"]), cancelledAt=timestamp(at))
        return body

    # ---- messages -------------------------------------------------------------------------------------------------

    def message(self, body: dict) -> dict:
        event_type = body["eventType"]
        subject = ALIASES[event_type] if self.rng.random() < 0.3 else event_type
        return {
            "function": FUNCTION,
            "messageId": body["eventId"],
            "subject": subject,
            "correlationId": body.get("correlationId"),
            "contentType": "application/json",
            "applicationProperties": {"eventType": subject, "producer": body["source"]},
            "body": body,
        }


def malformed_messages(gen: Generator, returns: list[Return]) -> list[tuple[dict, str, str, str]]:
    """(message, reasonCode, field, exact error) for each kind of bad input the handler must refuse."""
    settled = [r for r in returns if r.outcome == "settled"]
    victim = settled[0]
    booking = next(e for e in victim.events if e["eventType"] == "ReturnBooked")
    parcel = next(e for e in victim.events if e["eventType"] == "ReturnItemsReceived")
    refund = next(e for e in settled[1].events if e["eventType"] == "RefundIssued")

    def variant(body: dict, **changes) -> dict:
        copy = json.loads(json.dumps(body))
        copy["eventId"] = gen.event_id()
        for key, value in changes.items():
            if value is None:
                copy.pop(key, None)
            else:
                copy[key] = value
        return copy

    def msg(body, subject=None, message_id=None) -> dict:
        message = {"function": FUNCTION, "messageId": message_id or gen.event_id(), "contentType": "application/json"}
        if subject is not None:
            message["subject"] = subject
        message["body"] = body
        return message

    bad_quantity = variant(booking)
    bad_quantity["items"] = [dict(item) for item in bad_quantity["items"]]
    bad_quantity["items"][-1]["quantity"] = 0
    quantity_field = f"items[{len(bad_quantity['items']) - 1}].quantity"
    broken_condition = variant(parcel)
    broken_condition["items"] = [dict(item) for item in broken_condition["items"]]
    broken_condition["items"][0]["condition"] = "Broken"
    lowercase_currency = variant(refund, amount={"amountMinor": refund["amount"]["amountMinor"], "currency": "eur"})
    negative_refund = variant(refund, amount={"amountMinor": -500, "currency": refund["amount"]["currency"]})
    shipped = variant(booking, eventType="ReturnShipped")
    untyped = variant(booking, eventType=None)
    v2 = variant(booking, schemaVersion=2)
    slash_id = variant(booking, returnId="RET/2025/000777")
    no_return_id = variant(parcel, returnId=None)
    local_date = variant(parcel, occurredAt="01/03/2025 10:15")
    truncated = json.dumps(variant(booking), separators=(",", ":"))[:90]

    return [
        (msg("ReturnBooked RET-2025-000001 qty=2"), "NotJson", "body", "body: not JSON (expected value at line 1 column 1)"),
        (msg(truncated, "ReturnBooked"), "NotJson", "body", "body: not JSON (EOF while parsing a string at line 1 column 90)"),
        (msg("", "RefundIssued"), "NotJson", "body", "body: not JSON (the body is empty)"),
        (msg([booking]), "InvalidField", "body", "body: must be a JSON object, got an array"),
        (msg(shipped, "ReturnShipped"), "UnknownEventType", "eventType", "eventType: unknown type 'ReturnShipped'"),
        (msg(untyped, "return.shipped"), "UnknownEventType", "eventType", "eventType: unknown type 'return.shipped'"),
        (msg(untyped), "MissingField", "eventType", "eventType: missing"),
        (msg(v2, "ReturnBooked"), "UnsupportedSchemaVersion", "schemaVersion",
         "schemaVersion: unsupported major version 2 (this build reads version 1)"),
        (msg(no_return_id, "ReturnItemsReceived"), "MissingField", "returnId", "returnId: missing"),
        (msg(slash_id, "ReturnBooked"), "InvalidField", "returnId",
         "returnId: must contain only letters, digits, '.', '_' and '-', found '/' at position 3"),
        (msg(bad_quantity, "ReturnBooked"), "InvalidField", quantity_field,
         f"{quantity_field}: must be a positive integer, got 0"),
        (msg(broken_condition, "ReturnItemsReceived"), "InvalidField", "items[0].condition",
         "items[0].condition: unknown condition \"Broken\" (expected Resellable, Damaged, Missing or WrongItem)"),
        (msg(lowercase_currency, "RefundIssued"), "InvalidField", "amount.currency",
         "amount.currency: must be an ISO 4217 code of 3 uppercase letters, got \"eur\""),
        (msg(negative_refund, "RefundIssued"), "InvalidField", "amount.amountMinor",
         "amount.amountMinor: must be a non-negative integer (minor units), got -500"),
        (msg(local_date, "ReturnItemsReceived"), "InvalidField", "occurredAt",
         "occurredAt: must be an RFC 3339 timestamp, got a string of 16 characters"),
    ]


# ---- the expected outcome (an independent restatement of the completion rule) -----------------------------------


def major_units(minor: int) -> str:
    """An amount in major units as the handler writes it for people: every sample currency has 2 decimals."""
    return f"{minor // 100:,}.{minor % 100:02d}"


def missing_pieces(ret: Return) -> list[str]:
    events = ret.events
    if not any(e["eventType"] == "ReturnBooked" for e in events):
        return ["booking: not seen"]
    received = [item for e in events if e["eventType"] == "ReturnItemsReceived" for item in e["items"]]
    pieces = []
    expected = 0
    for line in ret.lines:
        accounted = sum(i["quantity"] for i in received if i["lineId"] == line.line_id)
        refundable = sum(i["quantity"] for i in received if i["lineId"] == line.line_id and i["condition"] in ("Resellable", "Damaged"))
        expected += line.unit_price * min(refundable, line.quantity)
        if accounted < line.quantity:
            pieces.append(f"line {line.line_id}: {line.quantity - accounted} of {line.quantity} not received")
    refunds = [e for e in events if e["eventType"] == "RefundIssued"]
    refunded = sum(e["amount"]["amountMinor"] for e in refunds)
    if refunded < expected and not any(e.get("final") for e in refunds):
        pieces.append(f"refund: {major_units(expected - refunded)} of {major_units(expected)} {ret.currency} outstanding")
    return pieces


def settled_summary(ret: Return) -> dict:
    received = [item for e in ret.events if e["eventType"] == "ReturnItemsReceived" for item in e["items"]]
    refunds = [e for e in ret.events if e["eventType"] == "RefundIssued"]
    expected = 0
    for line in ret.lines:
        refundable = sum(i["quantity"] for i in received if i["lineId"] == line.line_id and i["condition"] in ("Resellable", "Damaged"))
        expected += line.unit_price * min(refundable, line.quantity)
    return {
        "returnId": ret.return_id,
        "kind": ret.kind,
        "orderId": ret.order_id,
        "currency": ret.currency,
        "itemsBooked": sum(line.quantity for line in ret.lines),
        "itemsReceived": sum(i["quantity"] for i in received if i["condition"] != "Missing"),
        "itemsMissing": sum(i["quantity"] for i in received if i["condition"] == "Missing"),
        "itemsRefundable": sum(i["quantity"] for i in received if i["condition"] in ("Resellable", "Damaged")),
        "parcelCount": sum(1 for e in ret.events if e["eventType"] == "ReturnItemsReceived"),
        "refundCount": len(refunds),
        "expectedRefundMinor": expected,
        "refundTotalMinor": sum(e["amount"]["amountMinor"] for e in refunds),
    }


def check_outcome(ret: Return) -> None:
    """Guards the design: settled returns settle only with every event, open ones never."""
    pieces = missing_pieces(ret)
    if ret.outcome == "settled":
        assert not pieces, (ret.return_id, pieces)
        for skipped in range(len(ret.events)):
            partial = Return(**{**ret.__dict__, "events": ret.events[:skipped] + ret.events[skipped + 1:]})
            assert missing_pieces(partial), (ret.return_id, "settles without event", skipped)
    elif ret.outcome == "open":
        assert pieces, ret.return_id


def expectation(returns: list[Return], messages: list[dict], duplicates: int, invalid: list) -> dict:
    by_outcome = {o: [r for r in returns if r.outcome == o] for o in PLAN}
    return {
        "generatedBy": "scripts/generate_samples.py",
        "seed": SEED,
        "messages": {
            "total": len(messages),
            "distinctEvents": sum(len(r.events) for r in returns),
            "duplicates": duplicates,
            "invalid": len(invalid),
        },
        "returns": {outcome: len(items) for outcome, items in by_outcome.items()} | {"total": len(returns)},
        "notifications": len(by_outcome["settled"]),
        "stuckAlerts": len(by_outcome["open"]),
        "settled": [settled_summary(r) for r in sorted(by_outcome["settled"], key=lambda r: r.return_id)],
        "open": [
            {"returnId": r.return_id, "kind": r.kind, "missing": missing_pieces(r)}
            for r in sorted(by_outcome["open"], key=lambda r: r.return_id)
        ],
        "cancelled": sorted(r.return_id for r in by_outcome["cancelled"]),
        "invalid": [
            {"messageId": m["messageId"], "reasonCode": code, "field": field_path, "error": error}
            for m, code, field_path, error in invalid
        ],
    }


# ---- files ------------------------------------------------------------------------------------------------------


def jsonl(messages: list[dict]) -> str:
    return "".join(json.dumps(m, separators=(",", ":"), ensure_ascii=False) + "\n" for m in messages)


def pretty(value: dict) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False) + "\n"


def demo(gen: Generator) -> tuple[dict[str, str], list[Return], list]:
    slots = [(outcome, kind) for outcome, kinds in PLAN.items() for kind, count in kinds.items() for _ in range(count)]
    gen.rng.shuffle(slots)  # return ids say nothing about the outcome
    returns = [gen.plan_return(number, outcome, kind) for number, (outcome, kind) in enumerate(slots, start=1)]
    for ret in returns:
        check_outcome(ret)

    valid = [gen.message(body) for ret in returns for body in ret.events]
    duplicated = gen.rng.sample(valid, round(len(valid) * DUPLICATE_RATE))
    invalid = malformed_messages(gen, returns)
    messages = valid + [json.loads(json.dumps(m)) for m in duplicated] + [m for m, *_ in invalid]
    gen.rng.shuffle(messages)
    expected = expectation(returns, messages, len(duplicated), invalid)
    return {"messages.jsonl": jsonl(messages), "expected.json": pretty(expected)}, returns, invalid


def scenarios(gen: Generator, invalid: list) -> dict[str, str]:
    files: dict[str, str] = {}
    outcomes: dict[str, dict] = {}

    # One return: booked, two parcels, two refunds, in a jumbled order.
    single = gen.plan_return(900001, "settled", "standard")
    while single.parcel_count < 2 or len(single.refunds) < 2:
        single = gen.plan_return(900001, "settled", "standard")
    order = list(single.events)
    gen.rng.shuffle(order)
    files["single_return.jsonl"] = jsonl([gen.message(b) for b in order])
    outcomes["single_return.jsonl"] = {"notifications": 1, "stuckAlerts": 0, "settled": [settled_summary(single)]}

    # A return settles, then every event is redelivered, a late refund and a late cancellation arrive.
    late = gen.plan_return(900002, "settled", "standard")
    first = [gen.message(b) for b in late.events]
    redelivered = [json.loads(json.dumps(m)) for m in reversed(first)]
    late_refund = gen.refund(late, START + timedelta(days=40), 1000, [], final=False)
    late_cancel = gen.cancelled(late, START + timedelta(days=41))
    files["late_duplicates.jsonl"] = jsonl(first + redelivered + [gen.message(late_refund), gen.message(late_cancel)])
    outcomes["late_duplicates.jsonl"] = {
        "notifications": 1,
        "stuckAlerts": 0,
        "settled": [settled_summary(late)],
        "duplicates": len(redelivered),
        "lateEvents": 2,
    }

    # A return that never completes: one of two parcels is lost and no refund is issued.
    stuck = gen.plan_return(900003, "open", "lost_parcel")
    stuck.events = [e for e in stuck.events if e["eventType"] != "RefundIssued"]
    files["stuck_return.jsonl"] = jsonl([gen.message(b) for b in stuck.events])
    outcomes["stuck_return.jsonl"] = {
        "notifications": 0,
        "stuckAlerts": 1,
        "open": [{"returnId": stuck.return_id, "missing": missing_pieces(stuck)}],
    }

    files["malformed.jsonl"] = jsonl([m for m, *_ in invalid])
    outcomes["malformed.jsonl"] = {
        "notifications": 0,
        "stuckAlerts": 0,
        "invalid": [
            {"messageId": m["messageId"], "reasonCode": code, "field": field_path, "error": error}
            for m, code, field_path, error in invalid
        ],
    }
    files["expected.json"] = pretty(outcomes)
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed files differ")
    args = parser.parse_args()

    root = Path(__file__).resolve().parent.parent
    gen = Generator(SEED)
    files, _, invalid = demo(gen)
    outputs = {root / "samples" / name: text for name, text in files.items()}
    outputs |= {root / "samples" / "scenarios" / name: text for name, text in scenarios(gen, invalid).items()}

    stale = []
    for path, text in outputs.items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(root)} ({len(text.encode())} bytes)", file=sys.stderr)
    if stale:
        print("stale sample files (run scripts/generate_samples.py):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
