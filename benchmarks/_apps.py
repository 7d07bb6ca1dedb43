"""The servers the benchmarks compare, each started as its own process.

python benchmarks/_apps.py bare|host --port 8000 [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "packages", "hosting", "src"))

from agent_framework import Agent, AgentSession  # noqa: E402
from agent_framework_hosting import AgentFrameworkHost  # noqa: E402
from agent_framework_hosting.testing import JsonChannel, OfflineChatClient  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, Response, StreamingResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402


def make_agent() -> Agent:
    return Agent(client=OfflineChatClient(), name="bench")


def bare_app() -> Starlette:
    """The baseline: a plain Starlette route calling the agent, with a dict of sessions."""
    agent = make_agent()
    sessions: dict[str, AgentSession] = {}

    async def post(request: Request) -> Response:
        body = await request.json()
        key = body.get("key")
        kwargs = {}
        if key:
            kwargs["session"] = sessions.setdefault(key, agent.create_session(session_id=key))
        if body.get("stream"):
            stream = agent.run(body["text"], stream=True, **kwargs)

            async def chunks():
                async for update in stream:
                    if update.text:
                        yield update.text
                await stream.get_final_response()

            return StreamingResponse(chunks(), media_type="text/plain")
        response = await agent.run(body["text"], **kwargs)
        return JSONResponse({"text": response.text})

    return Starlette(routes=[Route("/json", post, methods=["POST"])])


def host_app(state_dir: str | None) -> Starlette:
    return AgentFrameworkHost(make_agent(), channels=[JsonChannel()], state_dir=state_dir).app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["bare", "host"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", default=None)
    args = parser.parse_args()
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{args.port}"]
    config.accesslog = None
    config.errorlog = None
    app = bare_app() if args.kind == "bare" else host_app(args.state_dir)
    asyncio.run(serve(app, config))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
