"""`A2AChannel`: the agent as an A2A server (JSON-RPC over HTTP, SSE streams, the agent card)."""

from __future__ import annotations

from typing import Any

from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from a2a.utils.constants import AGENT_CARD_WELL_KNOWN_PATH, VERSION_HEADER
from agent_framework_hosting import (
    ChannelContext,
    ChannelContribution,
    ChannelResponseHook,
    ChannelRunHook,
    ChannelStreamUpdateHook,
)
from agent_framework_hosting.http import (
    DEFAULT_MAX_BODY_BYTES,
    BadRequest,
    bearer_token,
    parse_json,
    read_body,
    secrets_equal,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message

from ._card import CardOptions, build_card
from ._handler import HostRequestHandler
from ._push import PushOptions
from ._rest import Endpoint, rest_error, rest_routes
from ._store import DEFAULT_TASK_TTL, TaskStore

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
VERSION_NOT_SUPPORTED = -32009
DEFAULT_WAIT_SECONDS = 30.0
AUTH_MESSAGE = "authentication required: Authorization: Bearer <key>"


def rpc_error(status_code: int, code: int, message: str, *, request_id: Any = None, **headers: str) -> JSONResponse:
    """A JSON-RPC error answer for requests refused before dispatch."""
    body = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status_code, headers=headers or None)


def version_mismatch(payload: Any, version: str | None) -> str | None:
    """Why a request naming a v0.3 method (``tasks/get``) under ``A2A-Version: 1.x`` is refused, else None.

    a2a-sdk answers it with -32603 (its v0.3 adapter cannot carry -32009); a 1.x client understands -32009.
    """
    method = payload.get("method") if isinstance(payload, dict) else None
    if not isinstance(method, str) or "/" not in method or not version or version.split(".")[0] in ("0", ""):
        return None
    return f"{method} is an A2A 0.3 method, but the request says A2A-Version {version}: use the 1.0 method names"


