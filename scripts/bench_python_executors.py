#!/usr/bin/env python3
"""Times durabletask-python 1.12.0's executors on the request vectors the Rust benches wrote.

Usage:
    .venv/bin/python scripts/bench_python_executors.py time [--dir DIR] [--samples N] [--min-sample-ms MS] [CASE...]
    .venv/bin/python scripts/bench_python_executors.py rss CASE [--dir DIR]
    .venv/bin/python scripts/bench_python_executors.py count CASE [--iterations N] [--dir DIR]

The vectors (``target/bench-vectors``: one raw protobuf request per case plus ``manifest.json``) come from
``cargo bench -p durabletask-sdk --bench executor_report -- vectors``. Each timed run is what the Python worker
does with one work item: parse the request (``FromString``), run the executor (``_OrchestrationExecutor.execute``
or ``TaskHubGrpcWorker._execute_entity_batch``), build the completion and serialize it. The registrations
mirror the Rust benchmark app (crates/durabletask-sdk/benches/support/app.rs).

``time`` prints ``case  median_us  iterations_per_sample  samples  answer``, sampled like the Rust side: each
sample repeats the run enough times to last at least --min-sample-ms, and the median per-run time is reported.
``rss`` runs one case once in this process and prints ``case  peak_kib  baseline_kib`` (VmHWM at the end, VmRSS
before the request was loaded).
``count`` runs one case once (checked) and then --iterations more times, for callgrind: the instructions of one
work item are the difference between two runs with different --iterations, divided by the difference.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import durabletask.internal.orchestrator_service_pb2 as pb
from durabletask import entities, task, worker
from durabletask.serialization import JsonDataConverter

COMPLETION_TOKEN = "bench-completion-token"
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "target" / "bench-vectors"


# ---- the benchmark app (same names and behaviour as the Rust registrations) ----

def echo(ctx, value):
    return value


def chain(ctx: task.OrchestrationContext, n):
    total = 0
    for index in range(n):
        total += yield ctx.call_activity("echo", input=index)
    return total


def fan_out(ctx: task.OrchestrationContext, n):
    results = yield task.when_all([ctx.call_activity("echo", input=index) for index in range(n)])
    return sum(results)


def counter(ctx: entities.EntityContext, value):
    state = ctx.get_state(int, 0)
    if ctx.operation == "add":
        state += int(value)
        ctx.set_state(state)
        return state
    if ctx.operation == "get":
        return state
    raise ValueError(f"counter has no operation '{ctx.operation}'")


def register(registry) -> None:
    registry.add_activity(echo)
    registry.add_orchestrator(chain)
    registry.add_orchestrator(fan_out)
    registry.add_entity(counter)


class _NullStub:
    """Stands in for the gRPC stub: the entity batch path may report through it."""

    def CompleteEntityTask(self, request):  # noqa: N802 - gRPC method name
        pass

    def AbandonTaskEntityWorkItem(self, request):  # noqa: N802 - gRPC method name
        pass


class Runner:
    """Runs one work item's payload the way TaskHubGrpcWorker does, minus the network."""

    def __init__(self) -> None:
        self.registry = worker._Registry()  # noqa: SLF001 - the executors are internal API
        register(self.registry)
        # Never started: only its entity batch path is used.
        self.worker = worker.TaskHubGrpcWorker(host_address="127.0.0.1:1")
        register(self.worker)
        self.logger = logging.getLogger("bench")
        self.converter = JsonDataConverter()
        self.stub = _NullStub()

    def run(self, kind: str, request_bytes: bytes) -> bytes:
        if kind == "orchestrator":
            request = pb.OrchestratorRequest.FromString(request_bytes)
            executor = worker._OrchestrationExecutor(self.registry, self.logger, self.converter)  # noqa: SLF001
            results = executor.execute(request.instanceId, request.pastEvents, request.newEvents)
            response = pb.OrchestratorResponse(
                instanceId=request.instanceId, actions=results.actions, completionToken=COMPLETION_TOKEN)
            if results.encoded_custom_status is not None:
                response.customStatus.value = results.encoded_custom_status
            return response.SerializeToString()
        if kind == "entity_batch":
            request = pb.EntityBatchRequest.FromString(request_bytes)
            result = self.worker._execute_entity_batch(request, self.stub, COMPLETION_TOKEN)  # noqa: SLF001
            return result.SerializeToString()
        raise ValueError(f"unknown request kind {kind!r}")


