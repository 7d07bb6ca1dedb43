"""`AGUIChannel`: AG-UI over HTTP: `RunAgentInput` in, the event stream (server-sent events) out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

import anyio
from ag_ui.core import (
    AssistantMessage,
    BaseEvent,
    MessagesSnapshotEvent,
    RunAgentInput,
    StateDeltaEvent,
    StateSnapshotEvent,
)
from ag_ui.encoder import EventEncoder
from agent_framework import FunctionTool
from agent_framework_hosting import (
    ChannelContext,
    ChannelContribution,
    ChannelRequest,
    ChannelResponseHook,
    ChannelRunHook,
    ChannelSession,
    ChannelStreamUpdateHook,
    HostedStream,
    HostingError,
)
from agent_framework_hosting.http import (
    DEFAULT_MAX_BODY_BYTES,
    BadRequest,
    bearer_token,
    json_error,
    parse_json,
    read_body,
    secrets_equal,
)
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ._events import EventRenderer
from ._parse import (
    front_end_tools,
    isolation_key,
    parse_input,
    resumed_approvals,
    unknown_interrupts,
    unseen_messages,
)
from ._snapshot import snapshot_messages
from ._state import state_tool
from ._threads import DEFAULT_THREAD_TTL, ThreadRecord, Threads

logger = logging.getLogger("agent_framework.hosting.ag_ui")

FAILED_MESSAGE = "The agent failed to answer; the server log has details."
THREAD_WAIT = 120.0
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class InvalidResume(HostingError):
    """`RunAgentInput.resume` answers an interrupt the thread is not waiting for."""

    status_code = 400
    code = "invalid_resume"

    def __init__(self, interrupt_id: str) -> None:
        super().__init__(f"no interrupt {interrupt_id!r} is waiting on this thread")
        self.public_message = str(self)


class _EventStream(StreamingResponse):
    """`text/event-stream` whose generator is closed however the response ends (a client gone included)."""

    def __init__(self, body: AsyncIterator[bytes]) -> None:
        super().__init__(body, media_type="text/event-stream", headers=SSE_HEADERS)
        self._body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._body.aclose()  # type: ignore[attr-defined]


class AGUIChannel:
    """``POST {path}`` with a `RunAgentInput`; answers with the run's AG-UI events.

    A ``threadId`` is one conversation; only messages the thread has not seen (by id) are added,
    so clients may send just the new message or the whole history. Tools the client declares
    come back to it as tool calls; its next run carries their results.
    """

    def __init__(
        self,
        *,
        path: str = "/ag-ui",
        api_key: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        thread_ttl: float | None = DEFAULT_THREAD_TTL,
        state_tool: str | None = "update_state",
        run_hook: ChannelRunHook | None = None,
        response_hook: ChannelResponseHook | None = None,
        stream_update_hook: ChannelStreamUpdateHook | None = None,
        name: str = "ag-ui",
    ) -> None:
        endpoint = "/" + path.strip("/")
        if endpoint == "/":
            raise ValueError("path must name an endpoint below the root, such as '/ag-ui'")
        if max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")
        self.name = name
        self.path = endpoint
        self.api_key = api_key or None
        self.max_body_bytes = max_body_bytes
        self.thread_ttl = thread_ttl
        self.state_tool = state_tool
        self.run_hook = run_hook
        self.response_hook = response_hook
        self.stream_update_hook = stream_update_hook
        self._context: ChannelContext | None = None
        self._threads: Threads | None = None
        self._encoder = EventEncoder()

    def contribute(self, context: ChannelContext) -> ChannelContribution:
        self._context = context
        self._threads = Threads(context.state, ttl=self.thread_ttl)
        return ChannelContribution(routes=[Route("/", self._run, methods=["POST"])])

    async def _run(self, request: Request) -> Response:
        if self.api_key is not None and not secrets_equal(bearer_token(request), self.api_key):
            return json_error(
                401,
                "authentication required: Authorization: Bearer <key>",
                "unauthorized",
                **{"www-authenticate": "Bearer"},
            )
        try:
            run = parse_input(parse_json(await read_body(request, self.max_body_bytes)))
        except BadRequest as error:
            return json_error(error.status_code, error.message, error.code)
        if run.resume:
            assert self._threads is not None
            unknown = unknown_interrupts(run, await self._threads.approvals(run.thread_id))
            if unknown:
                invalid = InvalidResume(unknown[0])
                return json_error(invalid.status_code, invalid.public_message, invalid.code)
        return _EventStream(self._events(run))

    def _encode(self, events: Iterable[BaseEvent]) -> bytes:
        return "".join(self._encoder.encode(event) for event in events).encode()

    async def _events(self, run: RunAgentInput) -> AsyncIterator[bytes]:
        assert self._context is not None and self._threads is not None
        renderer = EventRenderer(run.thread_id, run.run_id)
        yield self._encode(renderer.started())
        try:
            # One run per thread at a time: reading what the thread has seen and recording it
            # afterwards must not interleave with another run of the same thread.
            async with self._context.state.lock(f"ag-ui:{run.thread_id}", wait=THREAD_WAIT):
                record = await self._threads.get(run.thread_id)
                if run.state is not None:
                    record.state = run.state
                if record.state is not None:
                    yield self._encode([StateSnapshotEvent(snapshot=record.state)])
                unknown = unknown_interrupts(run, record.approvals)
                if unknown:
                    raise InvalidResume(unknown[0])
                messages, ids = unseen_messages(run, record.has_seen, record.approvals)
                messages.extend(resumed_approvals(run, record.approvals))
                if not messages:
                    snapshot = await self._snapshot(run.thread_id, record)
                    if snapshot is not None:
                        yield self._encode([snapshot])
                    record.remember(ids)
                    await self._threads.save(run.thread_id, record)
                else:
                    async for chunk in self._turn(run, messages, ids, record, renderer):
                        yield chunk
        except HostingError as error:
            logger.warning("ag-ui: run %s of thread %s refused: %s", run.run_id, run.thread_id, error.code)
            yield self._encode(renderer.failed(error.public_message, error.code))
            return
        except Exception:
            logger.exception("ag-ui: the agent failed on run %s", run.run_id)
            yield self._encode(renderer.failed(FAILED_MESSAGE, "agent_error"))
            return
        yield self._encode(renderer.finished())

    async def _snapshot(self, thread_id: str, record: ThreadRecord) -> MessagesSnapshotEvent | None:
        """The thread's conversation, for a client that brought nothing new (one joining or reloading the thread).

        Its ids count as seen, so the client may send the snapshot back as its history.
        """
        assert self._context is not None
        shown = snapshot_messages(await self._context.history(isolation_key(thread_id)))
        if not shown:
            return None
        calls = [call for m in shown if isinstance(m, AssistantMessage) for call in m.tool_calls or ()]
        record.remember([*(message.id for message in shown), *(f"call:{call.id}" for call in calls)])
        return MessagesSnapshotEvent(messages=list(shown))

    async def _turn(
        self, run: RunAgentInput, messages: list[Any], ids: list[str], record: ThreadRecord, renderer: EventRenderer
    ) -> AsyncIterator[bytes]:
        assert self._context is not None and self._threads is not None
        tools: list[FunctionTool] = front_end_tools(run.tools)
        deltas: list[list[Any]] = []
        if record.state is not None and self.state_tool and all(tool.name != self.state_tool for tool in tools):
            tools.append(state_tool(self.state_tool, record, deltas))
        request = ChannelRequest(
            channel=self.name,
            operation="run",
            input=messages,
            session=ChannelSession(isolation_key(run.thread_id)),
            options={"tools": tools} if tools else None,
            attributes={"thread_id": run.thread_id, "run_id": run.run_id, "state": record.state},
            stream=True,
        )
        stream: HostedStream = await self._context.run_stream(request, protocol_request=run)
        try:
            async for update in stream:
                events = renderer.update(update)
                events.extend(StateDeltaEvent(delta=patch) for patch in deltas)
                deltas.clear()
                if events:
                    yield self._encode(events)
        finally:
            # The turn reached the agent: its input is in the session now, however the stream ended.
            with anyio.CancelScope(shield=True):
                await stream.aclose()
                record.remember([*ids, *renderer.message_ids, *(f"call:{call}" for call in renderer.call_ids)])
                record.approvals.update(renderer.approvals)
                await self._threads.save(run.thread_id, record)
