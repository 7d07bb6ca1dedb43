"""State backends under `wrk`: turns/s and latency per backend and process count, and the host's own cost per turn.

    python benchmarks/bench_state.py [--seconds 10] [--warmup 10] [--rounds 2] [--connections 32]
                                     [--only throughput|cost] [--turns 410] [--repeat 3] [--model-latency 0.02]
                                     [--backends memory folder redis postgresql]

Throughput: the host (`_servers.py host`, the JSON channel) with memory, folder, Redis and
PostgreSQL state, one process and two (uvicorn workers sharing the port and the state). Every
request is a turn of one of 64 conversations, so each takes its key's turn lock, loads and saves.
Each row is measured beside memory mode (the baseline column), alternating, so the ratio is the
backend's share of memory mode's throughput; the static route checks that `wrk` was not the limit.
Host processes are pinned to core 0; `wrk`, redis-server and PostgreSQL to core 1.

Cost per turn: one conversation driven in-process for `--turns` turns, `--repeat` times. The host's
own cost of a turn is its total minus the agent's `run`, as wall time (with the store's I/O) and as
CPU time (robust to a loaded machine); each figure is the median of the 21 turns around turn 10,
100 and 400 over all repeats (turn 10: turns 1 to 20), with the agent's own wall time beside.

The offline model answers after `--model-latency` seconds (an `asyncio.sleep`, as a real model call
waits on the network; 0 answers at once). Without it the early turns are unfairly cheap: they run
back to back in about 2 ms, so the host's code and data stay in the CPU's caches from one turn to
the next, while at turn 400 the agent's own 13 ms walk over 800 messages evicts them. Padding the
agent's run at turn 10 with that much work of its own (to_dict() of 1,600 messages) made the host's
CPU per turn there the same as at turn 400, so that gap measured the agent's footprint, not work the
host does per message. No real turn runs hot: every one waits for a model first.

What does not depend on the CPU's caches is the host's work itself: one more run per backend counts
the Python and C function calls the host makes per turn (`sys.setprofile`, off during the agent's
run), median of the same turns; equal counts at turn 10 and 400 mean no per-message work.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "packages", "hosting", "src"))

from _wrk import LOAD_CORE, SERVER_CORE, Bench, Target, Template  # noqa: E402
from agent_framework import Agent  # noqa: E402
from agent_framework_hosting import AgentFrameworkHost, ChannelRequest, ChannelSession  # noqa: E402
from agent_framework_hosting.testing import OfflineChatClient, PostgresServer, RedisServer  # noqa: E402

COST_AT = (10, 100, 400)
WINDOW = 10  # turns each side of a measured turn
Turn = tuple[float, float, float, int]
EVENT_LOOP = os.path.dirname(asyncio.__file__)
SELECTORS = os.sep + "selectors.py"


def pin(pid: int, core: str) -> None:
    subprocess.run(["taskset", "-a", "-p", "-c", core, str(pid)], check=False, capture_output=True)


@contextmanager
def backends() -> Iterator[dict[str, Callable[[], str | None]]]:
    """Memory, a folder, a redis-server and a PostgreSQL server (durable settings), each a fresh namespace per call."""
    with RedisServer() as redis, PostgresServer(durable=True) as postgres, tempfile.TemporaryDirectory() as folder:
        assert redis.process is not None and postgres.process is not None
        pin(redis.process.pid, LOAD_CORE)
        pin(postgres.process.pid, LOAD_CORE)
        yield {
            "memory": lambda: None,
            "folder": lambda: os.path.join(folder, uuid.uuid4().hex[:8]),
            "redis": lambda: f"{redis.url}?prefix=bench{uuid.uuid4().hex[:8]}:",
            "postgresql": lambda: f"{postgres.url}?schema=bench{uuid.uuid4().hex[:8]}",
        }


def turns() -> Template:
    """Turns of 64 conversations in rotation, each request a new message."""
    return Template("/json", '{"text": "hello there {n}", "key": "chat-{chat}"}')


def host(label: str, state: str | None, processes: int = 1) -> Target:
    args = ["--workers", str(processes)] + (["--state-dir", state] if state else [])
    return Target(label, "host", turns(), server_args=args)


def throughput(bench: Bench, locations: dict[str, Callable[[], str | None]]) -> None:
    for name, location in locations.items():
        if name == "memory":
            continue  # the baseline of every row (memory state is per process: two would not share conversations)
        for processes in (1, 2):
            label = f"{name}, {processes} process{'es' if processes > 1 else ''}"
            bench.pair(label, host("memory", None), host(name, location(), processes))
    bench.report()
    print("ratio: the backend's turns/s over memory mode's (one process); per process, divide by the processes")


class Calls:
    """A `sys.setprofile` hook counting the Python and C function calls made while it is set.

    The event loop's own calls are left out: how many it makes (timer heap, select) depends on timing.
    """

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call" or event == "c_call":
            where = frame.f_code.co_filename
            if not where.startswith(EVENT_LOOP) and not where.endswith(SELECTORS):
                self.count += 1


class TimedAgent:
    """The offline agent, remembering how long its last `run` took (wall and CPU seconds).

    With `calls`, calls are not counted during its run (the count is then the host's alone).
    """

    def __init__(self, latency: float = 0.0, calls: Calls | None = None) -> None:
        self.agent = Agent(client=OfflineChatClient(response_delay=latency), name="echo")
        self.spent = 0.0
        self.cpu = 0.0
        self.calls = calls

    def create_session(self, **kwargs: Any) -> Any:
        return self.agent.create_session(**kwargs)

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        sys.setprofile(None)
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return await self.agent.run(*args, **kwargs)
        finally:
            self.spent, self.cpu = time.perf_counter() - started, time.process_time() - cpu
            sys.setprofile(self.calls)


async def conversation(state: str | None, count: int, latency: float, calls: Calls | None = None) -> list[Turn]:
    """(host wall ms, host CPU ms, agent wall ms, host calls) of each turn of one conversation of `count` turns.

    With `calls` the host's function calls are counted (and its times, slowed by the counting, mean nothing).
    """
    agent = TimedAgent(latency, calls)
    host = AgentFrameworkHost(agent, channels=[], state_dir=state)
    own: list[Turn] = []
    try:
        for number in range(1, count + 1):
            request = ChannelRequest("bench", "message", f"message {number}", session=ChannelSession("one"))
            before = calls.count if calls is not None else 0
            sys.setprofile(calls)
            started, cpu = time.perf_counter(), time.process_time()
            try:
                await host.context.run(request)
            finally:
                sys.setprofile(None)
            wall, used = time.perf_counter() - started, time.process_time() - cpu
            made = calls.count - before if calls is not None else 0
            own.append(((wall - agent.spent) * 1000, (used - agent.cpu) * 1000, agent.spent * 1000, made))
    finally:
        await host.state.aclose()
    return own


def cost(locations: dict[str, Callable[[], str | None]], count: int, repeat: int, latency: float) -> None:
    os.sched_setaffinity(0, {int(SERVER_CORE)})
    print(
        f"\nhost's own cost per turn (ms), one conversation of {count} turns, {repeat} times; medians of 21 turns; "
        f"the model answers after {latency * 1000:g} ms"
    )
    print(f"{'state':12} " + " ".join(f"{'turn ' + str(at) + ' wall/cpu (agent)':>28}" for at in COST_AT), end="")
    print(f" {'400/10 wall':>11} {'cpu':>5} {'host calls 10 / 400':>20}")
    for name, location in locations.items():
        runs = [asyncio.run(conversation(location(), count, latency)) for _ in range(repeat)]
        counted = asyncio.run(conversation(location(), count, latency, Calls()))
        cells, medians = [], {}
        for at in COST_AT:
            window = [turn for run in runs for turn in run[max(0, at - WINDOW - 1) : at + WINDOW]]
            medians[at] = [statistics.median(turn[index] for turn in window) for index in range(3)]
            wall, cpu, agent = medians[at]
            cells.append(f"{wall:>9.2f} / {cpu:>5.2f} ({agent:>6.1f})")
        ratios = [medians[400][index] / medians[10][index] for index in range(2)]
        made = [statistics.median(turn[3] for turn in counted[max(0, at - WINDOW - 1) : at + WINDOW]) for at in COST_AT]
        print(
            f"{name:12} " + " ".join(f"{cell:>28}" for cell in cells) + f" {ratios[0]:>11.2f} {ratios[1]:>5.2f}"
            f" {made[0]:>9.0f} / {made[-1]:<8.0f}"
        )


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", choices=["throughput", "cost"], default=None)
    parser.add_argument("--turns", type=int, default=max(COST_AT) + WINDOW)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--model-latency", type=float, default=0.02, help="seconds the offline model takes to answer")
    parser.add_argument("--backends", nargs="+", default=["memory", "folder", "redis", "postgresql"])


def main() -> None:
    early = argparse.ArgumentParser(add_help=False)
    options(early)
    args = early.parse_known_args()[0]
    with backends() as every:
        locations = {name: location for name, location in every.items() if name in args.backends}
        if args.only in (None, "throughput"):
            throughput(Bench(__doc__, options), locations)
        if args.only in (None, "cost"):
            cost(locations, args.turns, args.repeat, args.model_latency)


if __name__ == "__main__":
    main()
