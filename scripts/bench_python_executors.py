#!/usr/bin/env python3
"""Times durabletask-python 1.12.0's executors on the request vectors the Rust benches wrote.

Usage:
    .venv/bin/python scripts/bench_python_executors.py time [--dir DIR] [--samples N] [--min-sample-ms MS] [CASE...]
    .venv/bin/python scripts/bench_python_executors.py rss CASE [--dir DIR]
    .venv/bin/python scripts/bench_python_executors.py count CASE [--iterations N] [--dir DIR]
    .venv/bin/python scripts/bench_python_executors.py pipe
    .venv/bin/python scripts/bench_python_executors.py pipe-time --server COMMAND [--dir DIR] [--samples N]
                                                     [--min-sample-ms MS] [CASE...]

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
``pipe`` serves the line protocol of crates/conformance/src/serve.rs (and oracle.py serve) on stdin/stdout with
these executors: ``{"orchestratorRequest": "<base64 protobuf>"}`` or ``{"entityBatchRequest": ...}`` in, one line
each, ``{"response": "<base64 protobuf>"}`` (or ``{"error": "..."}``) out, flushed after every answer.
``pipe-time`` starts COMMAND (a pipe server: this script's ``pipe``, or ``executor_report pipe``) and times one
work item through it per case: each sample writes the case's request line K times (from a thread of its own, so
that neither side blocks on a full pipe) and reads the K answers; the time per line is the sample's time / K,
sampled like ``time``. Every answer is then checked (a response whose summary is the case's expected answer). It
prints ``case  median_us_per_line  lines_per_sample  samples  answer``, where answer adds the response's number of
actions (orchestrations) to the expected answer, so both sides' lines can be compared.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import shlex
import statistics
import subprocess
import sys
import threading
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


# ---- the line pipe ----

PIPE_KINDS = {"orchestratorRequest": "orchestrator", "entityBatchRequest": "entity_batch"}
PIPE_KEYS = {kind: key for key, kind in PIPE_KINDS.items()}


def pipe_answer(runner: Runner, line: bytes) -> dict:
    """The answer to one request line, as executor_report's pipe gives it."""
    try:
        request = json.loads(line)
    except ValueError as error:
        return {"error": f"the line is not JSON: {error}"}
    if not isinstance(request, dict) or len(request) != 1 or not isinstance(next(iter(request.values())), str):
        return {"error": "expected an object with exactly one key (orchestratorRequest or entityBatchRequest) "
                         "whose value is a base64 string"}
    key, payload = next(iter(request.items()))
    if key in ("entityRequestV2", "activityRequest"):
        return {"error": f"{key} is not served by this pipe: it runs the benchmark's cases "
                         "(orchestratorRequest, entityBatchRequest)"}
    if key not in PIPE_KINDS:
        return {"error": f"unknown request kind '{key}'"}
    try:
        request_bytes = base64.b64decode(payload, validate=True)
    except binascii.Error as error:
        return {"error": f"{key} is not valid base64: {error}"}
    try:
        response = runner.run(PIPE_KINDS[key], request_bytes)
    except Exception as error:  # a worker answers the next line whatever this one did
        return {"error": f"{key} could not be executed: {type(error).__name__}: {error}"}
    return {"response": base64.b64encode(response).decode("ascii")}


def serve_pipe(runner: Runner) -> None:
    """Answers request lines on stdin until end of input, flushing each answer (the host may be waiting for it)."""
    output = sys.stdout.buffer
    for line in sys.stdin.buffer:
        if line.strip():
            output.write(json.dumps(pipe_answer(runner, line)).encode() + b"\n")
            output.flush()


