"""A Discord bot host in its own process, for the crash tests::

python discord_crash_host.py --port 8001 --state DIR --api URL --public-key HEX --delay 3
"""

from __future__ import annotations

import argparse
import os
import sys

from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient, serve_until_terminated
from agent_framework_hosting_discord import DiscordChannel

HERE = os.path.abspath(__file__)
APP_ID = "100000000000000001"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    for name in ("--port", "--state", "--api", "--public-key"):
        parser.add_argument(name, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--stream", action="store_true", help="stream the answer, one word every --delay seconds")
    parser.add_argument("--bot-token")
    parser.add_argument("--token-lifetime", type=float, help="pretend interaction tokens expire this soon")
    args = parser.parse_args()
    channel = DiscordChannel(
        application_id=APP_ID,
        public_key=args.public_key,
        api_base_url=args.api,
        bot_token=args.bot_token,
        register_commands=False,
        streaming=args.stream,
    )
    if args.token_lifetime is not None:
        channel.token_lifetime = args.token_lifetime
    delays = {"chunk_delay": args.delay} if args.stream else {"response_delay": args.delay}
    host = AgentFrameworkHost(
        Agent(client=OfflineChatClient(**delays), name="echo"), channels=[channel], state_dir=args.state
    )
    sys.exit(serve_until_terminated(host.app, int(args.port)))
