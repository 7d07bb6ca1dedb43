"""Test support for the Redis backend: a real `redis-server`, host processes, and a webhook channel.

Run as a script, it is the process the multi-process tests start::

    python redis_server.py host --port 8001 --state redis://127.0.0.1:6379/0?prefix=t:&lock_ttl=2
    python redis_server.py hold-lock --state redis://... --name turn:k   # prints "held <fence>", then sleeps
    python redis_server.py lead --state redis://... --name poller --ttl 1   # prints "leading <fence>", then sleeps
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from typing import Any

import httpx
from agent_framework import Agent
from agent_framework_hosting import (
    AgentFrameworkHost,
    ChannelContribution,
    ChannelRequest,
    ChannelSession,
    Concurrency,
    HostingError,
)
from agent_framework_hosting.http import BadRequest, read_json_object
from agent_framework_hosting.testing import (  # noqa: F401  (RedisServer and redis_server_binary are re-exported)
    JsonChannel,
    OfflineChatClient,
    RedisServer,
    ServerProcess,
    free_port,
    redis_server_binary,
    serve_until_terminated,
    server_processes,
    wait_for_port,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

HERE = os.path.abspath(__file__)


def state_url(server: RedisServer, *, lock_ttl: float = 2.0, prefix: str | None = None) -> str:
    """A `redis://` state location with a fresh key prefix, so tests sharing a server never meet."""
    return f"{server.url}?prefix={prefix or 't' + uuid.uuid4().hex[:10] + ':'}&lock_ttl={lock_ttl}"


def _host_command(state: str, chunk_delay: float, turn_wait: float, concurrency: str = "queue") -> list[str]:
    return [sys.executable, HERE, "host", "--port", "{port}", "--state", state,
            "--chunk-delay", str(chunk_delay), "--turn-wait", str(turn_wait),
            "--concurrency", concurrency]  # fmt: skip


class HostProcess(ServerProcess):
    """A host (`redis_server.py host`) in its own process group on a free port, ready when constructed.

    `concurrency` is a policy name, or ``collect:SECONDS`` for `collect` with that window.
    """

    def __init__(
        self, state: str, *, chunk_delay: float = 0.0, turn_wait: float = 60.0, concurrency: str = "queue"
    ) -> None:
        super().__init__(_host_command(state, chunk_delay, turn_wait, concurrency), name="host")
        try:
            self.wait_ready(timeout=30)
        except RuntimeError:
            self.stop()
            raise


def host_processes(state: str, count: int, *, chunk_delay: float = 0.0, turn_wait: float = 60.0) -> Any:
    return server_processes([_host_command(state, chunk_delay, turn_wait)] * count, name="host")


class WebhookChannel:
    """A platform-like webhook: ``POST {update_id, text, key, reply_url}``.

    Each update is answered once (through `context.once`) by posting
    ``{"key", "text", "update_id"}`` to `reply_url`, as a bot would call its platform.
    """

    name = "hook"
    path = "/hook"

    def contribute(self, context: Any) -> ChannelContribution:
        async def post(request: Request) -> Response:
            try:
                body = await read_json_object(request)
                update_id, text, key, reply_url = (body.get(name) for name in ("update_id", "text", "key", "reply_url"))
                if not all(isinstance(value, str) for value in (update_id, text, key, reply_url)):
                    raise BadRequest("update_id, text, key and reply_url must be strings")
            except BadRequest as error:
                return JSONResponse({"error": error.message}, status_code=error.status_code)
            try:
                async with context.once(self.name, update_id) as first:
                    if not first:
                        return JSONResponse({"duplicate": True})
                    session = ChannelSession(key)
                    result = await context.run(ChannelRequest(self.name, "message", text, session=session))
                    async with httpx.AsyncClient(timeout=10) as client:
                        await client.post(reply_url, json={"key": key, "text": result.text, "update_id": update_id})
            except HostingError as error:
                return JSONResponse({"error": str(error)}, status_code=error.status_code)
            return JSONResponse({"duplicate": False})

        return ChannelContribution(routes=[Route("/", post, methods=["POST"])])


def build_host(state: Any, *, chunk_delay: float = 0.0, turn_wait: float = 60.0, **options: Any) -> AgentFrameworkHost:
    agent = Agent(client=OfflineChatClient(chunk_delay=chunk_delay), name="echo")
    return AgentFrameworkHost(
        agent, channels=[JsonChannel(), WebhookChannel()], state_dir=state, turn_wait=turn_wait, **options
    )


def _serve_host(args: argparse.Namespace) -> None:
    policy, _, window = args.concurrency.partition(":")
    concurrency = Concurrency(policy, collect_window=float(window or 1.5))  # type: ignore[arg-type]
    host = build_host(args.state, chunk_delay=args.chunk_delay, turn_wait=args.turn_wait, concurrency=concurrency)
    serve_until_terminated(host.app, args.port)


def _hold_lock(args: argparse.Namespace) -> None:
    from agent_framework_hosting import RedisStateStore

    async def main() -> None:
        store = RedisStateStore.from_url(args.state)
        async with store.lock(args.name, wait=10) as lease:
            print(f"held {lease.fence}", flush=True)
            await asyncio.sleep(3600)

    asyncio.run(main())


def _lead(args: argparse.Namespace) -> None:
    from agent_framework_hosting import RedisStateStore

    async def main() -> None:
        leader = RedisStateStore.from_url(args.state).leader(args.name, ttl=args.ttl)
        for _ in range(400):
            if await leader.acquire():
                break
            await asyncio.sleep(0.05)
        else:
            raise SystemExit("never became the leader")
        print(f"leading {leader.fence}", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["host", "hold-lock", "lead"])
    parser.add_argument("--state", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--name", default="")
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    parser.add_argument("--turn-wait", type=float, default=60.0)
    parser.add_argument("--ttl", type=float, default=1.0)
    parser.add_argument("--concurrency", default="queue")
    args = parser.parse_args()
    {"host": _serve_host, "hold-lock": _hold_lock, "lead": _lead}[args.command](args)


if __name__ == "__main__":
    main()
