#!/usr/bin/env python3
"""Conformance oracle: durabletask-python 1.12.0's executors, driven from the outside.

The Rust conformance tests (crates/conformance) compare our executors with Microsoft's Python SDK. Both sides
register the same things, defined here and mirrored in crates/conformance/src:

* ``Script``: an orchestrator interpreting a tiny step language (below);
* ``echo`` (returns its input) and ``boom`` (raises ``ValueError(f"boom:{x}")``): activities;
* ``counter``: an entity with the operations add / get / fail / delete.

Commands (run with the project's virtualenv, ``.venv/bin/python``):

  oracle.py record VECTORS.jsonl [SCENARIO ...]
                                   runs the scenarios below (only those named, when some are) on the in-memory engine (served on 127.0.0.1 by this
                                   process) with the Python worker, and writes every work item the engine sent
                                   together with the worker's completion, as base64 protobuf, one JSON line each:
                                   {"kind", "scenario", "request", "response"}
  oracle.py record-versioned VECTORS.jsonl
                                   the same with the versioned scenarios: a worker with the VERSIONING options
                                   below runs instances started at different versions; each line also carries
                                   {"versioning": VERSIONING}
  oracle.py replay VECTORS.jsonl   re-executes every recorded request offline and checks that the Python executors
                                   still produce the recorded response (after normalisation)
  oracle.py serve                  answers requests on stdin, one JSON line each, until end of input:
                                   {"orchestratorRequest": b64} -> {"response": b64 OrchestratorResponse}
                                   {"entityRequestV2": b64}     -> {"response": b64 EntityBatchResult}
                                   {"entityBatchRequest": b64}  -> {"response": b64 EntityBatchResult}
                                   {"activityRequest": b64}     -> {"response": b64 ActivityResponse}
                                   anything else                -> {"error": "<what was wrong>"}

The step language. A program is {"steps": [step, ...], "gen": n (optional)}; Script runs the steps in order and
returns the list of the values of the awaited steps.

  awaited steps (each appends its value to the result list):
    {"op": "activity", "name": "echo"|"boom", "input": <json, optional>, "tags": {<str>: <str>, optional}}
    {"op": "timer", "seconds": <int>}                       value null
    {"op": "event", "name": <str>, "timeout": <int seconds, optional>}
                                                            value: the event's payload, or "<timed out>" when the
                                                            timeout passed first (see _timed_wait)
    {"op": "sub", "input": <program>, "id": <str, optional>, "version": <str, optional>}
                                                            value: the child Script's result
    {"op": "call_entity", "entity": "@counter@<key>", "operation": <str>, "input": <json, optional>}
    {"op": "all", "of": [step, ...]}                        value: the list of the children's values
    {"op": "any", "of": [step, ...]}                        value: the value of the first child to finish
  immediate steps (append nothing):
    {"op": "signal", "entity": ..., "operation": ..., "input": ...}
    {"op": "status", "value": <json>}                       sets the custom status
    {"op": "fail", "message": <str>}                        raises RuntimeError(message)
    {"op": "continue_as_new", "times": <int>}               while gen < times: continue as new with gen + 1
  critical sections (top level, or inside another lock's steps; not inside all/any):
    {"op": "lock", "entities": ["@counter@<key>", ...], "steps": [step, ...]}
                                                            locks the entities (lock_entities), runs the steps
                                                            holding them, releases them; its value is the list of
                                                            the inner steps' values
  an immediate step that appends a value:
    {"op": "version"}                                       appends the instance's version (null: none)

An ``any`` nested in an ``all`` or ``any`` resolves to its winner's value too: the value of a composite step is
computed when the step's value is appended, depth first in list order, and a failed winner raises at that moment.

An ``any`` cancels the event waits its losers leave behind, the moment it finishes (including waits nested in
losing ``all``/``any`` children): in Rust, the losing futures are dropped, and a dropped wait no longer takes
events. Other losing tasks (activities, timers, ...) are left alone, as in Rust.
"""
from __future__ import annotations

import base64
import json
import logging
import sys
import threading
import time
from concurrent import futures
from datetime import timedelta
from typing import Any, Callable

