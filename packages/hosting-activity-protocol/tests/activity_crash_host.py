"""An Activity Protocol bot host in its own process, for the crash tests::

python activity_crash_host.py --port 8001 --state DIR --delay 3
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient, serve_until_terminated
from agent_framework_hosting_activity_protocol import ActivityProtocolChannel


class SlowEcho(OfflineChatClient):
    """Thinks for `delay` seconds before answering, so a test can kill the process mid-turn."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def _inner_get_response(self, **kwargs: Any) -> Any:
        answer = super()._inner_get_response(**kwargs)

        async def later() -> Any:
            await asyncio.sleep(self.delay)
            return await answer

        return later()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    channel = ActivityProtocolChannel(service_url_allowed_hosts=("127.0.0.1",), stream=False)
    host = AgentFrameworkHost(Agent(client=SlowEcho(args.delay), name="echo"), channels=[channel], state_dir=args.state)
    sys.exit(serve_until_terminated(host.app, int(args.port)))
