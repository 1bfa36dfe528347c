#!/usr/bin/env python3
"""The Python side of the handler benchmark (see BENCHMARKS.md, "Memory and start-up").

Usage:
    .venv/bin/python scripts/bench_python_handler.py serve [--port N]
    .venv/bin/python scripts/bench_python_handler.py ready-time [--runs 20] -- COMMAND [ARG...]

``serve`` is a minimal custom handler doing the Rust handler's job for the two durable triggers, with
durabletask-python 1.12.0's executors: ``POST /Orchestrator`` (base64 ``OrchestratorRequest`` ->
``_OrchestrationExecutor``) and ``POST /EntityFunction`` (base64 ``EntityBatchRequest`` ->
``TaskHubGrpcWorker._execute_entity_batch`` with a null stub), ``GET /`` for readiness. It reads the same host
envelopes (``{"Data": {"context": "\\"<base64>\\""}, ...}``) and answers the same way
(``{"Outputs": {}, "Logs": [], "ReturnValue": "<base64>"}``). The port comes from ``--port`` or
``FUNCTIONS_CUSTOMHANDLER_PORT``, as the Functions host passes it. HTTP: the standard library's
``ThreadingHTTPServer`` with HTTP/1.1 keep-alive and TCP_NODELAY (one thread per connection, as a Python worker
without extra dependencies would do).

The registrations mirror the Rust app's shape (src/durable):
- ``Orchestrator``: reads ``{"kind": "settled", "aggregate": {...}}``, builds the notification from the
  aggregate, sets a custom status, calls ``PublishNotification`` with a retry policy (5 attempts, 5 s first
  interval, backoff 2, at most 300 s), signals ``published`` to the return's entity, sets the final status and
  returns the receipt: one activity call with retry + one signal, like the Rust orchestrator;
- ``EntityFunction``: ``apply`` validates the event JSON, checks it belongs to the entity's return, drops
  duplicates by event key, folds it into the same state document the Rust entity stores, and when the return is
  settled starts ``Orchestrator`` with instance id ``returns-settled-<returnId>``. The validation and the
  completion rule are simplified (the Rust domain checks every field and more cases): equivalent work, not an
  equivalent implementation.

``ready-time`` measures start-up: it runs COMMAND (with ``FUNCTIONS_CUSTOMHANDLER_PORT`` set to a free port) RUNS
times, polls ``GET /`` on that port as fast as it can, and prints the time from exec to the first 200, per run
and the median, in milliseconds.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMPLETION_TOKEN = "python-handler"


# ---- the durable functions (imported lazily by `serve`, so `ready-time` starts fast) ----

def build_registrations():
    from durabletask import entities, task

    retry = task.RetryPolicy(
        first_retry_interval=timedelta(seconds=5),
        max_number_of_attempts=5,
        backoff_coefficient=2.0,
        max_retry_interval=timedelta(seconds=300),
    )

    def notification_of(aggregate: dict) -> dict:
        booking = aggregate["booking"]
        received: dict[str, dict[str, int]] = {}
        for parcel in aggregate.get("parcels", []):
            for line in parcel["lines"]:
                by_condition = received.setdefault(line["lineId"], {})
                by_condition[line["condition"]] = by_condition.get(line["condition"], 0) + line["quantity"]
        refunded = sum(refund["amountMinor"] for refund in aggregate.get("refunds", []))
        items = []
        for line in booking["lines"]:
            conditions = received.get(line["lineId"], {})
            quantity_received = sum(conditions.values())
            items.append({
                "lineId": line["lineId"], "sku": line["sku"], "quantityBooked": line["quantity"],
                "quantityReceived": quantity_received,
                "quantityMissing": max(0, line["quantity"] - quantity_received),
                "conditions": [{"condition": c, "quantity": q} for c, q in sorted(conditions.items())],
                "unitPriceMinor": line["unitPriceMinor"],
            })
        return {
            "kind": "ReturnSettled", "returnId": aggregate["returnId"], "orderId": booking["orderId"],
            "customerId": booking["customerId"], "market": booking["market"], "locale": booking["locale"],
            "items": items, "refundedMinor": refunded, "currency": booking["currency"],
        }

    def Orchestrator(ctx: task.OrchestrationContext, notify: dict):  # noqa: N802 - the function's name
        aggregate = notify["aggregate"]
        return_id = aggregate["returnId"]
        message = notification_of(aggregate)
        ctx.set_custom_status({"stage": "publishing", "returnId": return_id})
        receipt = yield ctx.call_activity("PublishNotification", input=message, retry_policy=retry)
        published_at = ctx.current_utc_datetime.isoformat()
        ctx.signal_entity(entities.EntityInstanceId("EntityFunction", return_id), "published",
                          {"kind": "settled", "publishedAt": published_at})
        ctx.set_custom_status({"stage": "published", "returnId": return_id, "publishedAt": published_at})
        return receipt

    required = ("eventId", "eventType", "schemaVersion", "occurredAt", "returnId")

    def event_key(event: dict) -> str:
        return f"{event.get('source', '')} {event['eventId']}"

    def is_settled(aggregate: dict) -> bool:
        booking = aggregate.get("booking")
        if not booking:
            return False
        received: dict[str, int] = {}
        for parcel in aggregate["parcels"]:
            for line in parcel["lines"]:
                received[line["lineId"]] = received.get(line["lineId"], 0) + line["quantity"]
        if any(received.get(line["lineId"], 0) < line["quantity"] for line in booking["lines"]):
            return False
        owed = sum(line["quantity"] * line["unitPriceMinor"] for line in booking["lines"])
        return sum(refund["amountMinor"] for refund in aggregate["refunds"]) >= owed

    def EntityFunction(ctx: entities.EntityContext, event):  # noqa: N802 - the function's name
        if ctx.operation != "apply":
            raise ValueError(f"the return aggregate has no operation '{ctx.operation}'")
        if not isinstance(event, dict) or any(field not in event for field in required):
            raise ValueError("invalid event")
        key = ctx.entity_id.key
        if event["returnId"] != key:
            raise ValueError(f"event for return {event['returnId']} was sent to the entity of return {key}")
        state = ctx.get_state(dict, None) or {"aggregate": {"returnId": key, "parcels": [], "refunds": [],
                                                            "status": "Open"}}
        aggregate = state["aggregate"]
        seen = {part["eventKey"] for part in aggregate["parcels"] + aggregate["refunds"]}
        if aggregate.get("booking"):
            seen.add(aggregate["booking"]["eventKey"])
        if event_key(event) in seen or aggregate["status"] != "Open":
            return {"disposition": "duplicate", "status": aggregate["status"]}
        kind = event["eventType"]
        if kind == "ReturnBooked":
            aggregate["booking"] = {**{k: event[k] for k in ("orderId", "customerId", "market", "locale",
                                                             "returnMethod", "bookedAt")},
                                    "eventKey": event_key(event),
                                    "currency": event["items"][0]["unitPrice"]["currency"],
                                    "lines": [{"lineId": i["lineId"], "sku": i["sku"], "quantity": i["quantity"],
                                               "unitPriceMinor": i["unitPrice"]["amountMinor"]}
                                              for i in event["items"]]}
        elif kind == "ReturnItemsReceived":
            aggregate["parcels"].append({"eventKey": event_key(event), "parcelId": event["parcelId"],
                                         "warehouseId": event["warehouseId"], "receivedAt": event["receivedAt"],
                                         "lines": [{"lineId": i["lineId"], "quantity": i["quantity"],
                                                    "condition": i["condition"]} for i in event["items"]]})
        elif kind == "RefundIssued":
            aggregate["refunds"].append({"eventKey": event_key(event), "refundId": event["refundId"],
                                         "amountMinor": event["amount"]["amountMinor"],
                                         "currency": event["amount"]["currency"], "lines": event["lines"],
                                         "issuedAt": event["issuedAt"]})
        elif kind == "ReturnCancelled":
            aggregate["status"] = "Cancelled"
        if aggregate["status"] == "Open" and is_settled(aggregate):
            aggregate["status"] = "Settled"
            ctx.schedule_new_orchestration("Orchestrator", input={"kind": "settled", "aggregate": aggregate},
                                           instance_id=f"returns-settled-{key}")
        ctx.set_state(state)
        return {"disposition": "applied", "status": aggregate["status"]}

    return Orchestrator, EntityFunction


class _NullStub:
    """Stands in for the gRPC stub the entity batch path reports through."""

    def CompleteEntityTask(self, request):  # noqa: N802 - gRPC method name
        pass

    def AbandonTaskEntityWorkItem(self, request):  # noqa: N802 - gRPC method name
        pass


class Executors:
    """Runs one durable trigger payload the way the Rust handler does: decode, execute, encode."""

    def __init__(self) -> None:
        import durabletask.internal.orchestrator_service_pb2 as pb
        from durabletask import worker
        from durabletask.serialization import JsonDataConverter

        self.pb = pb
        self.worker_module = worker
        orchestrator, entity = build_registrations()
        self.registry = worker._Registry()  # noqa: SLF001 - the executors are internal API
        self.registry.add_orchestrator(orchestrator)
        self.worker = worker.TaskHubGrpcWorker(host_address="127.0.0.1:1")  # never started
        self.worker.add_entity(entity, name="EntityFunction")
        self.logger = logging.getLogger("python-handler")
        self.converter = JsonDataConverter()
        self.stub = _NullStub()

    def orchestrator(self, request_bytes: bytes) -> bytes:
        request = self.pb.OrchestratorRequest.FromString(request_bytes)
        executor = self.worker_module._OrchestrationExecutor(  # noqa: SLF001
            self.registry, self.logger, self.converter)
        results = executor.execute(request.instanceId, request.pastEvents, request.newEvents)
        response = self.pb.OrchestratorResponse(
            instanceId=request.instanceId, actions=results.actions, completionToken=COMPLETION_TOKEN)
        if results.encoded_custom_status is not None:
            response.customStatus.value = results.encoded_custom_status
        return response.SerializeToString()

    def entity(self, request_bytes: bytes) -> bytes:
        request = self.pb.EntityBatchRequest.FromString(request_bytes)
        result = self.worker._execute_entity_batch(request, self.stub, COMPLETION_TOKEN)  # noqa: SLF001
        return result.SerializeToString()


def peel(value) -> str:
    """Undoes the host's extra JSON string layer around a binding value."""
    if isinstance(value, str) and value.startswith('"'):
        return json.loads(value)
    return value


