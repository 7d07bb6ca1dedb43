"""Turns/s of the host with memory, disk and Redis state, and with one vs two host processes on Redis.

    python benchmarks/bench_state.py [--duration 4] [--concurrency 16]

Every turn has a session (keys cycle per load worker), so each one loads and saves
state and takes the key's turn lock. Host processes and load generators are
separate processes; a throwaway `redis-server` is started on a free port. With two
hosts, two load processes (one per host, disjoint keys) share the concurrency.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "packages", "hosting", "src"))
sys.path.insert(0, os.path.join(HERE, "..", "packages", "hosting", "tests"))

from _load import load_in_subprocess, server_process  # noqa: E402
from agent_framework_hosting.testing import free_port  # noqa: E402
from redis_server import RedisServer  # noqa: E402

APPS = os.path.join(HERE, "_apps.py")


def measure(state: str | None, processes: int, args: argparse.Namespace) -> dict[str, Any]:
    """Serve `processes` hosts on `state`, load each from its own process, and add up the figures."""
    ports = [free_port() for _ in range(processes)]
    with ExitStack() as stack:
        for port in ports:
            command = [sys.executable, APPS, "host", "--port", str(port)]
            stack.enter_context(server_process(command + (["--state-dir", state] if state else []), port))
        per_host = max(1, args.concurrency // processes)
        with ThreadPoolExecutor(processes) as pool:
            runs = [
                pool.submit(
                    load_in_subprocess,
                    f"http://127.0.0.1:{port}/json",
                    {"text": "hello there"},
                    concurrency=per_host,
                    duration=args.duration,
                    key_prefix=f"h{index}",
                )
                for index, port in enumerate(ports)
            ]
            figures = [run.result() for run in runs]
    return {
        "rps": sum(f["rps"] for f in figures),
        "p50_ms": max(f["p50_ms"] for f in figures),
        "p99_ms": max(f["p99_ms"] for f in figures),
        "errors": sum(f["errors"] for f in figures),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with RedisServer() as redis, tempfile.TemporaryDirectory(prefix="afh-bench-") as folder:

        def redis_state() -> str:
            return f"{redis.url}?prefix=bench{uuid.uuid4().hex[:8]}:"

        scenarios = [
            ("memory", None, 1),
            ("disk", os.path.join(folder, "state"), 1),
            ("redis", redis_state(), 1),
            ("redis, two processes", redis_state(), 2),
        ]
        print(f"{args.concurrency} concurrent clients, {args.duration:g} s per scenario, sessions on every turn")
        print(f"{'state':24} {'hosts':>5} {'turns/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for name, state, processes in scenarios:
            result = measure(state, processes, args)
            print(
                f"{name:24} {processes:>5} {result['rps']:>9.1f} {result['p50_ms']:>8.2f} {result['p99_ms']:>8.2f} "
                f"{result['errors']:>7}",
                flush=True,
            )


if __name__ == "__main__":
    main()
