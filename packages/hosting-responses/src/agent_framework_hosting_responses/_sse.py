"""Server-sent events: framing, and a response that always closes what it streams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def sse_frame(event: dict[str, Any]) -> bytes:
    """One server-sent event: ``event: <type>``, ``data: <json>`` and a blank line."""
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def sse_frames(events: Sequence[dict[str, Any]]) -> bytes:
    """Events that are ready together, framed as one chunk (one write to the client)."""
    return b"".join(sse_frame(event) for event in events)


async def frames(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    async for event in events:
        yield sse_frame(event)


class EventStreamResponse(StreamingResponse):
    """`text/event-stream` whose body generator (and `on_close`) is closed however the response ends.

    A disconnecting client cancels the response; closing the generator right
    away, rather than whenever it is garbage collected, lets it stop the run.
    """

    def __init__(self, body: AsyncIterator[bytes], *, on_close: Callable[[], Awaitable[None]] | None = None) -> None:
        super().__init__(body, media_type="text/event-stream", headers=SSE_HEADERS)
        self._body = body
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await self._body.aclose()  # type: ignore[attr-defined]
                finally:
                    if self._on_close is not None:
                        await self._on_close()
