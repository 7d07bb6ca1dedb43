"""`InvocationsChannel`: Foundry's invocation envelope over HTTP, plain JSON or SSE."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from agent_framework_hosting import (
    ChannelContext,
    ChannelContribution,
    ChannelResponseHook,
    ChannelRunHook,
    ChannelStreamUpdateHook,
    HostedStream,
    get_current_isolation_keys,
)
from agent_framework_hosting.http import DEFAULT_MAX_BODY_BYTES, BadRequest, json_error, parse_json, read_body
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ._parse import (
    INVOCATION_ID_HEADER,
    SESSION_QUERY,
    Invocation,
    invocation_id_from,
    parse_invocation,
    to_channel_request,
)
from ._render import SSE_DONE, SSE_HEADERS, answer_body, answer_headers, failure, sse_data, sse_delta, sse_error

logger = logging.getLogger("agent_framework.hosting.invocations")


class _EventStream(StreamingResponse):
    """An SSE response that stops the turn however the response ends (a client gone mid-stream included)."""

    def __init__(
        self, frames: AsyncGenerator[bytes, None], *, close: Callable[[], Awaitable[None]], headers: dict[str, str]
    ) -> None:
        super().__init__(frames, media_type="text/event-stream", headers=headers)
        self._frames = frames
        self._close = close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            try:
                await self._frames.aclose()
            finally:
                await self._close()


class InvocationsChannel:
    """``POST {path}`` with ``{"message", "session_id"?, "stream"?}``, and ``GET /liveness`` at the host root.

    Session ids
    come from the body's ``session_id`` or the ``agent_session_id`` query; inside a
    Foundry container (``FOUNDRY_HOSTING_ENVIRONMENT`` set) the platform's isolation
    headers scope them per user, or name the conversation when no id is given.
    A workflow target gets ``message`` as any JSON value, fitted to its start executor's type.
    """

    workflow_input = "json"

    def __init__(
        self,
        *,
        path: str = "/invocations",
        run_hook: ChannelRunHook | None = None,
        response_hook: ChannelResponseHook | None = None,
        stream_update_hook: ChannelStreamUpdateHook | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        liveness: bool = True,
        name: str = "invocations",
    ) -> None:
        endpoint = "/" + path.strip("/")
        if endpoint == "/":
            raise ValueError("path must name an endpoint below the root, such as '/invocations'")
        if max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")
        self.name = name
        self.path = endpoint
        self.run_hook = run_hook
        self.response_hook = response_hook
        self.stream_update_hook = stream_update_hook
        self.max_body_bytes = max_body_bytes
        self.liveness = liveness
        self._context: ChannelContext | None = None
        self._text_only = True

    def contribute(self, context: ChannelContext) -> ChannelContribution:
        self._context = context
        self._text_only = not context.is_workflow
        liveness = [Route("/liveness", _liveness, methods=["GET"])] if self.liveness else []
        return ChannelContribution(routes=[Route("/", self._invoke, methods=["POST"])], root_routes=liveness)

    async def _invoke(self, request: Request) -> Response:
        invocation_id = uuid.uuid4().hex
        try:
            invocation_id = invocation_id_from(request.headers.get(INVOCATION_ID_HEADER))
            payload = parse_json(await read_body(request, self.max_body_bytes))
            invocation = parse_invocation(
                payload,
                invocation_id=invocation_id,
                query_session_id=request.query_params.get(SESSION_QUERY),
                isolation=get_current_isolation_keys(),
                text_only=self._text_only,
            )
        except BadRequest as error:
            return json_error(error.status_code, error.message, error.code, **answer_headers(invocation_id, None))
        if invocation.stream:
            return await self._stream(invocation, payload)
        return await self._answer(invocation, payload)

    async def _answer(self, invocation: Invocation, payload: Any) -> Response:
        assert self._context is not None
        try:
            result = await self._context.run(
                to_channel_request(invocation, channel=self.name),
                protocol_request=payload,
            )
            body = answer_body(result.text, invocation.session_id)
        except Exception as error:
            status, code, message = self._failure(error, invocation)
            return json_error(status, message, code, **answer_headers(invocation.invocation_id, invocation.session_id))
        return JSONResponse(body, headers=answer_headers(invocation.invocation_id, invocation.session_id))

    async def _stream(self, invocation: Invocation, payload: Any) -> Response:
        assert self._context is not None
        headers = answer_headers(invocation.invocation_id, invocation.session_id)
        try:
            stream = await self._context.run_stream(
                to_channel_request(invocation, channel=self.name),
                protocol_request=payload,
            )
        except Exception as error:
            status, code, message = self._failure(error, invocation)
            return json_error(status, message, code, **headers)
        return _EventStream(self._frames(stream, invocation), close=stream.aclose, headers={**SSE_HEADERS, **headers})

    async def _frames(self, stream: HostedStream, invocation: Invocation) -> AsyncGenerator[bytes, None]:
        """A ``{"delta"}`` event per update, the hooked final answer, ``[DONE]``; a failure adds an error event."""
        try:
            async for update in stream:
                text = update.text
                if text:
                    yield sse_delta(text)
            final = stream.result
            yield sse_data(answer_body(final.text if final is not None else "", invocation.session_id))
        except Exception as error:
            _, code, message = self._failure(error, invocation)
            yield sse_error(code, message)
        yield SSE_DONE

    def _failure(self, error: Exception, invocation: Invocation) -> tuple[int, str, str]:
        """Map a failed turn to (status, code, message); a workflow that refuses the message is the client's error."""
        status, code, message = failure(error, invocation_id=invocation.invocation_id)
        if status >= 500:
            logger.error("invocation %s failed", invocation.invocation_id, exc_info=error)
        else:
            logger.info("invocation %s refused: %s", invocation.invocation_id, code)
        return status, code, message


async def _liveness(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")
