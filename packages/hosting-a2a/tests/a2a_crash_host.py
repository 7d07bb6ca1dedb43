"""An A2A host process with a short turn-ledger lease, for the crash and cross-process tests.

python a2a_crash_host.py --port 8001 --state <folder or redis:// URL> --chunk-delay 0.1 --lease 2
"""

from __future__ import annotations

import os
import sys
from typing import Any

HERE = os.path.abspath(__file__)


def crash_host_command(state: str, *, chunk_delay: float, lease: float, max_attempts: int = 3) -> list[str]:
    return [sys.executable, HERE, "--port", "{port}", "--state", state, "--chunk-delay", str(chunk_delay),
            "--lease", str(lease), "--max-attempts", str(max_attempts)]  # fmt: skip


def main(argv: Any = None) -> None:
    import argparse

    from agent_framework import Agent
    from agent_framework_hosting import AgentFrameworkHost, DeliveryOptions
    from agent_framework_hosting.testing import OfflineChatClient, serve_until_terminated
    from agent_framework_hosting_a2a import A2AChannel, PushOptions

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--max-attempts", type=int, default=3)
    parser.add_argument("--push-to-loopback", action="store_true")
    args = parser.parse_args(argv)
    agent = Agent(client=OfflineChatClient(chunk_delay=args.chunk_delay), name="echo")
    host = AgentFrameworkHost(
        agent,
        channels=[A2AChannel(push=PushOptions(allow_private_addresses=args.push_to_loopback))],
        state_dir=args.state,
        delivery=DeliveryOptions(lease=args.lease, max_attempts=args.max_attempts),
    )
    serve_until_terminated(host.app, args.port)


if __name__ == "__main__":
    main()
