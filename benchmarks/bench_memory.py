"""Memory per idle conversation in memory mode, and memory once the session LRU is full (tracemalloc).

    python benchmarks/bench_memory.py [--sessions 10000 100000] [--max-sessions 10000]

Each conversation has one turn through the host (offline agent, a client that keeps no call log),
then stays idle. Reports the bytes traced after N conversations, per conversation, with the LRU
(`max_sessions`) larger than N (everything kept) and at `--max-sessions` (memory must stay flat).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tracemalloc
from collections.abc import Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "packages", "hosting", "src"))

from agent_framework import Agent, Message  # noqa: E402
from agent_framework_hosting import AgentFrameworkHost, ChannelRequest, ChannelSession  # noqa: E402
from agent_framework_hosting.testing import OfflineChatClient  # noqa: E402


class QuietClient(OfflineChatClient):
    """The offline client without its record of every call (which would be most of what is measured)."""

    def _answer(self, messages: Sequence[Message]) -> str:
        return self.reply(messages)


async def traced(sessions: int, max_sessions: int, warm: int | None) -> int:
    """Bytes still allocated after `sessions` one-turn conversations (the host built and warmed up first)."""
    host = AgentFrameworkHost(Agent(client=QuietClient(), name="echo"), channels=[], max_sessions=max_sessions)
    if warm is not None:
        host.sessions._warm.size = warm
    for index in range(300):
        await host.context.run(ChannelRequest("bench", "message", "warm up", session=ChannelSession(f"w{index}")))
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for index in range(sessions):
        request = ChannelRequest("bench", "message", "hello there", session=ChannelSession(f"user-{index}"))
        await host.context.run(request)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return used


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--max-sessions", type=int, default=10_000)
    args = parser.parse_args()
    print(f"{'conversations':>13} {'LRU cap':>9} {'idle sessions':>14} {'MB traced':>10} {'bytes each':>11}")
    first, *more = args.sessions
    rows: list[tuple[int, int, str, int | None]] = [
        (first, first + 1000, "live objects", 10**9),
        (first, first + 1000, "frozen (JSON)", None),
        *((count, args.max_sessions, "frozen (JSON)", None) for count in args.sessions),
    ]
    for sessions, cap, label, warm in rows:
        used = asyncio.run(traced(sessions, cap, warm))
        each = used / min(sessions, cap)
        print(f"{sessions:>13} {cap:>9} {label:>14} {used / 1e6:>10.1f} {each:>11.0f}", flush=True)


if __name__ == "__main__":
    main()
