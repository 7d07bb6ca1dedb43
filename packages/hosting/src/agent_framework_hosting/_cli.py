"""`agent-framework-host`: serve an agent from the command line (minimal; grows with the demo)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agent-framework-host")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve an agent")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--state-dir", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from agent_framework import Agent

    from ._host import AgentFrameworkHost
    from .testing import OfflineChatClient

    agent = Agent(client=OfflineChatClient(), name="offline-demo")
    host = AgentFrameworkHost(agent, channels=[], state_dir=args.state_dir)
    print(f"serving {host.describe()} on http://{args.host}:{args.port}", file=sys.stderr)
    host.serve(host=args.host, port=args.port)
    return 0
