"""CPU time per request, in process: ASGI requests straight into each app, no sockets, no load generator.

    python benchmarks/bench_turn_cpu.py [--batch 200] [--batches 12] [--only NAME]

Each scenario sends `--batch` requests one after another into the app and reads the CPU time the
process spent (`time.process_time`); the figure is the fastest of `--batches` batches, in µs per
request, which is robust to other work on the machine. Scenarios take their batches in turn, so
load falls on all alike. The apps are those of `_servers.py`: the bare Starlette routes calling the
same offline agent, the host with `JsonChannel` (`context.run`, `context.run_stream`) and the host
with the Responses channel. The keyed scenarios cycle through 64 conversations (their history
grows as the run goes on); stored Responses answers are kept as in a real run (the memory cap applies).

`--opcodes` counts instead of timing: the Python opcodes run and the frames entered per request
(`sys.settrace`), the same on every run where timings move with the machine's load. With `--canned`
the agent's `run` answers a fixed response at once, so only the host, Starlette and the protocol are
counted (the streamed scenarios are left out).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _servers  # noqa: E402
from _servers import bare_app, host_app, responses_app  # noqa: E402

KEYS = 64
App = Callable[..., Any]


class Driver:
    """Sends requests into an ASGI app and reads the whole response."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._lifespan: asyncio.Task[None] | None = None
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def start(self) -> None:
        async def receive() -> dict[str, Any]:
            return await self._events.get()

        async def send(message: dict[str, Any]) -> None:
            await self._replies.put(message)

        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._lifespan = asyncio.get_running_loop().create_task(self.app(scope, receive, send))
        await self._events.put({"type": "lifespan.startup"})
        reply = await self._replies.get()
        if reply["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"startup failed: {reply}")

    async def stop(self) -> None:
        await self._events.put({"type": "lifespan.shutdown"})
        await self._replies.get()
        assert self._lifespan is not None
        await self._lifespan

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"bench"), (b"content-type", b"application/json")],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        sent = False
        status = 0
        chunks: list[bytes] = []
        done = asyncio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        await self.app(scope, receive, send)
        return status, b"".join(chunks)


def responses_body(**fields: object) -> bytes:
    return json.dumps({"model": "m", "input": "hello there", **fields}).encode()


def json_bodies(*, keyed: bool, stream: bool = False) -> list[bytes]:
    return [
        json.dumps({"text": "hello there", "stream": stream, **({"key": f"k{n}"} if keyed else {})}).encode()
        for n in range(KEYS)
    ]


# name -> (app factory, path, bodies)
SCENARIOS: dict[str, tuple[Callable[[Any], Any], str, list[bytes]]] = {
    "bare, stateless": (bare_app, "/json", json_bodies(keyed=False)),
    "host, stateless (context.run)": (host_app, "/json", json_bodies(keyed=False)),
    "bare, a session per key": (bare_app, "/json", json_bodies(keyed=True)),
    "host, a session per key (context.run)": (host_app, "/json", json_bodies(keyed=True)),
    "bare, streamed, a session per key": (bare_app, "/json", json_bodies(keyed=True, stream=True)),
    "host, streamed, a session per key (context.run_stream)": (
        host_app,
        "/json",
        json_bodies(keyed=True, stream=True),
    ),
    "bare responses": (bare_app, "/v1/responses", [responses_body()]),
    "bare responses, a new session kept per answer": (bare_app, "/stored/v1/responses", [responses_body()]),
    "bare responses, the whole Response object": (bare_app, "/whole/v1/responses", [responses_body(store=False)]),
    "responses, stored": (responses_app, "/v1/responses", [responses_body()]),
    "responses, store: false": (responses_app, "/v1/responses", [responses_body(store=False)]),
    "bare responses, streamed": (bare_app, "/v1/responses", [responses_body(stream=True)]),
    "responses, streamed": (responses_app, "/v1/responses", [responses_body(stream=True)]),
}


