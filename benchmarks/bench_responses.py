"""Throughput of the Responses channel against a bare Starlette route calling the same offline agent.

    python benchmarks/bench_responses.py [--duration 3] [--concurrency 16] [--rounds 2]

Each server runs in its own process (Hypercorn on 127.0.0.1) and load comes from another process
(`_load.py`); the two servers take turns, and each one's best run counts. Prints requests/s side by side
with the channel/bare ratio. A full run takes about 55 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
for package in ("hosting", "hosting-responses"):
    sys.path.insert(0, os.path.join(HERE, "..", "packages", package, "src"))

from _load import load_in_subprocess, server_process  # noqa: E402
from agent_framework_hosting.testing import free_port  # noqa: E402

SCENARIOS = [
    ("non-streaming, stored", {"model": "m", "input": "hello there"}, False),
    ("non-streaming, store=false", {"model": "m", "input": "hello there", "store": False}, False),
    ("streaming, stored", {"model": "m", "input": "hello there", "stream": True}, True),
]


def bare_app() -> Any:
    """The baseline: one Starlette route that runs the agent and answers its text (SSE when streaming)."""
    from agent_framework import Agent
    from agent_framework_hosting.testing import OfflineChatClient
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    agent = Agent(client=OfflineChatClient(), name="bench")

    async def create(request: Request) -> Response:
        body = await request.json()
        if body.get("stream"):
            stream = agent.run(body["input"], stream=True)

            async def events() -> Any:
                async for update in stream:
                    if update.text:
                        yield f"event: delta\ndata: {json.dumps({'delta': update.text})}\n\n"
                final = await stream.get_final_response()
                yield f"event: completed\ndata: {json.dumps({'text': final.text})}\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        response = await agent.run(body["input"])
        return JSONResponse({"output_text": response.text})

    return Starlette(routes=[Route("/v1/responses", create, methods=["POST"])])


def channel_app() -> Any:
    from agent_framework import Agent
    from agent_framework_hosting import AgentFrameworkHost
    from agent_framework_hosting.testing import OfflineChatClient
    from agent_framework_hosting_responses import ResponsesChannel

    agent = Agent(client=OfflineChatClient(), name="bench")
    return AgentFrameworkHost(agent, channels=[ResponsesChannel()]).app


def serve(kind: str, port: int) -> None:
    import asyncio
    import logging

    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    logging.getLogger("agent_framework.hosting").setLevel(logging.WARNING)
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    app = bare_app() if kind == "bare" else channel_app()
    asyncio.run(hypercorn_serve(app, config))  # type: ignore[arg-type]


def load(url: str, body: dict[str, Any], stream: bool, args: argparse.Namespace) -> dict[str, Any]:
    """One load run against `url`, from another process."""
    return load_in_subprocess(url, body, concurrency=args.concurrency, duration=args.duration, stream=stream)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs per server; the best counts")
    parser.add_argument("--serve", choices=["bare", "channel"], default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    print(f"concurrency {args.concurrency}, best of {args.rounds} x {args.duration:g} s per server and scenario")
    header = f"{'scenario':28} {'bare req/s':>11} {'channel req/s':>14} {'ratio':>7}"
    header += f" {'bare p50 ms':>12} {'channel p50 ms':>15} {'errors':>7}"
    ports = {kind: free_port() for kind in ("bare", "channel")}
    script = os.path.abspath(__file__)
    with contextlib.ExitStack() as servers:
        for kind, port in ports.items():
            servers.enter_context(server_process([sys.executable, script, "--serve", kind, "--port", str(port)], port))
        print(header)
        for name, body, stream in SCENARIOS:
            runs: dict[str, list[dict[str, Any]]] = {"bare": [], "channel": []}
            for _ in range(args.rounds):
                for kind, port in ports.items():
                    runs[kind].append(load(f"http://127.0.0.1:{port}/v1/responses", body, stream, args))
            bare = max(runs["bare"], key=lambda run: run["rps"])
            channel = max(runs["channel"], key=lambda run: run["rps"])
            errors = sum(run["errors"] for kind_runs in runs.values() for run in kind_runs)
            ratio = channel["rps"] / bare["rps"] if bare["rps"] else 0.0
            print(
                f"{name:28} {bare['rps']:>11.1f} {channel['rps']:>14.1f} {ratio:>7.2f} {bare['p50_ms']:>12.2f} "
                f"{channel['p50_ms']:>15.2f} {errors:>7}",
                flush=True,
            )


if __name__ == "__main__":
    main()
