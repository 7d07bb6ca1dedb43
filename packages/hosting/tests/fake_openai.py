"""A fake OpenAI-compatible Chat Completions server (a real Starlette app) with a scripted model.

The model answers ``fake <model>: <n> user message(s), last: <text>`` so a test can see the
history it was sent; a user message ``use calculate: <expression>`` makes it call the
``calculate`` tool, and a tool result is worded as ``the <tool> tool says <result>``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

TOOL_PREFIX = "use calculate:"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def scripted_reply(body: dict[str, Any]) -> dict[str, Any]:
    """``{"content": str}`` or ``{"tool_call": {"name", "arguments"}}`` for a chat completions request body."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        names = {
            call["id"]: call["function"]["name"] for message in messages for call in message.get("tool_calls") or []
        }
        return {"content": f"the {names.get(last.get('tool_call_id'), '?')} tool says {_text(last.get('content'))}"}
    users = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
    text = users[-1] if users else ""
    if text.startswith(TOOL_PREFIX):
        expression = text[len(TOOL_PREFIX) :].strip()
        return {"tool_call": {"name": "calculate", "arguments": json.dumps({"expression": expression})}}
    return {"content": f"fake {body.get('model')}: {len(users)} user message(s), last: {text}"}


class FakeOpenAI:
    """Records every request (headers and body) it answers."""

    def __init__(self, *, chunk_delay: float = 0.0) -> None:
        self.chunk_delay = chunk_delay
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/v1/chat/completions", self._completions, methods=["POST"])])

    async def _completions(self, request: Request) -> Response:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return JSONResponse({"error": {"message": "missing API key", "type": "invalid_request_error"}}, 401)
        body = await request.json()
        self.requests.append({"headers": dict(request.headers), "body": body})
        reply = scripted_reply(body)
        if body.get("stream"):
            return StreamingResponse(self._chunks(body, reply), media_type="text/event-stream")
        message: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
        if "tool_call" in reply:
            message["tool_calls"] = [{"id": "call_1", "type": "function", "function": reply["tool_call"]}]
        return JSONResponse(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [
                    {"index": 0, "message": message, "finish_reason": "tool_calls" if "tool_call" in reply else "stop"}
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
            }
        )

    async def _chunks(self, body: dict[str, Any], reply: dict[str, Any]) -> AsyncIterator[str]:
        def frame(delta: dict[str, Any], finish: str | None = None) -> str:
            chunk = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(chunk)}\n\n"

        if "tool_call" in reply:
            call = {"index": 0, "id": "call_1", "type": "function", "function": reply["tool_call"]}
            yield frame({"role": "assistant", "tool_calls": [call]})
            yield frame({}, "tool_calls")
        else:
            for index, word in enumerate(reply["content"].split(" ")):
                if self.chunk_delay:
                    await asyncio.sleep(self.chunk_delay)
                yield frame({"role": "assistant", "content": word if index == 0 else " " + word})
            yield frame({}, "stop")
        usage = {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
        last = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [],
            "usage": usage,
        }
        yield f"data: {json.dumps(last)}\n\n"
        yield "data: [DONE]\n\n"
