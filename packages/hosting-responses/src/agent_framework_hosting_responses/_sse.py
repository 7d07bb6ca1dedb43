"""Server-sent events: framing, and a response that always closes what it streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from json.encoder import encode_basestring_ascii as _string
from typing import Any

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
WATCH_AFTER = 0.05
"""Seconds a response streams before a task starts watching for the client's disconnect."""


TEXT_DELTA = "response.output_text.delta"
_TEXT_DELTA_FIELDS = ("type", "sequence_number", "item_id", "output_index", "content_index", "delta", "logprobs")
_LIFECYCLE_FIELDS = ("type", "sequence_number", "response")


def _not_serializable(value: object) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _compact_encoder() -> Callable[[Any], str]:
    """Compact ASCII JSON. `JSONEncoder.encode` builds a new C encoder in Python on every call, which costs
    more than encoding a small event; a stream encodes a dozen, so one C encoder is made here and reused
    (the same output; no circular-reference check, as events are trees this package builds)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator
        return json.JSONEncoder(separators=(",", ":")).encode
    encoder = make(None, _not_serializable, _string, None, ":", ",", False, False, True)
    return lambda value: "".join(encoder(value, 0))


_encode = _compact_encoder()


def event_json(value: Any) -> bytes:
    """Compact JSON for an event's data line; ASCII, so no character in it can be read as a line break."""
    return _encode(value).encode()


def _text_delta_frame(event: dict[str, Any]) -> bytes | None:
    """A plain text delta framed from a template: most of a stream's events are these, and the general
    encoder's setup costs more than the event. The bytes are what `event_json` makes; None for any other shape."""
    if tuple(event) != _TEXT_DELTA_FIELDS or event["logprobs"] != []:
        return None
    number, item_id, output, content, delta = (event[name] for name in _TEXT_DELTA_FIELDS[1:6])
    if not (type(number) is type(output) is type(content) is int and type(item_id) is type(delta) is str):
        return None
    data = (
        f'{{"type":"{TEXT_DELTA}","sequence_number":{number},"item_id":{_string(item_id)},'
        f'"output_index":{output},"content_index":{content},"delta":{_string(delta)},"logprobs":[]}}'
    )
    return f"event: {TEXT_DELTA}\ndata: {data}\n\n".encode()


def sse_frame(event: dict[str, Any], responses: dict[int, bytes] | None = None) -> bytes:
    """One server-sent event: ``event: <type>``, ``data: <json>`` and a blank line.

    A lifecycle event's `response` is encoded once per dict: `responses` holds the encodings by the dict's id.
    """
    if event.get("type") == TEXT_DELTA:
        framed = _text_delta_frame(event)
        if framed is not None:
            return framed
    response = event.get("response")
    if responses is None or not isinstance(response, dict):
        return b"event: " + str(event["type"]).encode() + b"\ndata: " + event_json(event) + b"\n\n"
    encoded = responses.get(id(response))
    if encoded is None:
        encoded = responses[id(response)] = event_json(response)
    kind = event["type"]
    if tuple(event) == _LIFECYCLE_FIELDS and type(kind) is str and type(event["sequence_number"]) is int:
        head = f'{{"type":{_string(kind)},"sequence_number":{event["sequence_number"]},"response":'
    else:
        head = _encode({name: value for name, value in event.items() if name != "response"})[:-1] + ',"response":'
    return b"event: " + str(kind).encode() + b"\ndata: " + head.encode() + encoded + b"}\n\n"


def sse_frames(events: Sequence[dict[str, Any]], responses: dict[int, bytes] | None = None) -> bytes:
    """Events that are ready together, framed as one chunk (one write to the client).

    Events that carry the same response dict (created, in_progress) share one encoding of it; pass
    `responses` (encodings by the dict's id) to reuse one made already or to keep the ones made here.
    """
    known = {} if responses is None else responses
    return b"".join(sse_frame(event, known) for event in events)


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