def make_handler(executors: Executors):
    routes = {"Orchestrator": executors.orchestrator, "EntityFunction": executors.entity}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and the client's delayed
        # ACK hold the body back ~40 ms on keep-alive connections (hyper on the Rust side writes them at once).
        disable_nagle_algorithm = True

        def log_message(self, format, *args):  # noqa: A002 - the base class's signature
            pass  # as the Rust handler, which does not log each request

        def answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path == "/":
                self.answer(200, b"ready", "text/plain")
            else:
                self.answer(404, b"not found", "text/plain")

        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            run = routes.get(self.path.lstrip("/"))
            if run is None:
                self.answer(404, json.dumps({"error": f"no function {self.path}"}).encode())
                return
            try:
                envelope = json.loads(body)
                request_bytes = base64.b64decode(peel(envelope["Data"]["context"]))
                response = base64.b64encode(run(request_bytes)).decode()
            except Exception as error:  # noqa: BLE001 - any bad invocation answers 400, as the Rust handler
                self.answer(400, json.dumps({"error": str(error)}).encode())
                return
            self.answer(200, json.dumps({"Outputs": {}, "Logs": [], "ReturnValue": response}).encode())

    return Handler


def serve(port: int) -> None:
    logging.disable(logging.CRITICAL)  # a worker configured not to log per work item
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(Executors()))
    server.daemon_threads = True
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass


