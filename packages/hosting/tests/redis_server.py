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
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from agent_framework import Agent
from agent_framework_hosting import (
    AgentFrameworkHost,
    ChannelContribution,
    ChannelRequest,
    ChannelSession,
    HostingError,
)
from agent_framework_hosting.http import BadRequest, read_json_object
from agent_framework_hosting.testing import JsonChannel, OfflineChatClient, free_port, wait_for_port
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

HERE = os.path.abspath(__file__)


def redis_server_binary() -> str:
    """The `redis-server` executable; tests fail on CI without it and skip elsewhere."""
    import pytest

    found = shutil.which("redis-server")
    if found:
        return found
    message = "redis-server is not installed (Debian: apt-get install redis-server)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


class RedisServer:
    """A throwaway `redis-server` on a loopback port, without persistence."""

    def __init__(self, binary: str | None = None, port: int | None = None, *, password: str | None = None) -> None:
        self.binary = binary or shutil.which("redis-server") or "redis-server"
        self.port = port or free_port()
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.mkdtemp(prefix="afh-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--dir", self._dir, "--loglevel", "warning"]
        if self.password:
            command += ["--requirepass", self.password]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not _pong(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer PING on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait(timeout=10)

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


def state_url(server: RedisServer, *, lock_ttl: float = 2.0, prefix: str | None = None) -> str:
    """A `redis://` state location with a fresh key prefix, so tests sharing a server never meet."""
    return f"{server.url}?prefix={prefix or 't' + uuid.uuid4().hex[:10] + ':'}&lock_ttl={lock_ttl}"


class HostProcess:
    """A host (`redis_server.py host`) in its own process group on a free port."""

    def __init__(self, state: str, *, chunk_delay: float = 0.0, turn_wait: float = 60.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="afh-host-", suffix=".log", delete=False)
        command = [sys.executable, HERE, "host", "--port", str(self.port), "--state", state,
                   "--chunk-delay", str(chunk_delay), "--turn-wait", str(turn_wait)]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for_port(self.port, timeout=30)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"host process did not start:\n{self.output()}") from None

    def output(self) -> str:
        with open(self.log.name, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def signal(self, signum: int) -> None:
        os.killpg(self.process.pid, signum)

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.signal(signal.SIGCONT)
                self.signal(signal.SIGTERM)
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait(timeout=10)
            except ProcessLookupError:
                pass
        self.log.close()
        os.unlink(self.log.name)


@contextmanager
def host_processes(state: str, count: int, **options: Any) -> Iterator[list[HostProcess]]:
    started: list[HostProcess] = []
    try:
        for _ in range(count):
            started.append(HostProcess(state, **options))
        yield started
    finally:
        for process in started:
            process.stop()


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
    return AgentFrameworkHost(agent, channels=[JsonChannel(), WebhookChannel()], state_dir=state, turn_wait=turn_wait,
                              **options)


def _serve_host(args: argparse.Namespace) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{args.port}"]
    config.accesslog = None
    config.graceful_timeout = 1.0
    host = build_host(args.state, chunk_delay=args.chunk_delay, turn_wait=args.turn_wait)
    stop = asyncio.Event()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await serve(host.app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    asyncio.run(main())


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
    args = parser.parse_args()
    {"host": _serve_host, "hold-lock": _hold_lock, "lead": _lead}[args.command](args)


if __name__ == "__main__":
    main()