import grpc

import durabletask.internal.helpers as helpers
import durabletask.internal.orchestrator_service_pb2 as pb
import durabletask.internal.orchestrator_service_pb2_grpc as stubs
from durabletask import client, entities, task, worker
from durabletask.serialization import JsonDataConverter
from durabletask.testing import InMemoryOrchestrationBackend

# ------------------------------------------------------------------ the registrations (mirrored in Rust)

Unwrap = Callable[[Any], Any]


def _as_is(result: Any) -> Any:
    return result


TIMED_OUT = "<timed out>"


def _wait(ctx: task.OrchestrationContext, name: str) -> task.Task:
    """``wait_for_external_event``, remembering the context and name so that ``_withdraw`` can find the wait."""
    wait = ctx.wait_for_external_event(name)
    wait._oracle_waiting = (ctx, name.casefold())  # type: ignore[attr-defined]
    return wait


def _withdraw(wait: task.Task) -> None:
    """Cancels an unfinished event wait.

    ``CancellableTask.cancel()`` would do, but its handler deletes the name's entry from the pending waits when the
    list empties, and the SDK's own ``eventRaised`` handling, which completes a wait (and so, through ``_Race``,
    cancels its rival waiting for the same name), then deletes that entry too: a ``KeyError`` (durabletask 1.12.0,
    worker.py ``process_event``). So the wait is taken out of the list here, leaving the entry, and then cancelled
    without the handler. An empty list is what the SDK treats as "nobody waits".

    The wait is detached from the composites it belongs to first: they lost too (in Rust they are dropped with
    it), and a composite told of a cancelled child would raise ``TaskCancelledError`` from inside the SDK.
    """
    ctx, name = wait._oracle_waiting  # type: ignore[attr-defined]
    waiting = ctx._pending_events.get(name)  # pyright: ignore[reportPrivateUsage]
    if waiting is not None and any(other is wait for other in waiting):
        waiting[:] = [other for other in waiting if other is not wait]
    wait._parents.clear()  # pyright: ignore[reportPrivateUsage]
    wait.set_cancel_handler(lambda: None)
    wait.cancel()


def _cancel_waits(t: task.Task) -> None:
    """Cancels the unfinished event waits in ``t`` and, for an unfinished composite, in its children."""
    if t.is_complete:
        return
    if hasattr(t, "_oracle_waiting"):
        _withdraw(t)
    elif isinstance(t, task.CompositeTask):
        for child in t.get_tasks():
            _cancel_waits(child)


class _Race(task.WhenAnyTask):
    """``when_any`` that cancels the event waits of its losers as soon as it has a winner."""

    def on_child_completed(self, child: task.Task) -> None:
        had_winner = self.is_complete
        super().on_child_completed(child)
        if not had_winner and self.is_complete:
            for other in self.get_tasks():
                if other is not child:
                    _cancel_waits(other)


def _completed(value: Any) -> task.Task:
    done: task.CompletableTask = task.CompletableTask()
    done.complete(value)
    return done


def _timed_wait(ctx: task.OrchestrationContext, name: str, seconds: int) -> tuple[task.Task, Unwrap]:
    """A wait for ``name`` with a timeout, as durabletask-java and -go implement it (Python 1.12.0 has none): an
    event that already arrived is taken without a timer; a zero timeout without one times out without a timer;
    otherwise the wait races a timer, and the timer's win cancels the wait."""
    wait = _wait(ctx, name)
    if wait.is_complete:
        return wait, _as_is
    if seconds <= 0:
        _withdraw(wait)
        return _completed(TIMED_OUT), _as_is
    timer = ctx.create_timer(ctx.current_utc_datetime + timedelta(seconds=seconds))

    def value(winner: task.Task) -> Any:
        return TIMED_OUT if winner is timer else winner.get_result()

    return _Race([wait, timer]), value