def answer_of(kind: str, response_bytes: bytes) -> str:
    """The same summary the Rust side prints, to check both computed the same thing."""
    if kind == "orchestrator":
        response = pb.OrchestratorResponse.FromString(response_bytes)
        for action in response.actions:
            if action.HasField("completeOrchestration"):
                complete = action.completeOrchestration
                if complete.HasField("failureDetails"):
                    return f"failed: {complete.failureDetails.errorType}: {complete.failureDetails.errorMessage}"
                return f"output {complete.result.value if complete.HasField('result') else 'null'}"
        return f"not completed ({len(response.actions)} actions)"
    result = pb.EntityBatchResult.FromString(response_bytes)
    succeeded = sum(1 for r in result.results if r.HasField("success"))
    state = result.entityState.value if result.HasField("entityState") else "null"
    return f"state {state} after {succeeded} successful operations"


def load_manifest(directory: Path) -> dict[str, dict]:
    path = directory / "manifest.json"
    if not path.exists():
        sys.exit(f"{path} is missing: run `cargo bench -p durabletask-sdk --bench executor_report -- vectors` first")
    return {entry["case"]: entry for entry in json.loads(path.read_text())}


def checked_run(runner: Runner, entry: dict, request_bytes: bytes) -> str:
    answer = answer_of(entry["kind"], runner.run(entry["kind"], request_bytes))
    if answer != entry["expected_answer"]:
        sys.exit(f"{entry['case']} answered {answer!r}, expected {entry['expected_answer']!r}")
    return answer


def time_case(runner: Runner, entry: dict, request_bytes: bytes, samples: int, min_sample: float) -> tuple[float, int]:
    kind = entry["kind"]

    def sample(iterations: int) -> float:
        started = time.perf_counter()
        for _ in range(iterations):
            runner.run(kind, request_bytes)
        return time.perf_counter() - started

    iterations = 1
    while True:  # calibration doubles as the warm-up
        elapsed = sample(iterations)
        if elapsed >= min_sample:
            break
        wanted = min_sample / max(elapsed, 1e-9) * iterations
        iterations = max(iterations + 1, min(int(wanted) + 1, iterations * 10))
    per_run = [sample(iterations) / iterations for _ in range(samples)]
    return statistics.median(per_run), iterations


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["time", "rss", "count"])
    parser.add_argument("cases", nargs="*", help="case names (default: every case in the manifest)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the vectors are")
    parser.add_argument("--samples", type=int, default=11)
    parser.add_argument("--min-sample-ms", type=float, default=50.0)
    parser.add_argument("--iterations", type=int, default=1, help="count: work items run after the checked one")
    args = parser.parse_intermixed_args(argv)
    logging.disable(logging.CRITICAL)  # as a worker configured not to log per work item

    manifest = load_manifest(args.dir)
    names = args.cases or list(manifest)
    unknown = [name for name in names if name not in manifest]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    runner = Runner()

    if args.mode == "rss":
        if len(names) != 1:
            parser.error("rss takes exactly one case")
        entry = manifest[names[0]]
        baseline = status_kib("VmRSS")
        request_bytes = (args.dir / entry["file"]).read_bytes()
        checked_run(runner, entry, request_bytes)
        print(f"{entry['case']}\t{status_kib('VmHWM')}\t{baseline}", flush=True)
        return 0

    if args.mode == "count":
        # For callgrind: the instructions of one work item are the difference between two iteration counts.
        if len(names) != 1:
            parser.error("count takes exactly one case")
        entry = manifest[names[0]]
        request_bytes = (args.dir / entry["file"]).read_bytes()
        checked_run(runner, entry, request_bytes)
        for _ in range(args.iterations):
            runner.run(entry["kind"], request_bytes)
        return 0

    for name in names:
        entry = manifest[name]
        request_bytes = (args.dir / entry["file"]).read_bytes()
        answer = checked_run(runner, entry, request_bytes)
        median, iterations = time_case(runner, entry, request_bytes, args.samples, args.min_sample_ms / 1000)
        print(f"{name}\t{median * 1e6:.3f}\t{iterations}\t{args.samples}\t{answer}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
