"""Throughput of the host with a minimal channel against a bare Starlette route calling the same agent.

    python benchmarks/bench_host.py [--duration 5] [--concurrency 16]

Each server runs in its own process; load comes from another process. Prints requests/s side by side.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from _load import load_in_subprocess, server_process  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "packages", "hosting", "src"))
from agent_framework_hosting.testing import free_port  # noqa: E402

APPS = os.path.join(os.path.dirname(__file__), "_apps.py")
SCENARIOS = [
    ("stateless", {"text": "hello there"}, False, None),
    ("session per key", {"text": "hello there"}, False, "k"),
    ("streamed, session per key", {"text": "hello there", "stream": True}, True, "k"),
]


def measure(kind: str, body: dict, stream: bool, key_prefix: str | None, args: argparse.Namespace) -> dict:
    port = free_port()
    with server_process([sys.executable, APPS, kind, "--port", str(port)], port):
        return load_in_subprocess(
            f"http://127.0.0.1:{port}/json",
            body,
            concurrency=args.concurrency,
            duration=args.duration,
            stream=stream,
            key_prefix=key_prefix,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print(f"{'scenario':28} {'bare req/s':>11} {'host req/s':>11} {'ratio':>7} {'host p50 ms':>12} {'errors':>7}")
    for name, body, stream, key_prefix in SCENARIOS:
        bare = measure("bare", body, stream, key_prefix, args)
        host = measure("host", body, stream, key_prefix, args)
        ratio = host["rps"] / bare["rps"] if bare["rps"] else 0.0
        print(
            f"{name:28} {bare['rps']:>11.1f} {host['rps']:>11.1f} {ratio:>7.2f} {host['p50_ms']:>12.2f} "
            f"{bare['errors'] + host['errors']:>7}"
        )


if __name__ == "__main__":
    main()
