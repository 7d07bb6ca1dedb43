"""An Activity Protocol bot host in its own process, for the crash tests::

python activity_crash_host.py --port 8001 --state DIR --delay 3
"""

from __future__ import annotations

import argparse
import sys

from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient, serve_until_terminated
from agent_framework_hosting_activity_protocol import ActivityProtocolChannel

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    channel = ActivityProtocolChannel(service_url_allowed_hosts=("127.0.0.1",), stream=False)
    host = AgentFrameworkHost(
        Agent(client=OfflineChatClient(response_delay=args.delay), name="echo"),
        channels=[channel],
        state_dir=args.state,
    )
    sys.exit(serve_until_terminated(host.app, int(args.port)))
