"""A Responses host that dies (``os._exit``, like SIGKILL: no cleanup) as it is about to keep a stored response's
record: after the turn's messages are stored, before the record that points at them.

Run as a script by the fault-injection tests::

    python fault_responses_host.py --port 8001 --state DIR_OR_URL --die-at 2

``--die-at N``: the process dies at its Nth record write in the ``responses`` namespace (0: never).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient, serve_until_terminated
from agent_framework_hosting_responses import ResponsesChannel


def build(state: str, die_at: int) -> AgentFrameworkHost:
    host = AgentFrameworkHost(
        Agent(client=OfflineChatClient(), name="echo"), channels=[ResponsesChannel()], state_dir=state
    )
    store = host.state
    keep = store.set
    writes = 0

    async def set_or_die(namespace: str, key: str, value: Any, *, ttl: float | None = None) -> None:
        nonlocal writes
        if namespace == "responses":
            writes += 1
            if writes == die_at:
                os._exit(9)
        await keep(namespace, key, value, ttl=ttl)

    store.set = set_or_die  # type: ignore[method-assign]
    return host


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--die-at", type=int, default=0)
    args = parser.parse_args()
    sys.exit(serve_until_terminated(build(args.state, args.die_at).app, args.port))
