"""Test support: a deterministic offline chat client, a real server on a free loopback port, and a real Redis.

`OfflineChatClient` answers from the conversation it is given, so a test can see
whether history reached the model::

    agent = Agent(client=OfflineChatClient(), name="echo")
    # first turn "hi" -> "echo 1: hi"; second turn "again" -> "echo 2: again"
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from agent_framework import ChatResponseUpdate, Content, Message

from ._offline import FAIL_MARKER, OfflineChatClient, Reply, echo_reply, words

__all__ = [
    "FAIL_MARKER",
    "CountingChatClient",
    "GatedChatClient",
    "JsonChannel",
    "LogWatch",
    "OfflineChatClient",
    "PostgresServer",
    "RedisServer",
    "Reply",
    "ServerProcess",
    "echo_host_processes",
    "echo_reply",
    "eventually",
    "free_port",
    "hostile_bodies",
    "nested_json",
    "postgres_bin_dir",
    "redis_server_binary",
    "running_server",
    "serve_echo_host",
    "serve_until_terminated",
    "server_processes",
    "wait_for_port",
    "wait_until",
    "watch_logs",
    "words",
]


class GatedChatClient(OfflineChatClient):
    """An `OfflineChatClient` whose answers wait until `release()`, so a test can see what happens meanwhile.

    `holds(text)` chooses which calls wait, by the last user message (all by default); `held` lists the
    texts of the calls waiting now. A call still held after `timeout` seconds fails instead of hanging.
    """

    def __init__(self, *, holds: Callable[[str], bool] = lambda text: True, timeout: float = 60.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.holds = holds
        self.timeout = timeout
        self.gate = threading.Event()
        self.held: list[str] = []

    def release(self) -> None:
        self.gate.set()

    async def _wait_for_gate(self, messages: Sequence[Any]) -> None:
        users = [m for m in messages if m.role == "user"]
        text = users[-1].text if users else ""
        if not self.holds(text):
            return
        self.held.append(text)
        try:
            deadline = time.monotonic() + self.timeout
            while not self.gate.is_set():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the gate was never released for {text!r}")
                await asyncio.sleep(0.01)
        finally:
            self.held.remove(text)

    def _inner_get_response(self, *, messages: Sequence[Any], stream: bool, options: Any, **kwargs: Any) -> Any:
        answer = super()._inner_get_response(messages=messages, stream=stream, options=options, **kwargs)
        if stream:
            return answer  # `_stream` waits at the gate

        async def gated() -> Any:
            try:
                await self._wait_for_gate(messages)
            except BaseException:
                answer.close()
                raise
            return await answer

        return gated()

    async def _stream(self, messages: Sequence[Any], step: Any = None) -> AsyncIterator[Any]:
        await self._wait_for_gate(messages)
        async for update in super()._stream(messages, step):
            yield update


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, *, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    """Block until something accepts connections on `port`, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout}s")