async def measure(names: list[str], batch: int, batches: int) -> dict[str, float]:
    """Every scenario's batches taken in turn (round-robin), so the machine's load falls on all of them alike."""
    drivers: dict[str, tuple[Driver, str, list[bytes]]] = {}
    try:
        for name in names:
            factory, path, bodies = SCENARIOS[name]
            driver = Driver(factory(None))
            await driver.start()
            drivers[name] = (driver, path, bodies)
            for n in range(batch):  # warm up: caches, the first sessions, imports on first use
                status, _ = await driver.post(path, bodies[n % len(bodies)])
                if status != 200:
                    raise RuntimeError(f"{name}: HTTP {status}")
        best = dict.fromkeys(names, float("inf"))
        for _ in range(batches):
            for name, (driver, path, bodies) in drivers.items():
                count = len(bodies)
                gc.collect()
                started = time.process_time()
                for n in range(batch):
                    await driver.post(path, bodies[n % count])
                best[name] = min(best[name], (time.process_time() - started) / batch)
        return {name: seconds * 1e6 for name, seconds in best.items()}
    finally:
        for driver, _, _ in drivers.values():
            await driver.stop()


class OpcodeCounter:
    """A `sys.settrace` function counting every opcode run and every frame entered (calls and resumptions)."""

    def __init__(self) -> None:
        self.opcodes = 0
        self.frames = 0

    def __call__(self, frame: Any, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        self.frames += 1
        return self._local

    def _local(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "opcode":
            self.opcodes += 1
        return self._local


async def count(names: list[str], requests: int) -> dict[str, tuple[float, float]]:
    """Opcodes and frames per request over `requests` requests, after as many of warm-up."""
    results: dict[str, tuple[float, float]] = {}
    for name in names:
        factory, path, bodies = SCENARIOS[name]
        driver = Driver(factory(None))
        await driver.start()
        try:
            for n in range(requests):
                await driver.post(path, bodies[n % len(bodies)])
            counter = OpcodeCounter()
            sys.settrace(counter)
            try:
                for n in range(requests):
                    await driver.post(path, bodies[n % len(bodies)])
            finally:
                sys.settrace(None)
            results[name] = (counter.opcodes / requests, counter.frames / requests)
        finally:
            await driver.stop()
    return results


make_offline_agent = _servers.make_agent  # kept before `--canned` replaces it


def canned_agent() -> Any:
    """The offline agent whose `run` answers a fixed response at once (no model, no history)."""
    from agent_framework import AgentResponse, Content, Message

    agent = make_offline_agent()

    async def run(messages: Any = None, *, stream: bool = False, **kwargs: Any) -> AgentResponse:
        if stream:
            raise RuntimeError("the canned agent does not stream")
        return AgentResponse(messages=[Message("assistant", [Content.from_text("canned")])], response_id="canned")

    object.__setattr__(agent, "run", run)
    return agent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--only", action="append", help="a scenario name (substring); repeatable")
    parser.add_argument("--opcodes", action="store_true", help="count opcodes per request instead of timing")
    parser.add_argument("--canned", action="store_true", help="with --opcodes: an agent answering at once")
    args = parser.parse_args()
    names = [name for name in SCENARIOS if not args.only or any(part in name for part in args.only)]
    if args.opcodes:
        if args.canned:
            _servers.make_agent = canned_agent
            names = [name for name in names if "streamed" not in name]
        counts = asyncio.run(count(names, args.batch))
        width = max(len(name) for name in counts)
        agent = "a canned agent" if args.canned else "the offline agent"
        print(f"{'scenario':<{width}}  opcodes / frames per request ({args.batch} requests, {agent})")
        for name, (opcodes, frames) in counts.items():
            print(f"{name:<{width}}  {opcodes:8.0f} {frames:7.1f}")
        return
    results = asyncio.run(measure(names, args.batch, args.batches))
    width = max(len(name) for name in results)
    print(f"{'scenario':<{width}}  CPU µs/request (fastest of {args.batches} x {args.batch})")
    for name, micros in results.items():
        print(f"{name:<{width}}  {micros:8.0f}")
    pairs = (
        ("host, a session per key (context.run)", "bare, a session per key"),
        ("host, streamed, a session per key (context.run_stream)", "bare, streamed, a session per key"),
        ("responses, stored", "bare responses, a new session kept per answer"),
        ("responses, store: false", "bare responses"),
        ("responses, store: false", "bare responses, the whole Response object"),
        ("responses, streamed", "bare responses, streamed"),
    )
    for measured, base in pairs:
        if measured in results and base in results:
            print(f"ratio (bare/measured CPU) {measured} vs {base}: {results[base] / results[measured]:.2f}")


if __name__ == "__main__":
    main()