def _start_step(ctx: task.OrchestrationContext, step: dict) -> tuple[task.Task, Unwrap]:
    """Starts the durable work of an awaited step: its task, and how to turn the task's result into the value."""
    op = step["op"]
    if op == "activity":
        return ctx.call_activity(step["name"], input=step.get("input"), tags=step.get("tags")), _as_is
    if op == "timer":
        return ctx.create_timer(ctx.current_utc_datetime + timedelta(seconds=step["seconds"])), _as_is
    if op == "event":
        if step.get("timeout") is not None:
            return _timed_wait(ctx, step["name"], step["timeout"])
        return _wait(ctx, step["name"]), _as_is
    if op == "sub":
        return ctx.call_sub_orchestrator("Script", input=step["input"], instance_id=step.get("id"),
                                         version=step.get("version")), _as_is
    if op == "call_entity":
        entity = entities.EntityInstanceId.parse(step["entity"])
        return ctx.call_entity(entity, step["operation"], step.get("input")), _as_is
    if op == "all":
        children = [_start_step(ctx, child) for child in step["of"]]

        def all_values(results: list) -> list:
            return [unwrap(result) for (_, unwrap), result in zip(children, results)]

        return task.when_all([child for child, _ in children]), all_values
    if op == "any":
        children = [_start_step(ctx, child) for child in step["of"]]

        def winner_value(winner: task.Task) -> Any:
            for child, unwrap in children:
                if child is winner:
                    return unwrap(winner.get_result())
            raise AssertionError("the winner is one of the children")

        return _Race([child for child, _ in children]), winner_value
    raise ValueError(f"unknown step {op!r}")


def _run(ctx: task.OrchestrationContext, program: dict, steps: list, values: list):
    """Runs ``steps`` in order, appending the awaited steps' values to ``values``; returns True when the program
    continued as new (the caller stops then)."""
    for step in steps:
        op = step["op"]
        if op == "signal":
            entity = entities.EntityInstanceId.parse(step["entity"])
            ctx.signal_entity(entity, step["operation"], step.get("input"))
        elif op == "status":
            ctx.set_custom_status(step["value"])
        elif op == "fail":
            raise RuntimeError(step["message"])
        elif op == "version":
            values.append(ctx.version)
        elif op == "continue_as_new":
            generation = program.get("gen", 0)
            if generation < step["times"]:
                ctx.continue_as_new({**program, "gen": generation + 1})
                return True
        elif op == "lock":
            lock = yield ctx.lock_entities([entities.EntityInstanceId.parse(e) for e in step["entities"]])
            inner: list = []
            with lock:
                stopped = yield from _run(ctx, program, step["steps"], inner)
            values.append(inner)
            if stopped:
                return True
        else:
            started, unwrap = _start_step(ctx, step)
            # A task that already finished (a zero timeout) is not yielded: durabletask-python 1.12.0 does not
            # resume an orchestrator whose first yielded task is already complete until another task event
            # arrives (`run` starts the generator without `resume`), while Rust goes on at once.
            result = started.get_result() if started.is_complete else (yield started)
            values.append(unwrap(result))
    return False


def Script(ctx: task.OrchestrationContext, program: dict):
    values: list = []
    stopped = yield from _run(ctx, program, program["steps"], values)
    return None if stopped else values


def echo(ctx: task.ActivityContext, value: Any) -> Any:
    return value


def boom(ctx: task.ActivityContext, value: Any) -> Any:
    raise ValueError(f"boom:{value}")


def counter(ctx: entities.EntityContext, value: Any) -> Any:
    current = ctx.get_state(int, 0)
    if ctx.operation == "add":
        ctx.set_state(current + int(value))
        return current + int(value)
    if ctx.operation == "get":
        return current
    if ctx.operation == "fail":
        raise KeyError("bad op")
    if ctx.operation == "delete":
        ctx.set_state(None)
    return None


def register(registry: Any) -> None:
    registry.add_orchestrator(Script)
    registry.add_activity(echo)
    registry.add_activity(boom)
    registry.add_entity(counter)


# ------------------------------------------------------------------ the recorded scenarios


def _activity(name: str, value: Any = None) -> dict:
    return {"op": "activity", "name": name, "input": value}