@contextmanager
def running_server(app: Any, *, port: int | None = None, timeout: float = 15.0) -> Iterator[str]:
    """Serve an ASGI app with Hypercorn on 127.0.0.1 in a background thread; yields its base URL.

    Startup and shutdown are bounded by `timeout`; the lifespan runs as in production.
    """
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    port = port or free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.graceful_timeout = 2.0
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve(app, config, shutdown_trigger=stop.wait))
        except BaseException as error:
            failure.append(error)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=run, name=f"server-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not failure and time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.05)
    else:
        if failure:
            thread.join(timeout)
            raise RuntimeError(f"server on port {port} failed to start") from failure[0]
        raise TimeoutError(f"server on port {port} did not start within {timeout}s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        if not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"server on port {port} did not stop within {timeout}s")


class CountingChatClient(OfflineChatClient):
    """The offline model, counting how many streamed answers are in flight (`active`) and the most at once.

    A subclass changes what is streamed by overriding `_answer_stream`, which stays counted.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.active = 0
        self.most_active = 0

    async def _stream(
        self, messages: Sequence[Message], step: Content | None = None
    ) -> AsyncIterator[ChatResponseUpdate]:
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            async for update in self._answer_stream(messages, step):
                yield update
        finally:
            self.active -= 1

    def _answer_stream(
        self, messages: Sequence[Message], step: Content | None = None
    ) -> AsyncIterator[ChatResponseUpdate]:
        return super()._stream(messages, step)


class JsonChannel:
    """A minimal channel for tests and benchmarks.

    ``POST {path}`` with ``{"text": str, "key": str | null, "stream": bool}`` answers
    ``{"text": ...}``, or with ``stream`` the answer's chunks as plain text.
    """

    def __init__(self, *, name: str = "json", path: str = "/json") -> None:
        self.name = name
        self.path = path

    def contribute(self, context: Any) -> Any:
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response, StreamingResponse
        from starlette.routing import Route

        from ._errors import HostingError
        from ._types import ChannelContribution, ChannelRequest, ChannelSession
        from .http import BadRequest, read_json_object

        async def post(request: Request) -> Response:
            try:
                body = await read_json_object(request)
                text, key = body.get("text"), body.get("key")
                if not isinstance(text, str) or (key is not None and not isinstance(key, str)):
                    raise BadRequest("text must be a string and key a string or null")
            except BadRequest as error:
                return JSONResponse({"error": error.message}, status_code=error.status_code)
            channel_request = ChannelRequest(
                channel=self.name,
                operation="message",
                input=text,
                session=ChannelSession(key),
                stream=bool(body.get("stream")),
            )
            try:
                if not channel_request.stream:
                    result = await context.run(channel_request)
                    return JSONResponse({"text": result.text})
                stream = await context.run_stream(channel_request)
            except HostingError as error:
                return JSONResponse({"error": str(error)}, status_code=error.status_code)

            async def chunks() -> AsyncIterator[str]:
                async for update in stream:
                    if update.text:
                        yield update.text

            return StreamingResponse(chunks(), media_type="text/plain")

        return ChannelContribution(routes=[Route("/", post, methods=["POST"])])


def redis_server_binary() -> str:
    """The `redis-server` executable; a test calling this fails on CI (``CI=true``) without it and skips elsewhere."""
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
    """A throwaway `redis-server` on a loopback port, without persistence::

    with RedisServer(redis_server_binary()) as redis:
        host = AgentFrameworkHost(agent, channels=[...], state_dir=redis.url)
    """

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
        """Start the server and wait (bounded) until it answers PING."""
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--dir", self._dir, "--loglevel", "warning"]  # fmt: skip
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
        """Freeze the server (SIGSTOP): connections stay open but nothing answers."""
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


def postgres_bin_dir() -> str:
    """The folder of PostgreSQL's server programs (`initdb`, `postgres`); a test calling this fails without them."""
    import glob

    import pytest

    found = shutil.which("initdb")
    if found and shutil.which("postgres", path=os.path.dirname(os.path.realpath(found))):
        return os.path.dirname(os.path.realpath(found))
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(candidate, "initdb")):
            return candidate
    pytest.fail("PostgreSQL is not installed (Debian: apt-get install postgresql)")


