#!/usr/bin/env python3
"""Prints what the demo published: every consolidated notification (one line each, the first in full), every
stuck-return alert, the invalid events with their reasons, and a comparison with samples/expected.json.

  print_published.py out/published.jsonl [--dead-letter FILE] [--expected samples/expected.json]
  print_published.py --expected-count samples/expected.json   # how many messages the demo should publish
"""
import argparse
import json
import sys


def expected_count(path):
    expected = json.load(open(path))
    return expected["notifications"] + expected["stuckAlerts"] + expected["messages"]["invalid"]


def money(minor, currency):
    return f"{minor / 100:,.2f} {currency}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("published", nargs="?")
    parser.add_argument("--dead-letter")
    parser.add_argument("--expected")
    parser.add_argument("--expected-count")
    args = parser.parse_args()
    if args.expected_count:
        print(expected_count(args.expected_count))
        return 0

    by_destination = {}
    for line in open(args.published):
        if line.strip():
            message = json.loads(line)
            by_destination.setdefault(message["destination"], []).append(message["body"])
    notifications = by_destination.get("return-notifications", [])
    alerts = by_destination.get("return-alerts", [])
    invalid = by_destination.get("return-events-invalid", [])

    print(f"== {len(notifications)} consolidated notifications (topic return-notifications)")
    for n in sorted(notifications, key=lambda n: n["returnId"]):
        refund = n["refund"]
        units = sum(item.get("quantityBooked", 0) for item in n["items"])
        print(f"  {n['returnId']}  order {n['orderId']}  {len(n['items'])} line(s), {units} unit(s)  "
              f"refunded {money(refund['totalMinor'], refund['currency'])} "
              f"of {money(refund['expectedMinor'], refund['currency'])}  "
              f"from {len(n['sourceEvents'])} events")
    if notifications:
        first = sorted(notifications, key=lambda n: n["returnId"])[0]
        print("\n  the first one in full:")
        print("  " + json.dumps(first, indent=2, sort_keys=True).replace("\n", "\n  "))

    late = [a for a in alerts if a.get("kind") == "ReturnLateEvent"]
    alerts = [a for a in alerts if a.get("kind") != "ReturnLateEvent"]
    print(f"\n== {len(alerts)} stuck-return alerts (queue return-alerts)")
    for a in sorted(alerts, key=lambda a: a["returnId"]):
        print(f"  {a['returnId']}  {a['summary']}")
    if late:
        print(f"\n== {len(late)} late-event alerts (queue return-alerts: events after a return settled)")
        for a in sorted(late, key=lambda a: (a["returnId"], a["processedAt"])):
            print(f"  {a['returnId']}  {a['eventType']}: {a['summary']}")

    print(f"\n== {len(invalid)} invalid events kept (queue return-events-invalid)")
    for i in invalid:
        print(f"  message {i.get('messageId')}: {i['reason']}: {i['error']}")

    if args.dead_letter:
        dead = [json.loads(l) for l in open(args.dead_letter) if l.strip()]
        print(f"\n== {len(dead)} dead-lettered messages")
        for d in dead:
            print(f"  {d.get('messageId')}: {d.get('reason')}: {d.get('error')}")

    if args.expected:
        expected = json.load(open(args.expected))
        ids = [n["returnId"] for n in notifications]
        checks = [
            ("notifications", len(notifications), expected["notifications"]),
            ("distinct returns notified", len(set(ids)), expected["notifications"]),
            ("stuck alerts", len(alerts), expected["stuckAlerts"]),
            ("invalid events", len(invalid), expected["messages"]["invalid"]),
        ]
        print("\n== compared with samples/expected.json")
        ok = True
        for name, got, want in checks:
            mark = "ok" if got == want else "MISMATCH"
            ok &= got == want
            print(f"  {name:28s} {got:5d}  expected {want:5d}  {mark}")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