SCENARIOS: dict[str, dict] = {
    "chain": {"steps": [_activity("echo", 1), _activity("echo", "two")]},
    "fan_out": {"steps": [{"op": "all", "of": [_activity("echo", i) for i in range(3)]}]},
    "timer": {"steps": [{"op": "timer", "seconds": 1}, {"op": "status", "value": "after-timer"},
                        _activity("echo", "t")]},
    "act_fail": {"steps": [_activity("boom", 7)]},
    "event": {"steps": [{"op": "event", "name": "Go"}]},
    "race": {"steps": [{"op": "any", "of": [{"op": "event", "name": "Never"}, {"op": "timer", "seconds": 1}]}]},
    "sub": {"steps": [{"op": "sub", "id": "sub-child", "input": {"steps": [_activity("echo", "c")]}}]},
    "entities": {"steps": [
        {"op": "signal", "entity": "@counter@entities", "operation": "add", "input": 5},
        {"op": "call_entity", "entity": "@counter@entities", "operation": "add", "input": 1},
        {"op": "call_entity", "entity": "@counter@entities", "operation": "fail"}]},
    "can": {"steps": [{"op": "continue_as_new", "times": 2}, _activity("echo", "gen")]},
    "orch_fail": {"steps": [_activity("echo", 0), {"op": "fail", "message": "nope"}]},
    # beyond the ten original scenarios
    "nested": {"steps": [
        {"op": "all", "of": [
            {"op": "any", "of": [_activity("echo", "fast"), {"op": "timer", "seconds": 30}]},
            {"op": "all", "of": [_activity("echo", {"k": [1, None, True]}), _activity("echo")]}]},
        {"op": "any", "of": [{"op": "all", "of": [_activity("echo", 1), _activity("echo", 2)]},
                             {"op": "event", "name": "NeverComes"}]}]},
    "signal_call": {"steps": [
        {"op": "signal", "entity": "@counter@signal_call", "operation": "add", "input": 2},
        {"op": "signal", "entity": "@counter@signal_call", "operation": "add", "input": 3},
        {"op": "call_entity", "entity": "@counter@signal_call", "operation": "get"},
        {"op": "call_entity", "entity": "@counter@signal_call", "operation": "delete"},
        {"op": "call_entity", "entity": "@counter@signal_call", "operation": "get"}]},
    "sub_fail": {"steps": [
        {"op": "status", "value": {"phase": "calling child"}},
        {"op": "sub", "input": {"steps": [_activity("echo", "x"), {"op": "fail", "message": "child broke"}]}}]},
    "big_fan_out": {"steps": [{"op": "all", "of": [_activity("echo", i) for i in range(40)]},
                              {"op": "status", "value": "done"}]},
    "buffered_event": {"steps": [{"op": "timer", "seconds": 1}, {"op": "event", "name": "Early"}]},
    "boom_values": {"steps": [{"op": "any", "of": [_activity("boom", {"a": [1, "two", None, False]}),
                                                   {"op": "event", "name": "NeverComes"}]}]},
    # critical sections (entity locks), on the engine's own lock protocol
    "locks": {"steps": [
        {"op": "signal", "entity": "@counter@locks", "operation": "add", "input": 10},
        {"op": "lock", "entities": ["@counter@locks_pair", "@counter@locks", "@Counter@locks"], "steps": [
            {"op": "call_entity", "entity": "@counter@locks", "operation": "add", "input": 1},
            {"op": "call_entity", "entity": "@counter@locks_pair", "operation": "get"},
            _activity("echo", "inside")]},
        {"op": "call_entity", "entity": "@counter@locks", "operation": "get"}]},
    "lock_rule": {"steps": [
        {"op": "lock", "entities": ["@counter@lock_rule"], "steps": [
            {"op": "signal", "entity": "@counter@lock_rule", "operation": "add", "input": 1}]}]},
    "lock_fail": {"steps": [
        {"op": "lock", "entities": ["@counter@lock_fail"], "steps": [
            {"op": "call_entity", "entity": "@counter@lock_fail", "operation": "add", "input": 2},
            {"op": "fail", "message": "inside the lock"}]}]},
}

