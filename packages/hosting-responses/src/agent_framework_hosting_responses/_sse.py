"""Server-sent events: framing, and a response that always closes what it streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ._records import json_bytes

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
WATCH_AFTER = 0.05
"""Seconds a response streams before a task starts watching for the client's disconnect."""


# UTF-8 encodings of the non-ASCII characters that some clients split lines at (Python's `str.splitlines`).
_LINE_BREAKS = ((b"\xc2\x85", b"\\u0085"), (b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"))


def event_json(value: Any) -> bytes:
    """Compact UTF-8 JSON for an event's data line, with no character in it that a client could read as a line break.

    JSON escapes CR, LF and every other control character; U+0085, U+2028 and U+2029 are escaped here.
    """
    encoded = json_bytes(value)
    if not encoded.isascii():
        for raw, escaped in _LINE_BREAKS:
            if raw in encoded:
                encoded = encoded.replace(raw, escaped)
    return encoded


def sse_frame(event: dict[str, Any]) -> bytes:
    """One server-sent event: ``event: <type>``, ``data: <json>`` and a blank line."""
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + event_json(event) + b"\n\n"


def sse_frames(events: Sequence[dict[str, Any]]) -> bytes:
    """Events that are ready together, framed as one chunk (one write to the client)."""
    return b"".join(map(sse_frame, events))


async def frames(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    async for event in events:
        yield sse_frame(event)


class EventStreamResponse(Response):
    """`text/event-stream` whose body generator (and `on_close`) is closed however the response ends.

    A disconnecting client cancels the response; closing the generator right
    away, rather than whenever it is garbage collected, lets it stop the run.
    """

    media_type = "text/event-stream"

    def __init__(self, body: AsyncIterator[bytes], *, on_close: Callable[[], Awaitable[None]] | None = None) -> None:
        self.status_code = 200
        self.background = None
        self.init_headers(SSE_HEADERS)
        self._body = body
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Not Starlette's StreamingResponse: it runs the body beside a disconnect listener in an anyio task
        # group, which costs a streamed response more than encoding all its events. Here the body is sent
        # from the request's own task inside one cancel scope; a task waiting for the disconnect is started
        # only once the response has streamed for WATCH_AFTER seconds (most answers are done by then, and
        # a client that left earlier is noticed then: its server keeps the disconnect for `receive`).
        finished = False
        watcher: asyncio.Task[None] | None = None
        try:
            with anyio.CancelScope() as cancel_scope:

                def watch() -> None:
                    nonlocal watcher
                    watcher = asyncio.get_running_loop().create_task(_cancel_on_disconnect(receive, cancel_scope))

                timer = asyncio.get_running_loop().call_later(WATCH_AFTER, watch)
                try:
                    await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
                    async for chunk in self._body:
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    finished = True
                finally:
                    timer.cancel()
                    if watcher is not None:
                        watcher.cancel()
        finally:
            # However the response ended (its end, a disconnect, `send` raising, the server cancelling the task),
            # the body and `on_close` are closed once. A body that ran to its end has nothing left to wait for.
            if finished:
                await self._close()
            else:
                with anyio.CancelScope(shield=True):
                    await self._close()

    async def _close(self) -> None:
        try:
            await self._body.aclose()  # type: ignore[attr-defined]
        finally:
            if self._on_close is not None:
                await self._on_close()


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    """Cancel `scope` once the client disconnects (ASGI servers before spec 2.4 only say so through `receive`)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()
