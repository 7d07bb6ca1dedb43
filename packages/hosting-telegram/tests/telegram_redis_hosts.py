"""Telegram bot hosts in their own processes sharing one Redis, and a fake Bot API that tells them apart.

Run as a script, it is the process the multi-process tests start::

    python telegram_redis_hosts.py --port 8001 --state redis://... --api-base http://127.0.0.1:9000/p1 \
        --transport polling
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from agent_framework_hosting.testing import ServerProcess, server_processes

HERE = os.path.abspath(__file__)


@dataclass
class Request:
    """One Bot API request seen by `Tagged`: which process made it (its path prefix), and when."""

    source: str
    method: str
    started: float
    ended: float | None = None


class Tagged:
    """The fake Bot API behind one path prefix per process (``/p1/bot<token>/...``), recording who called what.

    Each process gets ``api_base=<url>/<prefix>``; the prefix is stripped before the fake sees the request.
    """

    def __init__(self, app: Any, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.prefixes = prefixes
        self.requests: list[Request] = []
        self._lock = threading.Lock()

    def of(self, method: str) -> list[Request]:
        with self._lock:
            return [request for request in self.requests if request.method == method]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        _, prefix, rest = scope["path"].split("/", 2) if scope["path"].count("/") >= 2 else ("", "", "")
        if prefix not in self.prefixes:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        record = Request(prefix, rest.rsplit("/", 1)[-1], time.monotonic())
        with self._lock:
            self.requests.append(record)
        scope = {**scope, "path": "/" + rest, "raw_path": ("/" + rest).encode()}
        try:
            await self.app(scope, receive, send)
        finally:
            record.ended = time.monotonic()


HostProcess = ServerProcess


def bot_processes(state: str, api_bases: list[str], **options: str) -> Any:
    """One bot host per api base, sharing `state`, started in parallel; all stopped on exit."""
    commands = []
    for api_base in api_bases:
        command = [sys.executable, HERE, "--port", "{port}", "--state", state, "--api-base", api_base]
        for name, value in options.items():
            command += [f"--{name.replace('_', '-')}", value]
        commands.append(command)
    return server_processes(commands, name="telegram")


def _serve(args: argparse.Namespace) -> None:

    from agent_framework import Agent
    from agent_framework_hosting import AgentFrameworkHost, DeliveryOptions
    from agent_framework_hosting.testing import OfflineChatClient, serve_until_terminated
    from agent_framework_hosting_telegram import TelegramChannel
    from telegram_fake import TOKEN

    channel = TelegramChannel(
        TOKEN,
        api_base=args.api_base,
        transport=args.transport,
        webhook_url=args.webhook_url or None,
        secret_token=args.secret or None,
        stream=args.stream == "yes",
        polling_timeout=1,
        shutdown_timeout=2.0,
    )

    streamed = args.stream == "yes"  # a streamed answer is slow per chunk; a plain one before it is sent
    client = OfflineChatClient(
        chunk_delay=args.delay / 4 if streamed else 0.0, response_delay=0.0 if streamed else args.delay
    )
    host = AgentFrameworkHost(
        Agent(client=client, name="echo"),
        channels=[channel],
        state_dir=args.state,
        delivery=DeliveryOptions(lease=args.lease),
        concurrency=_concurrency(args.concurrency),
    )
    serve_until_terminated(host.app, args.port)


def _concurrency(setting: str) -> Any:
    """A policy name, or ``collect:SECONDS``."""
    from agent_framework_hosting import Concurrency

    policy, _, window = setting.partition(":")
    return Concurrency(policy, collect_window=float(window)) if window else policy  # type: ignore[arg-type]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--api-base", required=True)
    parser.add_argument("--transport", default="polling")
    parser.add_argument("--webhook-url", default="")
    parser.add_argument("--secret", default="")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--stream", default="no")
    parser.add_argument("--concurrency", default="queue")
    _serve(parser.parse_args())