class PipeServer:
    """A pipe server process: request lines go to its stdin from a writer thread, answers come from its stdout."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.write_error: BaseException | None = None

    def _write(self, data: bytes) -> None:
        try:
            self.process.stdin.write(data)
            self.process.stdin.flush()
        except BaseException as error:  # reported by exchange, once the answers stop
            self.write_error = error

    def exchange(self, line: bytes, count: int) -> tuple[float, list[bytes]]:
        """Sends `line` `count` times and reads the `count` answers; returns the seconds that took and the answers."""
        data = line * count
        writer = threading.Thread(target=self._write, args=(data,))
        started = time.perf_counter()
        writer.start()
        answers = [self.process.stdout.readline() for _ in range(count)]
        elapsed = time.perf_counter() - started
        writer.join()
        if self.write_error is not None or not answers[-1]:
            self.close()
            sys.exit(f"the pipe server stopped (exit code {self.process.returncode}) after "
                     f"{sum(1 for answer in answers if answer)} of {count} answers; writing: {self.write_error!r}")
        return elapsed, answers

    def close(self) -> None:
        try:
            self.process.stdin.close()
        except BrokenPipeError:  # the server is gone already
            pass
        self.process.wait()


def pipe_answer_of(kind: str, answer_line: bytes) -> tuple[str, int | None]:
    """The answer_of of one answer line, which must be a response, and the response's number of actions (for
    orchestrations; None for entity batches, whose answer counts the operations)."""
    answer = json.loads(answer_line)
    if not isinstance(answer, dict) or not isinstance(answer.get("response"), str):
        sys.exit(f"the pipe answered {answer_line[:300]!r}, not a response")
    response_bytes = base64.b64decode(answer["response"], validate=True)
    actions = len(pb.OrchestratorResponse.FromString(response_bytes).actions) if kind == "orchestrator" else None
    return answer_of(kind, response_bytes), actions


def pipe_time_case(server: PipeServer, entry: dict, request_bytes: bytes, samples: int,
                   min_sample: float) -> tuple[float, int, str]:
    """The median time per line of the case through the pipe, the lines per sample and the checked answer."""
    kind = entry["kind"]
    line = json.dumps({PIPE_KEYS[kind]: base64.b64encode(request_bytes).decode("ascii")}).encode() + b"\n"
    summaries: dict[bytes, str] = {}  # answer line -> its summary (each distinct line is decoded once)

    def checked(answers: list[bytes]) -> None:  # after the clock has stopped
        for answer_line in answers:
            if answer_line in summaries:
                continue
            answer, actions = pipe_answer_of(kind, answer_line)
            if answer != entry["expected_answer"]:
                sys.exit(f"{entry['case']} answered {answer!r} through the pipe, expected {entry['expected_answer']!r}")
            summaries[answer_line] = answer if actions is None else f"{answer}, {actions} action(s)"

    checked(server.exchange(line, 3)[1])  # warm-up
    lines = 1
    while True:  # calibration doubles as more warm-up
        elapsed, answers = server.exchange(line, lines)
        checked(answers)
        if elapsed >= min_sample:
            break
        wanted = min_sample / max(elapsed, 1e-9) * lines
        lines = max(lines + 1, min(int(wanted) + 1, lines * 10))
    per_line = []
    for _ in range(samples):
        elapsed, answers = server.exchange(line, lines)
        checked(answers)
        per_line.append(elapsed / lines)
    kinds = set(summaries.values())
    if len(kinds) != 1:
        sys.exit(f"{entry['case']}: the pipe's answers differ: {sorted(kinds)}")
    return statistics.median(per_line), lines, kinds.pop()


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
    parser.add_argument("mode", choices=["time", "rss", "count", "pipe", "pipe-time"])
    parser.add_argument("cases", nargs="*", help="case names (default: every case in the manifest)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the vectors are")
    parser.add_argument("--samples", type=int, default=11)
    parser.add_argument("--min-sample-ms", type=float, default=50.0)
    parser.add_argument("--iterations", type=int, default=1, help="count: work items run after the checked one")
    parser.add_argument("--server", help="pipe-time: the pipe server's command line (split like a shell would)")
    args = parser.parse_intermixed_args(argv)
    logging.disable(logging.CRITICAL)  # as a worker configured not to log per work item

    if args.mode == "pipe":
        if args.cases:
            parser.error("pipe takes no cases")
        serve_pipe(Runner())
        return 0

    manifest = load_manifest(args.dir)
    names = args.cases or list(manifest)
    unknown = [name for name in names if name not in manifest]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")

    if args.mode == "pipe-time":
        if not args.server:
            parser.error("pipe-time needs --server COMMAND")
        server = PipeServer(shlex.split(args.server))
        for name in names:
            entry = manifest[name]
            request_bytes = (args.dir / entry["file"]).read_bytes()
            median, lines, answer = pipe_time_case(server, entry, request_bytes, args.samples,
                                                   args.min_sample_ms / 1000)
            print(f"{name}\t{median * 1e6:.3f}\t{lines}\t{args.samples}\t{answer}", flush=True)
        server.close()
        return 0

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