# ---- start-up measurement ----

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def is_ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return conn.recv(16).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def ready_time(command: list[str], runs: int, timeout: float = 30.0) -> list[float]:
    times = []
    for _ in range(runs):
        port = free_port()
        env = {**os.environ, "FUNCTIONS_CUSTOMHANDLER_PORT": str(port)}
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not is_ready(port):
                if process.poll() is not None:
                    sys.exit(f"{command[0]} exited with {process.returncode} before it was ready")
                if time.perf_counter() - started > timeout:
                    sys.exit(f"{command[0]} was not ready after {timeout} s")
            times.append((time.perf_counter() - started) * 1000.0)
        finally:
            process.terminate()
            process.wait()
    return times


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="mode", required=True)
    serve_parser = commands.add_parser("serve", help="run the Python handler")
    serve_parser.add_argument("--port", type=int, default=None)
    ready_parser = commands.add_parser("ready-time", help="time from exec to the first GET / answer")
    ready_parser.add_argument("--runs", type=int, default=20)
    ready_parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    if args.mode == "serve":
        port = args.port or int(os.environ.get("FUNCTIONS_CUSTOMHANDLER_PORT", "0"))
        if not port:
            parser.error("give --port or set FUNCTIONS_CUSTOMHANDLER_PORT")
        serve(port)
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("ready-time needs a command after --")
    times = ready_time(command, args.runs)
    print("runs_ms\t" + " ".join(f"{t:.1f}" for t in times))
    print(f"median_ms\t{statistics.median(times):.1f}\tmin_ms\t{min(times):.1f}\tmax_ms\t{max(times):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