class A2AChannel:
    """Serves the target as an A2A agent: ``POST {path}`` (JSON-RPC) and the card at ``/.well-known/agent-card.json``.

    Methods: the v1.0 names (``SendMessage``, ``SendStreamingMessage``, ``GetTask``, ``CancelTask``,
    ``SubscribeToTask``) and the v0.3 ones (``message/send``, ``message/stream``, ``tasks/get``,
    ``tasks/cancel``, ``tasks/resubscribe``), ``ListTasks`` and the push notification config methods
    (`push`: where notifications may go; None turns them off). A ``contextId`` is a conversation of the host; tasks are
    kept in the host's state. With `api_key`, every JSON-RPC call needs ``Authorization: Bearer <api_key>``.
    """

    def __init__(
        self,
        *,
        path: str = "/a2a",
        api_key: str | None = None,
        card: CardOptions | None = None,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
        task_ttl: float | None = DEFAULT_TASK_TTL,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        well_known: bool = True,
        push: PushOptions | None = PushOptions(),  # noqa: B008 - frozen, shared safely
        run_hook: ChannelRunHook | None = None,
        response_hook: ChannelResponseHook | None = None,
        stream_update_hook: ChannelStreamUpdateHook | None = None,
        name: str = "a2a",
    ) -> None:
        endpoint = "/" + path.strip("/")
        if endpoint == "/":
            raise ValueError("path must name an endpoint below the root, such as '/a2a'")
        if wait_seconds < 0:
            raise ValueError("wait_seconds must not be negative")
        if max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")
        self.name = name
        self.path = endpoint
        self.api_key = api_key or None
        self.card = card or CardOptions()
        self.wait_seconds = wait_seconds
        self.task_ttl = task_ttl
        self.max_body_bytes = max_body_bytes
        self.well_known = well_known
        self.push = push
        self.run_hook = run_hook
        self.response_hook = response_hook
        self.stream_update_hook = stream_update_hook
        self._context: ChannelContext | None = None
        self._dispatcher: JsonRpcDispatcher | None = None
        self.handler: HostRequestHandler | None = None

    def contribute(self, context: ChannelContext) -> ChannelContribution:
        self._context = context
        self.handler = HostRequestHandler(
            context,
            TaskStore(context.state, ttl=self.task_ttl),
            channel=self.name,
            wait_seconds=self.wait_seconds,
            push=self.push,
        )
        context.resumable(self.handler)
        self._dispatcher = JsonRpcDispatcher(self.handler, enable_v0_3_compat=True)
        routes: list[BaseRoute] = [
            Route("/", self._rpc, methods=["POST"]),
            Route(AGENT_CARD_WELL_KNOWN_PATH, self._card_at_channel, methods=["GET"]),
            *rest_routes(self.handler, self._guard_rest),
        ]
        root = [Route(AGENT_CARD_WELL_KNOWN_PATH, self._card_at_root, methods=["GET"])] if self.well_known else []
        sender = self.handler.sender
        if sender is None:
            return ChannelContribution(routes=routes, root_routes=root)
        context.resendable(self.handler)
        return ChannelContribution(
            routes=routes, root_routes=root, on_startup=[sender.start], on_shutdown=[sender.stop]
        )

    def agent_card(self, url: str) -> Any:
        """The card (an `a2a.types.AgentCard`) for a channel reachable at `url`."""
        assert self._context is not None, "the channel is not part of a host yet"
        return build_card(
            self._context.target, self.card, url=url, authenticated=self.api_key is not None, push=self.push is not None
        )

    def _card_response(self, url: str) -> JSONResponse:
        return JSONResponse(agent_card_to_dict(self.agent_card(self.card.public_url or url)))

    async def _card_at_root(self, request: Request) -> Response:
        return self._card_response(_without_card_path(request) + self.path)

    async def _card_at_channel(self, request: Request) -> Response:
        return self._card_response(
            str(request.url.replace(query="", fragment="")).removesuffix(AGENT_CARD_WELL_KNOWN_PATH)
        )

    async def _rpc(self, request: Request) -> Response:
        assert self._dispatcher is not None
        if self.api_key is not None and not secrets_equal(bearer_token(request), self.api_key):
            return rpc_error(
                401,
                INVALID_REQUEST,
                "authentication required: Authorization: Bearer <key>",
                **{"www-authenticate": "Bearer"},
            )
        try:
            body = await read_body(request, self.max_body_bytes)
            payload = parse_json(body)
        except BadRequest as error:
            code = PARSE_ERROR if error.code == "invalid_json" else INVALID_REQUEST
            return rpc_error(200 if code == PARSE_ERROR else error.status_code, code, error.message)
        mismatch = version_mismatch(payload, request.headers.get(VERSION_HEADER))
        if mismatch is not None:
            request_id = payload.get("id") if isinstance(payload.get("id"), (str, int)) else None
            return rpc_error(200, VERSION_NOT_SUPPORTED, mismatch, request_id=request_id)
        forwarded = Request(request.scope, _replay(body, request.receive))
        forwarded._json = payload  # parsed once, here, where any bytes map to -32700 rather than -32603
        return await self._dispatcher.handle_requests(forwarded)

    async def _guard_rest(self, request: Request, endpoint: Endpoint) -> Response:
        """The HTTP+JSON binding's calls: the same key and body limit as JSON-RPC, then a2a-sdk's REST dispatcher."""
        if self.api_key is not None and not secrets_equal(bearer_token(request), self.api_key):
            return rest_error(401, AUTH_MESSAGE, **{"www-authenticate": "Bearer"})
        try:
            body = await read_body(request, self.max_body_bytes)
        except BadRequest as error:
            return rest_error(error.status_code, error.message)
        if body:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                return rest_error(400, "the body is not UTF-8 JSON")
        return await endpoint(Request(request.scope, _replay(body, request.receive)))


def _without_card_path(request: Request) -> str:
    """The URL a card request was made under: the host root, or the channel's own URL."""
    return str(request.url.replace(query="", fragment="")).removesuffix(AGENT_CARD_WELL_KNOWN_PATH)


def _replay(body: bytes, receive: Any) -> Any:
    """An ASGI receive that hands over the already-read body once, then the connection's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # type: ignore[no-any-return]

    return replay
