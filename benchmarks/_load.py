"""Load generation for the benchmarks: run as its own process against a server on 127.0.0.1.

    python benchmarks/_load.py --url http://127.0.0.1:8000/x --body '{"input": "hi"}' --concurrency 16 --duration 5

Prints one JSON line: {"requests", "errors", "seconds", "rps", "p50_ms", "p99_ms"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx


async def _worker(
    client: httpx.AsyncClient,
    url: str,
    body: Any,
    deadline: float,
    stream: bool,
    latencies: list[float],
    errors: list[int],
    key_prefix: str | None,
    worker: int,
) -> None:
    turn = 0
    while time.perf_counter() < deadline:
        payload = body
        if key_prefix is not None:
            payload = {**body, "key": f"{key_prefix}-{worker}-{turn % 4}"}
        turn += 1
        started = time.perf_counter()
        try:
            if stream:
                async with client.stream("POST", url, json=payload) as response:
                    async for _ in response.aiter_raw():
                        pass
                    ok = response.status_code < 400
            else:
                response = await client.post(url, json=payload)
                ok = response.status_code < 400
        except httpx.HTTPError:
            ok = False
        if ok:
            latencies.append(time.perf_counter() - started)
        else:
            errors.append(1)


async def run_load(
    url: str,
    body: Any,
    *,
    concurrency: int,
    duration: float,
    stream: bool = False,
    warmup: float = 1.0,
    key_prefix: str | None = None,
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        if warmup:
            await asyncio.gather(
                *(
                    _worker(client, url, body, time.perf_counter() + warmup, stream, [], [], key_prefix, i)
                    for i in range(concurrency)
                )
            )
        latencies: list[float] = []
        errors: list[int] = []
        started = time.perf_counter()
        deadline = started + duration
        await asyncio.gather(
            *(
                _worker(client, url, body, deadline, stream, latencies, errors, key_prefix, i)
                for i in range(concurrency)
            )
        )
        seconds = time.perf_counter() - started
    latencies.sort()

    def percentile(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else 0.0

    return {
        "requests": len(latencies),
        "errors": len(errors),
        "seconds": round(seconds, 2),
        "rps": round(len(latencies) / seconds, 1),
        "p50_ms": percentile(0.5),
        "p99_ms": percentile(0.99),
    }


def load_in_subprocess(
    url: str, body: Any, *, concurrency: int, duration: float, stream: bool = False, key_prefix: str | None = None
) -> dict[str, Any]:
    """Run the load generator as a separate process and return its figures."""
    command = [
        sys.executable,
        __file__,
        "--url",
        url,
        "--body",
        json.dumps(body),
        "--concurrency",
        str(concurrency),
        "--duration",
        str(duration),
    ]
    if stream:
        command.append("--stream")
    if key_prefix is not None:
        command += ["--key-prefix", key_prefix]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextmanager
def server_process(
    command: Sequence[str], port: int, *, timeout: float = 30.0, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server command, wait until `port` accepts connections, and stop it afterwards."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "packages", "hosting", "src"))
    from agent_framework_hosting.testing import wait_for_port

    process = subprocess.Popen(
        list(command),
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port, timeout=timeout)
        yield process
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", default="{}")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--key-prefix", default=None)
    args = parser.parse_args(argv)
    figures = asyncio.run(
        run_load(
            args.url,
            json.loads(args.body),
            concurrency=args.concurrency,
            duration=args.duration,
            stream=args.stream,
            key_prefix=args.key_prefix,
        )
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
