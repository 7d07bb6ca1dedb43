"""State backends: turns/s and latency per backend and process count, and the host's own cost per turn.

    python benchmarks/bench_state.py [--duration 4] [--concurrency 16] [--turns 400] [--only throughput|cost]

Throughput: the host (`_servers.py host`, uvicorn) with memory, folder, Redis and PostgreSQL
state, one and two host processes; every turn has a session (each load worker cycles over
four keys), so each one takes the key's turn lock, loads and saves. Host processes are pinned
to core 0; the load generator, redis-server and PostgreSQL to core 1.

Cost per turn: one conversation driven in-process for `--turns` turns; the host's own cost of
a turn is its total minus the agent's `run`, reported (median of seven turns) at turn 10, 100
and 400, with the agent's cost beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "packages", "hosting", "src"))

from _load import load_in_subprocess, server_process  # noqa: E402
from agent_framework import Agent  # noqa: E402
from agent_framework_hosting import AgentFrameworkHost, ChannelRequest, ChannelSession  # noqa: E402
from agent_framework_hosting.testing import OfflineChatClient, PostgresServer, RedisServer, free_port  # noqa: E402

SERVERS = os.path.join(HERE, "_servers.py")
HOST_CORE = "0"
SIDE_CORE = "1"
COST_AT = (10, 100, 400)


def pin(pid: int, core: str) -> None:
    subprocess.run(["taskset", "-a", "-p", "-c", core, str(pid)], check=False, capture_output=True)


@contextmanager
def backends() -> Iterator[dict[str, Any]]:
    """Memory, a folder, a redis-server and a PostgreSQL server (durable settings), each a fresh namespace per call."""
    with RedisServer() as redis, PostgresServer(durable=True) as postgres, tempfile.TemporaryDirectory() as folder:
        assert redis.process is not None and postgres.process is not None
        pin(redis.process.pid, SIDE_CORE)
        pin(postgres.process.pid, SIDE_CORE)
        yield {
            "memory": lambda: None,
            "folder": lambda: os.path.join(folder, uuid.uuid4().hex[:8]),
            "redis": lambda: f"{redis.url}?prefix=bench{uuid.uuid4().hex[:8]}:",
            "postgresql": lambda: f"{postgres.url}?schema=bench{uuid.uuid4().hex[:8]}",
        }


def throughput(state: str | None, processes: int, args: argparse.Namespace) -> dict[str, Any]:
    """Serve `processes` hosts on `state`, load each from its own process, and add up the figures."""
    ports = [free_port() for _ in range(processes)]
    with ExitStack() as stack:
        for port in ports:
            command = ["taskset", "-c", HOST_CORE, sys.executable, SERVERS, "host", "--port", str(port)]
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


class TimedAgent:
    """The offline agent, remembering how long its last `run` took."""

    def __init__(self) -> None:
        self.agent = Agent(client=OfflineChatClient(), name="echo")
        self.spent = 0.0

    def create_session(self, **kwargs: Any) -> Any:
        return self.agent.create_session(**kwargs)

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await self.agent.run(*args, **kwargs)
        finally:
            self.spent = time.perf_counter() - started


async def cost_per_turn(state: str | None, turns: int) -> dict[int, tuple[float, float]]:
    """{turn: (host ms, agent ms)}, medians of the seven turns ending at each of `COST_AT`."""
    agent = TimedAgent()
    host = AgentFrameworkHost(agent, channels=[], state_dir=state)
    own: list[tuple[float, float]] = []
    try:
        for number in range(1, turns + 1):
            request = ChannelRequest("bench", "message", f"message {number}", session=ChannelSession("one"))
            started = time.perf_counter()
            await host.context.run(request)
            total = time.perf_counter() - started
            own.append(((total - agent.spent) * 1000, agent.spent * 1000))
    finally:
        await host.state.aclose()
    return {
        at: (statistics.median(o[0] for o in own[at - 7 : at]), statistics.median(o[1] for o in own[at - 7 : at]))
        for at in COST_AT
        if at <= turns
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--turns", type=int, default=400)
    parser.add_argument("--only", choices=["throughput", "cost"], default=None)
    args = parser.parse_args()
    with backends() as locations:
        if args.only in (None, "throughput"):
            print(f"{args.concurrency} concurrent clients, {args.duration:g} s per scenario, sessions on every turn")
            print(f"{'state':12} {'hosts':>5} {'turns/s':>9} {'per host':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
            for name, location in locations.items():
                for processes in (1, 2):
                    if name == "memory" and processes == 2:
                        continue  # memory state is per process: two hosts would not share conversations
                    result = throughput(location(), processes, args)
                    print(
                        f"{name:12} {processes:>5} {result['rps']:>9.1f} {result['rps'] / processes:>9.1f} "
                        f"{result['p50_ms']:>8.2f} {result['p99_ms']:>8.2f} {result['errors']:>7}",
                        flush=True,
                    )
        if args.only in (None, "cost"):
            os.sched_setaffinity(0, {int(HOST_CORE)})
            print(f"\nhost's own cost per turn, one conversation of {args.turns} turns (ms; agent's run beside)")
            print(f"{'state':12} " + " ".join(f"{'turn ' + str(at):>16}" for at in COST_AT) + f" {'400/10':>7}")
            for name, location in locations.items():
                costs = asyncio.run(cost_per_turn(location(), args.turns))
                cells = " ".join(f"{costs[at][0]:>7.2f} ({costs[at][1]:>5.1f})" for at in COST_AT if at in costs)
                ratio = costs[400][0] / costs[10][0] if 400 in costs and 10 in costs else float("nan")
                print(f"{name:12} {cells} {ratio:>7.2f}", flush=True)


if __name__ == "__main__":
    main()
