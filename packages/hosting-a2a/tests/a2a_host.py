"""An A2A host in its own process, sharing state with its siblings (Redis) — the process the state tests start.

python a2a_host.py --port 8001 --state redis://127.0.0.1:6379/0?prefix=t: --chunk-delay 0.1
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from agent_framework_hosting.testing import server_processes

HERE = os.path.abspath(__file__)


def host_processes(state: str, count: int, *, chunk_delay: float = 0.0) -> Any:
    """`count` hosts sharing `state`, started in parallel; all stopped on exit."""
    command = [sys.executable, HERE, "--port", "{port}", "--state", state, "--chunk-delay", str(chunk_delay)]
    return server_processes([command] * count, name="a2a")


def _serve(port: int, state: str, chunk_delay: float) -> None:
    from agent_framework import Agent
    from agent_framework_hosting import AgentFrameworkHost
    from agent_framework_hosting.testing import OfflineChatClient, serve_until_terminated
    from agent_framework_hosting_a2a import A2AChannel

    agent = Agent(client=OfflineChatClient(chunk_delay=chunk_delay), name="echo")
    serve_until_terminated(AgentFrameworkHost(agent, channels=[A2AChannel()], state_dir=state).app, port)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    args = parser.parse_args()
    _serve(args.port, args.state, args.chunk_delay)
