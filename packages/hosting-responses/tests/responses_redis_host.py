"""A Responses host in its own process, sharing state through Redis with its siblings.

Run as a script, it is the process the multi-process tests start::

    python responses_redis_host.py --port 8001 --state redis://127.0.0.1:6379/0?prefix=t: --chunk-delay 0.1
"""

from __future__ import annotations

import os
from typing import Any

from agent_framework_hosting.testing import echo_host_processes, serve_echo_host

HERE = os.path.abspath(__file__)


def host_processes(state: str, count: int, *, chunk_delay: float = 0.0) -> Any:
    """`count` hosts sharing `state`, started in parallel; all stopped on exit."""
    return echo_host_processes(HERE, state, count, chunk_delay=chunk_delay, name="responses")


if __name__ == "__main__":
    from agent_framework_hosting_responses import ResponsesChannel

    serve_echo_host(lambda: [ResponsesChannel()])