# Events the recorder raises once the scenario's first episode has been answered (so the orchestration is waiting).
EVENTS: dict[str, list[tuple[str, Any]]] = {
    "event": [("Go", {"x": 1})],
    "buffered_event": [("Early", "ahead of time")],
}


# The worker options of the versioned recording (host.json's names and values), mirrored in
# crates/conformance/src/wire.rs.
VERSIONING: dict[str, str] = {"version": "2.0", "defaultVersion": "2.0", "matchStrategy": "CurrentOrOlder",
                              "failureStrategy": "Fail"}

# Versioned scenarios: the version each instance starts at, and its program.
VERSIONED_SCENARIOS: dict[str, tuple[str | None, dict]] = {
    "v_current": ("2.0", {"steps": [
        {"op": "version"},
        {"op": "sub", "input": {"steps": [{"op": "version"}]}},
        {"op": "sub", "version": "1.5", "input": {"steps": [{"op": "version"}, _activity("echo", "old")]}}]}),
    "v_older": ("1.0", {"steps": [{"op": "version"}, _activity("echo", 1),
                                  {"op": "sub", "input": {"steps": [{"op": "version"}]}}]}),
    "v_dotted": ("1.10", {"steps": [{"op": "version"}]}),
    "v_unversioned": (None, {"steps": [{"op": "version"}, _activity("echo", None)]}),
    "v_newer": ("2.1", {"steps": [{"op": "version"}, _activity("echo", "never")]}),
}


def versioning_options(spec: dict[str, str]) -> worker.VersioningOptions:
    """The Python worker's options for a VERSIONING-shaped spec."""
    match = {"None": worker.VersionMatchStrategy.NONE, "Strict": worker.VersionMatchStrategy.STRICT,
             "CurrentOrOlder": worker.VersionMatchStrategy.CURRENT_OR_OLDER}[spec["matchStrategy"]]
    failure = {"Reject": worker.VersionFailureStrategy.REJECT,
               "Fail": worker.VersionFailureStrategy.FAIL}[spec["failureStrategy"]]
    return worker.VersioningOptions(version=spec.get("version"), default_version=spec.get("defaultVersion"),
                                    match_strategy=match, failure_strategy=failure)


def b64(message: Any) -> str:
    return base64.b64encode(message.SerializeToString()).decode()


def scenario_of(kind: str, instance_id: str, names: Any = SCENARIOS) -> str:
    """The scenario a work item belongs to: entities are keyed by scenario name, orchestration (and activity)
    instance ids start with it."""
    if kind in ("entityRequestV2", "entityBatchRequest"):
        key = instance_id.split("@", 2)[-1]
        matches = [name for name in names if key.startswith(name)]
        return max(matches, key=len) if matches else "client_signal"
    matches = [name for name in names if instance_id.startswith(name)]
    return max(matches, key=len) if matches else "unknown"


# ------------------------------------------------------------------ record


class RecordingBackend(InMemoryOrchestrationBackend):
    """The in-memory engine, noting each work item it sends and the completion that answers it."""

    def __init__(self, out: Any, names: Any = SCENARIOS, extra: dict | None = None):
        super().__init__()
        self._out = out
        self._names = names
        self._extra = extra or {}
        self._pending: dict[tuple[str, str], tuple[str, bytes]] = {}
        self._answered: dict[str, int] = {}
        self._mutex = threading.Condition()

    def GetWorkItems(self, request, context):
        for item in super().GetWorkItems(request, context):
            kind = item.WhichOneof("request")
            if kind in ("orchestratorRequest", "entityRequestV2"):
                work = getattr(item, kind)
                with self._mutex:
                    self._pending[(kind, item.completionToken)] = (work.instanceId, work.SerializeToString())
            elif kind == "activityRequest":
                work = item.activityRequest
                instance_id = work.orchestrationInstance.instanceId
                with self._mutex:
                    self._pending[(kind, f"{instance_id}#{work.taskId}")] = (instance_id, work.SerializeToString())
            yield item

    def _record(self, kind: str, response: Any, key: str) -> None:
        with self._mutex:
            pending = self._pending.pop((kind, key), None)
            if pending is None:
                return
            instance_id, request = pending
            line = {"kind": kind, "scenario": scenario_of(kind, instance_id, self._names),
                    "request": base64.b64encode(request).decode(), "response": b64(response), **self._extra}
            self._out.write(json.dumps(line) + "\n")
            if kind == "orchestratorRequest":
                self._answered[instance_id] = self._answered.get(instance_id, 0) + 1
            self._mutex.notify_all()

    def wait_until_answered(self, instance_id: str, timeout: float = 30.0) -> None:
        with self._mutex:
            if not self._mutex.wait_for(lambda: self._answered.get(instance_id, 0) > 0, timeout):
                raise TimeoutError(f"no episode of {instance_id} was answered within {timeout}s")

    def CompleteOrchestratorTask(self, request, context):
        self._record("orchestratorRequest", request, request.completionToken)
        return super().CompleteOrchestratorTask(request, context)

    def CompleteEntityTask(self, request, context):
        self._record("entityRequestV2", request, request.completionToken)
        return super().CompleteEntityTask(request, context)

    def CompleteActivityTask(self, request, context):
        # the engine matches activity completions by instance and task id, not by token
        self._record("activityRequest", request, f"{request.instanceId}#{request.taskId}")
        return super().CompleteActivityTask(request, context)