class PostgresServer:
    """A throwaway PostgreSQL server in a temporary folder on a loopback port::

        with PostgresServer(postgres_bin_dir()) as postgres:
            host = AgentFrameworkHost(agent, channels=[...], state_dir=postgres.url)

    PostgreSQL refuses to run as root, so as root the server runs as the
    `postgres` user (or `nobody`), which then owns the folder. Durability
    settings are relaxed (`fsync=off`) unless `durable` is set.
    """

    def __init__(self, bin_dir: str | None = None, port: int | None = None, *, durable: bool = False) -> None:
        self.bin_dir = bin_dir or postgres_bin_dir()
        self.port = port or free_port()
        self.durable = durable
        self.process: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.mkdtemp(prefix="afh-postgres-")
        self._user: tuple[int, int] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_user(self) -> dict[str, Any]:
        return {} if self._user is None else {"user": self._user[0], "group": self._user[1], "extra_groups": []}

    def start(self, timeout: float = 30.0) -> None:
        """Create the cluster, start the server and wait (bounded) until it accepts connections."""
        import pwd

        data = os.path.join(self._dir, "data")
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    entry = pwd.getpwnam(name)
                except KeyError:
                    continue
                self._user = (entry.pw_uid, entry.pw_gid)
                break
            if self._user is None:
                raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL")
            os.chown(self._dir, *self._user)
        initdb = [os.path.join(self.bin_dir, "initdb"), "-D", data, "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync"]  # fmt: skip
        done = subprocess.run(initdb, capture_output=True, cwd=self._dir, **self._as_user())
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.decode(errors='replace')}")
        settings = ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self._dir}",
                    "-c", "max_connections=200", "-c", "shared_buffers=32MB"]  # fmt: skip
        if not self.durable:
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        command = [os.path.join(self.bin_dir, "postgres"), "-D", data, "-p", str(self.port), *settings]
        log = open(os.path.join(self._dir, "server.log"), "wb")  # noqa: SIM115 - the server writes it until stop()
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self._dir, **self._as_user())
        log.close()
        ready = os.path.join(self.bin_dir, "pg_isready")
        deadline = time.monotonic() + timeout
        while True:
            probe = subprocess.run([ready, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
                                   capture_output=True)  # fmt: skip
            if probe.returncode == 0:
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = self.log()
                self.stop()
                raise RuntimeError(f"PostgreSQL did not start on port {self.port}:\n{output}")
            time.sleep(0.05)

    def log(self) -> str:
        try:
            with open(os.path.join(self._dir, "server.log"), "rb") as handle:
                return handle.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # "fast" shutdown: disconnect clients, stop at once
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


class ServerProcess:
    """A server command in its own process group on a free port, its output kept in a log file.

    ``{port}`` in `command` is replaced by the port. `wait_ready()` waits (bounded) for the
    port to accept connections; `stop()` sends SIGTERM, then SIGKILL, to the whole group.
    """

    def __init__(self, command: Sequence[str], *, name: str = "server") -> None:
        import subprocess
        import tempfile

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix=f"afh-{name}-", suffix=".log", delete=False)
        argv = [part.replace("{port}", str(self.port)) for part in command]
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 45.0) -> None:
        try:
            wait_for_port(self.port, timeout=timeout)
        except TimeoutError:
            raise RuntimeError(f"server process did not start:\n{self.output()}") from None

    def output(self) -> str:
        with open(self.log.name, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def signal(self, signum: int) -> None:
        import os

        os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL the whole group: no shutdown hook runs, no lease is released."""
        try:
            self.signal(9)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def stop(self) -> None:
        import os
        import signal
        import subprocess

        if self.process.poll() is None:
            try:
                self.signal(signal.SIGCONT)
                self.signal(signal.SIGTERM)
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
            except ProcessLookupError:
                pass
        self.log.close()
        os.unlink(self.log.name)


@contextmanager
def server_processes(commands: Sequence[Sequence[str]], *, name: str = "server") -> Iterator[list[ServerProcess]]:
    """Start every command at once, wait until all serve, and stop them all on exit."""
    started: list[ServerProcess] = []
    try:
        for command in commands:
            started.append(ServerProcess(command, name=name))
        for process in started:
            process.wait_ready()
        yield started
    finally:
        for process in started:
            process.stop()


def echo_host_processes(script: str, state: str, count: int, *, chunk_delay: float = 0.0, name: str = "host") -> Any:
    """`count` processes of `script` (one that calls `serve_echo_host`) sharing `state`, started in parallel.

    A context manager yielding the started `ServerProcess`es; all stopped on exit.
    """
    command = [sys.executable, script, "--port", "{port}", "--state", state, "--chunk-delay", str(chunk_delay)]
    return server_processes([command] * count, name=name)


def serve_echo_host(channels: Callable[[], Sequence[Any]], argv: Sequence[str] | None = None) -> None:
    """The body of an `echo_host_processes` script: an echo agent over `channels()` until SIGTERM.

    Reads ``--port``, ``--state`` (the host's `state_dir`) and ``--chunk-delay`` from `argv` (default: sys.argv).
    """
    import argparse

    from agent_framework import Agent

    from ._host import AgentFrameworkHost

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    agent = Agent(client=OfflineChatClient(chunk_delay=args.chunk_delay), name="echo")
    serve_until_terminated(AgentFrameworkHost(agent, channels=list(channels()), state_dir=args.state).app, args.port)


def serve_until_terminated(app: Any, port: int) -> None:
    """Serve `app` with Hypercorn on 127.0.0.1:`port` until SIGTERM (the body of a `ServerProcess` script)."""
    import signal

    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.graceful_timeout = 1.0

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await serve(app, config, shutdown_trigger=stop.wait)

    asyncio.run(main())


def check_refused_at_once(portal: Any, host: Any, channel: Any, reference: Any, *, naming: str) -> None:
    """Check that a malformed conversation `reference` fails at once and is never retried.

    The channel raises a permanent `InvalidReference`; `host.deliver` (called through the test client's anyio
    `portal`) raises `DeliveryError` matching the regex `naming`; one dead letter after one attempt; no outbox.
    """
    import re

    from ._delivery import DeliveryError, InvalidReference

    try:
        portal.call(channel.deliver, reference, Message(role="assistant", contents=["hi"]))
    except InvalidReference as error:
        assert error.permanent, "a malformed reference is a permanent failure"
    else:
        raise AssertionError("the channel accepted a malformed reference")
    try:
        portal.call(host.deliver, reference, "hi")
    except DeliveryError as error:
        assert re.search(naming, str(error)), f"{error} names none of {naming!r}"
    else:
        raise AssertionError("host.deliver accepted a malformed reference")
    [letter] = portal.call(host.dead_letters.list)
    assert letter["attempts"] == 1, "a dead letter at once, never retried"
    assert portal.call(host.state.keys, "outbox") == []


def wait_until(predicate: Callable[[], Any], *, timeout: float = 10.0, message: str = "condition") -> Any:
    """Poll `predicate()` until it is truthy and return its value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.02)


async def eventually(predicate: Callable[[], Any], *, timeout: float = 10.0, message: str = "condition") -> Any:
    """`wait_until` for async tests: poll without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(0.02)


def nested_json(depth: int, *, leaf: str = '"x"') -> bytes:
    """A JSON document nesting arrays and objects `depth` levels deep (a RecursionError for naive parsers)."""
    opened = '{"a":[' * (depth // 2) + "[" * (depth % 2)
    closed = "]" * (depth % 2) + "]}" * (depth // 2)
    return (opened + leaf + closed).encode()


LONE_SURROGATE = "\ud800"


def _with_surrogate(value: Any) -> Any:
    if isinstance(value, str):
        return value + LONE_SURROGATE
    if isinstance(value, dict):
        return {key: _with_surrogate(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_surrogate(item) for item in value]
    return value


def hostile_bodies(fields: dict[str, Any] | None = None) -> dict[str, bytes]:
    """Bodies a channel must refuse with a 4xx: deep nesting, lone surrogates, NaN and infinities.

    `fields` is a valid body; in turn each of its fields gets a lone surrogate in every string it holds,
    in its name, a 1,000-level nesting and NaN as its value.
    """
    base = dict(fields or {})
    found = {f"nested-{depth}": nested_json(depth) for depth in (101, 990, 1000, 5000, 100_000)}
    found["surrogate-alone"] = b'"\\ud800"'
    found["surrogate-raw-bytes"] = b'{"input": "\xed\xa0\x80"}'
    found["infinity"] = b'{"input": -Infinity}'
    for name, value in base.items():
        rest = {key: item for key, item in base.items() if key != name}
        if _with_surrogate(value) != value:
            found[f"surrogate-in-{name}"] = json.dumps({**rest, name: _with_surrogate(value)}).encode()
        found[f"surrogate-in-name-{name}"] = json.dumps({**base, name + LONE_SURROGATE: value}).encode()
        found[f"nested-{name}"] = with_raw_field(base, name, nested_json(1000))
        found[f"nan-{name}"] = with_raw_field(base, name, b"NaN")
    return found


def with_raw_field(fields: dict[str, Any], name: str, raw: bytes) -> bytes:
    """`fields` as JSON with `name`'s value replaced by the raw JSON text `raw` (which may be too deep to build)."""
    rest = {key: item for key, item in fields.items() if key != name}
    head = json.dumps(rest)[:-1] + (", " if rest else "")
    return (head + json.dumps(name) + ": ").encode() + raw + b"}"


def hostile_json(valid: dict[str, Any] | None = None) -> Any:
    """A hypothesis strategy of JSON bodies holding lone surrogates or nesting 101 to 3,000 levels deep.

    With `valid` (a body the channel accepts), most bodies are `valid` with one field replaced. Needs hypothesis.
    """
    from hypothesis import strategies as st

    text = st.text(st.characters(categories=["Cs", "L", "N", "P", "Zs"]), max_size=12)
    leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text
    values = st.recursive(
        leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=8
    )
    depths = st.integers(101, 3000)
    plain = values.map(lambda value: json.dumps(value).encode()) | depths.map(nested_json)
    if not valid:
        return plain
    base = dict(valid)
    fields = st.sampled_from(sorted(base))
    replaced = st.tuples(fields, values).map(lambda pair: json.dumps({**base, pair[0]: pair[1]}).encode())
    deep = st.tuples(fields, depths).map(lambda pair: with_raw_field(base, pair[0], nested_json(pair[1])))
    return replaced | replaced | deep | plain


class LogWatch(logging.Handler):
    """Collects log records; `tracebacks()` lists those that carry one (or are ERROR and above)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def tracebacks(self) -> list[str]:
        """Records with a traceback or at ERROR and above; asyncio's garbage-collection notices are left out
        (they fire whenever a task of any earlier test is collected, so they name no request)."""
        return [
            f"{r.name}: {r.getMessage()}"
            for r in self.records
            if (r.exc_info is not None or r.levelno >= logging.ERROR or r.stack_info) and r.name != "asyncio"
        ]


@contextmanager
def watch_logs() -> Iterator[LogWatch]:
    """Watch every logger while the block runs (the root logger's level is lowered to DEBUG meanwhile)."""
    root = logging.getLogger()
    watch = LogWatch()
    previous = root.level
    root.addHandler(watch)
    root.setLevel(logging.DEBUG)
    try:
        yield watch
    finally:
        root.removeHandler(watch)
        root.setLevel(previous)
