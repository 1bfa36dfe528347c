#!/usr/bin/env python3
"""Local durable engine: Microsoft's in-memory Durable Task backend served on loopback.

Serves ``durabletask.testing.InMemoryOrchestrationBackend`` (PyPI durabletask==1.12.0) as a
``TaskHubSidecarService`` gRPC server bound to 127.0.0.1 only, for local runs, the demo and the
end-to-end tests. All state lives in this process's memory and is gone when it stops.

Usage:
    .venv/bin/python scripts/local_engine.py [PORT] [--threads N] [--no-stdin-watch] [--verbose]

    PORT 0 (the default) picks a free port. Once the server accepts connections the script prints
    ``LISTENING <port>`` on stdout (flushed). It stops on SIGTERM or SIGINT and, unless
    --no-stdin-watch is given, when its stdin reaches end-of-file: a parent that starts it with a
    pipe on stdin and then dies (even by SIGKILL) therefore never leaves an engine behind.

Exit status: 0 after a clean stop, 2 on bad arguments, 3 when the port cannot be bound.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from concurrent import futures

import grpc

import durabletask.internal.orchestrator_service_pb2_grpc as sidecar_stubs
from durabletask.testing import InMemoryOrchestrationBackend

LOOPBACK = "127.0.0.1"
STOP_GRACE_SECONDS = 1.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve durabletask's in-memory engine on 127.0.0.1.")
    parser.add_argument("port", nargs="?", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--threads", type=int, default=64,
                        help="gRPC server worker threads; each open GetWorkItems stream or wait call holds one")
    parser.add_argument("--no-stdin-watch", action="store_true",
                        help="do not stop when stdin closes (for running it detached from a shell)")
    parser.add_argument("--verbose", action="store_true", help="log the engine's INFO messages on stderr")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"port must be between 0 and 65535, got {args.port}")
    if args.threads < 2:
        parser.error(f"--threads must be at least 2, got {args.threads}")
    return args


def start_server(port: int, threads: int) -> tuple[InMemoryOrchestrationBackend, int]:
    """Builds the backend and its gRPC server ourselves: backend.start() would bind every interface."""
    backend = InMemoryOrchestrationBackend()
    # SO_REUSEPORT (on by default in grpcio) would let a second engine silently share a busy port.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="engine-rpc"),
                         options=[("grpc.so_reuseport", 0)])
    sidecar_stubs.add_TaskHubSidecarServiceServicer_to_server(backend, server)
    try:
        bound_port = server.add_insecure_port(f"{LOOPBACK}:{port}")
    except RuntimeError as error:  # grpcio raises when the address is taken
        raise OSError(f"cannot listen on {LOOPBACK}:{port}: {error}") from error
    if bound_port == 0:  # older grpcio reports a failed bind by returning 0
        raise OSError(f"cannot listen on {LOOPBACK}:{port}")
    server.start()
    # backend.stop() shuts down whatever server it holds and wakes its GetWorkItems loops.
    backend._server = server  # noqa: SLF001 - the backend has no public setter for this
    return backend, bound_port


def stop_when_stdin_closes(stop: threading.Event) -> None:
    def watch() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        stop.set()

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="engine %(levelname)s %(name)s: %(message)s")
    try:
        backend, port = start_server(args.port, args.threads)
    except OSError as error:
        print(f"local_engine: {error}", file=sys.stderr, flush=True)
        return 3

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if not args.no_stdin_watch:
        stop_when_stdin_closes(stop)

    print(f"LISTENING {port}", flush=True)
    # A bounded wait keeps the main thread responsive to signals on every platform.
    while not stop.wait(timeout=0.5):
        pass
    backend.stop(grace=STOP_GRACE_SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