def record(path: str, only: list[str] | None = None) -> None:
    """Records every scenario (and a client signal), or only the scenarios named in ``only``."""
    unknown = [name for name in only or [] if name not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenarios: {unknown}; known: {list(SCENARIOS)}")
    scenarios = {name: program for name, program in SCENARIOS.items() if not only or name in only}
    with open(path, "w") as out:
        backend = RecordingBackend(out)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
        stubs.add_TaskHubSidecarServiceServicer_to_server(backend, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        backend._server = server  # lets backend.stop() stop the server too
        address = f"127.0.0.1:{port}"
        failures = []
        with worker.TaskHubGrpcWorker(host_address=address) as python_worker:
            register(python_worker)
            python_worker.start()
            hub = client.TaskHubGrpcClient(host_address=address)
            for name, program in scenarios.items():
                instance_id = hub.schedule_new_orchestration("Script", input=program, instance_id=name)
                if name in EVENTS:
                    backend.wait_until_answered(instance_id)
                    for event_name, data in EVENTS[name]:
                        hub.raise_orchestration_event(instance_id, event_name, data=data)
                state = hub.wait_for_orchestration_completion(instance_id, timeout=60)
                if state is None:
                    failures.append(name)
                    continue
                details = state.failure_details
                error = f"{details.error_type}: {details.message}" if details else None
                print(f"{name:15s} {state.runtime_status.name:10s} output={state.serialized_output} error={error}",
                      file=sys.stderr)
            if not only:
                hub.signal_entity(entities.EntityInstanceId("counter", "client_signal"), "add", 3)
                deadline = time.monotonic() + 30
                while hub.get_entity(entities.EntityInstanceId("counter", "client_signal")) is None:
                    if time.monotonic() > deadline:
                        failures.append("client_signal")
                        break
                    time.sleep(0.05)
        backend.stop(grace=1)
    if failures:
        raise SystemExit(f"scenarios did not finish: {failures}")
    add_v1_batches(path)


def record_versioned(path: str) -> None:
    """Records VERSIONED_SCENARIOS on the in-memory engine with a Python worker using the VERSIONING options."""
    with open(path, "w") as out:
        backend = RecordingBackend(out, VERSIONED_SCENARIOS, {"versioning": VERSIONING})
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
        stubs.add_TaskHubSidecarServiceServicer_to_server(backend, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        backend._server = server
        address = f"127.0.0.1:{port}"
        failures = []
        with worker.TaskHubGrpcWorker(host_address=address) as python_worker:
            register(python_worker)
            python_worker.use_versioning(versioning_options(VERSIONING))
            python_worker.start()
            hub = client.TaskHubGrpcClient(host_address=address)
            for name, (version, program) in VERSIONED_SCENARIOS.items():
                instance_id = hub.schedule_new_orchestration("Script", input=program, instance_id=name,
                                                             version=version)
                state = hub.wait_for_orchestration_completion(instance_id, timeout=60)
                if state is None:
                    failures.append(name)
                    continue
                details = state.failure_details
                error = f"{details.error_type}: {details.message}" if details else None
                print(f"{name:15s} {state.runtime_status.name:10s} output={state.serialized_output} error={error}",
                      file=sys.stderr)
        backend.stop(grace=1)
    if failures:
        raise SystemExit(f"versioned scenarios did not finish: {failures}")


def add_v1_batches(path: str) -> None:
    """Appends V1 (EntityBatchRequest) vectors: each recorded V2 batch converted with the SDK's own converter and
    executed by the Python worker's batch executor (the in-memory engine only speaks V2 on the wire)."""
    registry, python_worker = _executors()
    lines = [json.loads(line) for line in open(path)]
    with open(path, "a") as out:
        for line in lines:
            if line["kind"] != "entityRequestV2":
                continue
            v2 = pb.EntityRequest.FromString(base64.b64decode(line["request"]))
            v1, _ = helpers.convert_to_entity_batch_request(v2)
            response = execute("entityBatchRequest", v1.SerializeToString(), registry, python_worker)
            out.write(json.dumps({"kind": "entityBatchRequest", "scenario": line["scenario"],
                                  "request": b64(v1), "response": b64(response)}) + "\n")


# ------------------------------------------------------------------ offline execution


class _DiscardingStub:
    """Stands in for the sidecar stub the worker's entity batch executor reports to."""

    def CompleteEntityTask(self, result):
        pass


def _executors() -> tuple[Any, worker.TaskHubGrpcWorker]:
    registry = worker._Registry()
    register(registry)
    python_worker = worker.TaskHubGrpcWorker(host_address="127.0.0.1:1")  # never started
    register(python_worker)
    return registry, python_worker


def execute(kind: str, request: bytes, registry: Any, python_worker: worker.TaskHubGrpcWorker,
            completion_token: str = "") -> Any:
    if kind == "orchestratorRequest":
        parsed = pb.OrchestratorRequest.FromString(request)
        executor = worker._OrchestrationExecutor(registry, logging.getLogger("oracle"), JsonDataConverter())
        results = executor.execute(parsed.instanceId, parsed.pastEvents, parsed.newEvents)
        response = pb.OrchestratorResponse(instanceId=parsed.instanceId, actions=results.actions,
                                           completionToken=completion_token)
        if results.encoded_custom_status is not None:
            response.customStatus.value = results.encoded_custom_status
        return response
    if kind == "entityRequestV2":
        return python_worker._execute_entity_batch(pb.EntityRequest.FromString(request), _DiscardingStub(),
                                                   completion_token)
    if kind == "entityBatchRequest":
        return python_worker._execute_entity_batch(pb.EntityBatchRequest.FromString(request), _DiscardingStub(),
                                                   completion_token)
    if kind == "activityRequest":
        return _execute_activity(pb.ActivityRequest.FromString(request), registry, completion_token)
    raise ValueError(f"unknown request kind {kind!r}")


def _execute_activity(request: pb.ActivityRequest, registry: Any, completion_token: str) -> pb.ActivityResponse:
    executor = worker._ActivityExecutor(registry, logging.getLogger("oracle"), JsonDataConverter())
    instance_id = request.orchestrationInstance.instanceId
    response = pb.ActivityResponse(instanceId=instance_id, taskId=request.taskId, completionToken=completion_token)
    try:
        encoded_input = request.input.value if request.HasField("input") else None
        output = executor.execute(instance_id, request.name, request.taskId, encoded_input)
        if output is not None:
            response.result.value = output
    except Exception as error:
        response.failureDetails.CopyFrom(helpers.new_failure_details(error))
    return response


def normalize(message: Any) -> Any:
    """Drops what legitimately differs between two runs of the same executor (tokens, trace contexts, times,
    stack traces). The Rust side normalises further to compare across languages."""
    message = type(message).FromString(message.SerializeToString())
    message.ClearField("completionToken")
    if isinstance(message, pb.OrchestratorResponse):
        message.ClearField("orchestrationTraceContext")
        for action in message.actions:
            inner = getattr(action, action.WhichOneof("orchestratorActionType"))
            if "parentTraceContext" in inner.DESCRIPTOR.fields_by_name:
                inner.ClearField("parentTraceContext")
            if action.HasField("completeOrchestration") and inner.HasField("failureDetails"):
                _clear_stack_traces(inner.failureDetails)
    elif isinstance(message, pb.ActivityResponse):
        if message.HasField("failureDetails"):
            _clear_stack_traces(message.failureDetails)
    else:
        for result in message.results:
            outcome = getattr(result, result.WhichOneof("resultType"))
            outcome.ClearField("startTimeUtc")
            outcome.ClearField("endTimeUtc")
            if result.HasField("failure"):
                _clear_stack_traces(outcome.failureDetails)
    return message


def _clear_stack_traces(details: pb.TaskFailureDetails) -> None:
    details.ClearField("stackTrace")
    if details.HasField("innerFailure"):
        _clear_stack_traces(details.innerFailure)


RESPONSE_TYPES = {"orchestratorRequest": pb.OrchestratorResponse, "entityRequestV2": pb.EntityBatchResult,
                  "entityBatchRequest": pb.EntityBatchResult, "activityRequest": pb.ActivityResponse}


def replay(path: str) -> None:
    registry, python_worker = _executors()
    versioned = worker._Registry()
    register(versioned)
    passed = failed = 0
    for number, line in enumerate(open(path), start=1):
        vector = json.loads(line)
        want = RESPONSE_TYPES[vector["kind"]].FromString(base64.b64decode(vector["response"]))
        chosen = registry
        if "versioning" in vector:
            versioned.versioning = versioning_options(vector["versioning"])
            chosen = versioned
        got = execute(vector["kind"], base64.b64decode(vector["request"]), chosen, python_worker)
        if normalize(got) == normalize(want):
            passed += 1
        else:
            failed += 1
            print(f"line {number} ({vector['scenario']}, {vector['kind']}) differs\n want: {normalize(want)}\n"
                  f" got: {normalize(got)}")
    print(f"{passed} passed, {failed} failed")
    if failed:
        raise SystemExit(1)


# ------------------------------------------------------------------ serve


def answer(line: str, registry: Any, python_worker: worker.TaskHubGrpcWorker) -> dict:
    try:
        request = json.loads(line)
    except json.JSONDecodeError as error:
        return {"error": f"the line is not JSON: {error}"}
    if not isinstance(request, dict) or len(request) != 1:
        return {"error": "expected an object with exactly one key: " + ", ".join(RESPONSE_TYPES)}
    kind, payload = next(iter(request.items()))
    if kind not in RESPONSE_TYPES:
        return {"error": f"unknown request kind {kind!r}; expected one of: " + ", ".join(RESPONSE_TYPES)}
    try:
        raw = base64.b64decode(payload, validate=True)
    except (ValueError, TypeError) as error:
        return {"error": f"{kind} is not valid base64: {error}"}
    try:
        return {"response": b64(execute(kind, raw, registry, python_worker))}
    except Exception as error:  # the oracle keeps serving whatever one request does
        return {"error": f"{kind} could not be executed: {type(error).__name__}: {error}"}


def serve() -> None:
    registry, python_worker = _executors()
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(answer(line, registry, python_worker)), flush=True)


def main(argv: list[str]) -> None:
    logging.disable(logging.CRITICAL)
    commands = {"record": 1, "record-versioned": 1, "replay": 1, "serve": 0}
    if len(argv) < 2 or argv[1] not in commands or len(argv) < 2 + commands[argv[1]]:
        raise SystemExit(__doc__)
    if argv[1] != "record" and len(argv) != 2 + commands[argv[1]]:
        raise SystemExit(__doc__)
    if argv[1] == "record":
        record(argv[2], argv[3:] or None)
    elif argv[1] == "record-versioned":
        record_versioned(argv[2])
    elif argv[1] == "replay":
        replay(argv[2])
    else:
        serve()


if __name__ == "__main__":
    main(sys.argv)
