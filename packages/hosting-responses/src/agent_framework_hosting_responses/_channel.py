"""`ResponsesChannel`: the OpenAI Responses API (and its conversations) on an `AgentFrameworkHost`."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from agent_framework import Message
from agent_framework_hosting import (
    ChannelContext,
    ChannelContribution,
    ChannelRequest,
    ChannelResponseHook,
    ChannelRunHook,
    ChannelStreamUpdateHook,
    ConversationBusyError,
    ConversationReference,
    DeliveryFailed,
    HostingError,
    TurnInterruptedError,
)
from agent_framework_hosting.http import BadRequest, bearer_token, parse_json, read_body, secrets_equal
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._errors import BUSY_MESSAGE, ApiError, not_found
from ._ids import default_response_id, new_id
from ._parse import (
    DEFAULT_FORWARDED_OPTIONS,
    OPTION_NAMES,
    parse_conversation_items,
    parse_create,
    parse_list_query,
    parse_metadata,
    parse_stream_query,
)
from ._records import Records
from ._render import conversation_object, deleted, item_list, list_page, message_item
from ._turns import TurnRunner

logger = logging.getLogger("agent_framework.hosting.responses")

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
Endpoint = Callable[[Request], Awaitable[Response]]


def _normalize(path: str) -> str:
    stripped = path.strip("/")
    return "/" + stripped if stripped else ""


class ResponsesChannel:
    """Serves the OpenAI Responses API so the official SDK (``OpenAI(base_url=<host>)``) can talk to the agent.

    With the default ``path="/responses"`` the channel answers ``/responses`` and, at
    the host root, ``/conversations``, and both again under ``/v1`` (the ``base_url``
    most users copy); ``path="/api/responses"`` gives ``/api/...`` and ``/api/v1/...``.

    `forward_options` names the request fields passed to the agent as chat options
    (see `OPTION_NAMES`); other settings are validated, echoed where the API echoes
    them, and otherwise ignored, so callers cannot swap the agent's tools by default.
    """

    name = "responses"

    def __init__(
        self,
        *,
        path: str = "/responses",
        run_hook: ChannelRunHook | None = None,
        response_hook: ChannelResponseHook | None = None,
        stream_update_hook: ChannelStreamUpdateHook | None = None,
        response_id_factory: Callable[[str | None], str] | None = None,
        api_key: str | None = None,
        forward_options: Collection[str] = DEFAULT_FORWARDED_OPTIONS,
        model: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        v1_alias: bool = True,
        store_ttl: float | None = None,
        replay_timeout: float = 600.0,
    ) -> None:
        unknown = sorted(set(forward_options) - set(OPTION_NAMES))
        if unknown:
            raise ValueError(f"forward_options has unknown field(s) {unknown}; known: {sorted(OPTION_NAMES)}")
        if api_key is not None and not api_key:
            raise ValueError("api_key must be a non-empty string or None")
        self.path = _normalize(path)
        self.run_hook = run_hook
        self.response_hook = response_hook
        self.stream_update_hook = stream_update_hook
        self._response_id_factory = response_id_factory or default_response_id
        self._api_key = api_key
        self.forward_options = tuple(forward_options)
        self.model = model
        self.max_body_bytes = max_body_bytes
        self.v1_alias = v1_alias
        self.store_ttl = store_ttl
        self.replay_timeout = replay_timeout
        self._runner: TurnRunner | None = None

    # -- composition ------------------------------------------------------------------------------

    def route_prefixes(self) -> list[tuple[str, str]]:
        """(responses path, API root) pairs served: the configured one, then the ``/v1`` alias."""
        path = self.path
        if not path.endswith("/responses"):
            return [(path, path)]
        root = path[: -len("/responses")]
        prefixes = [(path, root)]
        if self.v1_alias and not root.endswith("/v1"):
            prefixes.append((f"{root}/v1/responses", f"{root}/v1"))
        return prefixes

    def contribute(self, context: ChannelContext) -> ChannelContribution:
        self._runner = TurnRunner(
            context,
            Records(context, ttl=self.store_ttl if self.store_ttl is not None else context.response_ttl),
            forwarded=self.forward_options,
            replay_timeout=self.replay_timeout,
            unique_ids=self._response_id_factory is default_response_id,
        )
        self._default_model = self.model or getattr(context.target, "name", None) or "agent"
        return ChannelContribution(routes=self._response_routes(""), root_routes=self._root_routes())

    def _root_routes(self) -> list[BaseRoute]:
        """Conversations beside each responses path, and the ``/v1`` alias of the responses routes."""
        routes: list[BaseRoute] = []
        # Responses first: Starlette tries routes in order, and `POST /v1/responses` is the one most requests take.
        for responses, _ in self.route_prefixes():
            if responses != self.path:
                routes += self._response_routes(responses)
        for _, root in self.route_prefixes():
            routes += self._conversation_routes(f"{root}/conversations")
        return routes

    def _response_routes(self, prefix: str) -> list[BaseRoute]:
        return [
            Route(prefix or "/", self._endpoint(self._create), methods=["POST"]),
            Route(f"{prefix}/{{response_id}}", self._endpoint(self._response), methods=["GET", "DELETE"]),
            Route(f"{prefix}/{{response_id}}/cancel", self._endpoint(self._cancel), methods=["POST"]),
            Route(f"{prefix}/{{response_id}}/input_items", self._endpoint(self._input_items), methods=["GET"]),
        ]

    def _conversation_routes(self, conversations: str) -> list[BaseRoute]:
        return [
            Route(conversations, self._endpoint(self._create_conversation), methods=["POST"]),
            Route(
                f"{conversations}/{{conversation_id}}",
                self._endpoint(self._conversation),
                methods=["GET", "POST", "DELETE"],
            ),
            Route(
                f"{conversations}/{{conversation_id}}/items",
                self._endpoint(self._conversation_items),
                methods=["GET", "POST"],
            ),
            Route(
                f"{conversations}/{{conversation_id}}/items/{{item_id}}",
                self._endpoint(self._conversation_item),
                methods=["GET"],
            ),
        ]

    def conversation_reference(self, request: ChannelRequest) -> dict[str, Any] | None:
        """A turn in a Conversation can be delivered into later: its id is the reference."""
        conversation_id = request.attributes.get("conversation_id")
        return {"conversation_id": conversation_id} if isinstance(conversation_id, str) else None

    async def deliver(self, reference: ConversationReference, message: Message) -> None:
        """Append `message` to the conversation's items as an assistant message; a response streaming there shows it.

        A response streaming in the conversation (in this process) streams the message at once as an output
        item of its own, and keeps it in its output; with no response running, it is the conversation's next item.
        """
        conversation_id = reference.require("conversation_id", str)
        if await self.runner.records.conversation(conversation_id) is None:
            raise DeliveryFailed(f"there is no conversation {conversation_id!r} to deliver into", permanent=True)
        item = message_item(new_id("msg"), message.text, "completed")
        await self.runner.append_items(conversation_id, [item])
        self.runner.streams.deliver(conversation_id, item)

    @property
    def runner(self) -> TurnRunner:
        if self._runner is None:
            raise RuntimeError("the channel has not been added to a host yet")
        return self._runner

    def _endpoint(self, handler: Endpoint) -> Endpoint:
        """Authenticate, then answer every failure in OpenAI's error shape (never a stack trace)."""

        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            try:
                self._authenticate(request)
                return await handler(request)
            except ApiError as error:
                return error.response()
            except BadRequest as error:
                return ApiError(error.message, status_code=error.status_code, code=error.code).response()
            except HostingError as error:
                return ApiError(_hosting_message(error), status_code=error.status_code, code=error.code).response()
            except Exception:
                logger.exception("responses: %s %s failed", request.method, request.url.path)
                return ApiError(
                    "The server failed to handle the request.", status_code=500, code="server_error", retry=False
                ).response()

        return endpoint

    def _authenticate(self, request: Request) -> None:
        if self._api_key is None:
            return
        if not secrets_equal(bearer_token(request), self._api_key):
            raise ApiError("Incorrect API key provided.", status_code=401, code="invalid_api_key")

    async def _body(self, request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
        raw = await read_body(request, self.max_body_bytes)
        if allow_empty and not raw.strip():
            return {}
        payload = parse_json(raw)
        if not isinstance(payload, dict):
            raise ApiError("The request body must be a JSON object.", code="invalid_json")
        return payload

    def _mint(self, previous_response_id: str | None) -> str:
        response_id = self._response_id_factory(previous_response_id)
        if not isinstance(response_id, str) or not response_id:
            raise TypeError("response_id_factory must return a non-empty string")
        return response_id

    # -- responses --------------------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        body = await self._body(request)
        params = parse_create(body)
        model = params.get("model") or self._default_model
        turn = await self.runner.prepare(params, body, model=model, mint=self._mint)
        return await self.runner.run(turn)

    async def _stored(self, request: Request) -> dict[str, Any]:
        response_id = request.path_params["response_id"]
        record = await self.runner.records.response(response_id)
        if record is None:
            raise not_found("response", response_id)
        return record

    async def _response(self, request: Request) -> Response:
        if request.method == "DELETE":
            return await self._delete(request)
        stream, starting_after = parse_stream_query(request.query_params)
        record = await self._stored(request)
        if stream:
            return self.runner.background.replay(record, starting_after)
        return JSONResponse(record["response"])

    async def _delete(self, request: Request) -> Response:
        # The record's head is enough: a compact record whose history has expired is still deleted (it is gone
        # for GET already, and this removes what is left of it).
        response_id = request.path_params["response_id"]
        record = await self.runner.records.head(response_id)
        if record is None:
            raise not_found("response", response_id)
        if record["response"]["status"] in ("queued", "in_progress"):
            raise ApiError("Cannot delete a response that is still in progress; cancel it first.")
        await self.runner.records.delete_response(response_id)
        return JSONResponse(deleted(response_id, "response"))

    async def _cancel(self, request: Request) -> Response:
        return JSONResponse(await self.runner.background.cancel(await self._stored(request)))

    async def _input_items(self, request: Request) -> Response:
        query = parse_list_query(request.query_params)
        record = await self._stored(request)
        page = list_page(record.get("input_items") or [], query)
        if page is None:
            raise ApiError(f"No input item found with id '{query.after}'.", param="after")
        return JSONResponse(page)

    # -- conversations ----------------------------------------------------------------------------

    async def _create_conversation(self, request: Request) -> Response:
        body = await self._body(request, allow_empty=True)
        metadata = parse_metadata(body.get("metadata"))
        _, items = parse_conversation_items(body.get("items"))
        conversation = conversation_object(new_id("conv"), int(time.time()), metadata)
        await self.runner.records.save_conversation({"conversation": conversation, "items": items, "pending": items})
        return JSONResponse(conversation)

    async def _stored_conversation(self, conversation_id: str) -> dict[str, Any]:
        record = await self.runner.records.conversation(conversation_id)
        if record is None:
            raise not_found("conversation", conversation_id)
        return record

    async def _conversation(self, request: Request) -> Response:
        conversation_id = request.path_params["conversation_id"]
        records = self.runner.records
        if request.method == "GET":
            return JSONResponse((await self._stored_conversation(conversation_id))["conversation"])
        if request.method == "DELETE":
            await self._stored_conversation(conversation_id)
            await records.delete_conversation(conversation_id)
            return JSONResponse(deleted(conversation_id, "conversation.deleted"))
        body = await self._body(request)
        if "metadata" not in body:
            raise ApiError(
                "Missing required parameter: 'metadata'.", param="metadata", code="missing_required_parameter"
            )
        metadata = parse_metadata(body.get("metadata"))
        async with records.lock(f"conversation:{conversation_id}"):
            record = await self._stored_conversation(conversation_id)
            record["conversation"]["metadata"] = metadata
            await records.save_conversation(record)
        return JSONResponse(record["conversation"])

    async def _conversation_items(self, request: Request) -> Response:
        conversation_id = request.path_params["conversation_id"]
        records = self.runner.records
        if request.method == "GET":
            query = parse_list_query(request.query_params)
            record = await self._stored_conversation(conversation_id)
            page = list_page(record.get("items") or [], query)
            if page is None:
                raise ApiError(f"No item found with id '{query.after}'.", param="after")
            return JSONResponse(page)
        body = await self._body(request)
        if body.get("items") is None:
            raise ApiError("Missing required parameter: 'items'.", param="items", code="missing_required_parameter")
        _, items = parse_conversation_items(body["items"])
        async with records.lock(f"conversation:{conversation_id}"):
            record = await self._stored_conversation(conversation_id)
            record["items"] = [*(record.get("items") or []), *items]
            record["pending"] = [*(record.get("pending") or []), *items]
            await records.save_conversation(record)
        return JSONResponse(item_list(items))

    async def _conversation_item(self, request: Request) -> Response:
        conversation_id = request.path_params["conversation_id"]
        item_id = request.path_params["item_id"]
        record = await self._stored_conversation(conversation_id)
        for item in record.get("items") or []:
            if item.get("id") == item_id:
                return JSONResponse(item)
        raise not_found("item", item_id)


def _hosting_message(error: HostingError) -> str:
    if isinstance(error, ConversationBusyError):
        return "The conversation is still working on your last message; send this again once it has answered."
    if isinstance(error, TurnInterruptedError):
        return "The response was interrupted by a newer message or a stop request."
    if 400 <= error.status_code < 500 and error.status_code != 409:
        return error.public_message
    if error.status_code == 409:
        return BUSY_MESSAGE
    if error.status_code == 503:
        return "The server's state store is unavailable; retry later."
    return "The server failed to handle the request."
