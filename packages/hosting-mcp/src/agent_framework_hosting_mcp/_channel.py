"""`MCPChannel`: the agent as one MCP tool over Streamable HTTP, with the official `mcp` SDK's server."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Annotated, Any, Union

from agent_framework import Workflow, WorkflowBuilder
from agent_framework_hosting import (
    ChannelContext,
    ChannelContribution,
    ChannelRequest,
    ChannelResponseHook,
    ChannelRunHook,
    ChannelSession,
    ChannelStreamUpdateHook,
    HostingError,
    SessionBusyError,
)
from agent_framework_hosting.http import DEFAULT_MAX_BODY_BYTES
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from pydantic import Field
from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ._access import INTERNAL_ERROR, LOOPBACK_ORIGINS, Refusal, bearer_of, check_origin, has_key, key_refusal
from ._keys import InvalidConversation, isolation_key
from ._oauth import OAuthOptions
from ._workflow_tool import workflow_parameters

logger = logging.getLogger("agent_framework.hosting.mcp")

FAILED_MESSAGE = "The agent failed to answer; the server log has details."
BUSY_MESSAGE = "The conversation is busy with another turn; call again shortly."


class MCPChannel:
    """Serves the target as an MCP server at ``{path}`` (Streamable HTTP): one tool that asks the agent.

    The tool (`tool_name`, default ``ask``) takes ``message`` and an optional ``conversation``;
    its answer streams as progress notifications when the caller asks for progress. The
    conversation is the explicit ``conversation`` argument, else the MCP session (clients on
    the 2025 handshake); without either a call is a fresh, stateless turn.
    """

    workflow_input = "json"
    """A workflow target gets the tool's arguments as JSON values (a model's fields) or text."""

    def __init__(
        self,
        *,
        path: str = "/mcp",
        tool_name: str = "ask",
        tool_description: str | None = None,
        api_key: str | None = None,
        oauth: OAuthOptions | None = None,
        workflows: Mapping[str, WorkflowSource] | None = None,
        allowed_origins: Sequence[str] = LOOPBACK_ORIGINS,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        run_hook: ChannelRunHook | None = None,
        response_hook: ChannelResponseHook | None = None,
        stream_update_hook: ChannelStreamUpdateHook | None = None,
        name: str = "mcp",
    ) -> None:
        endpoint = "/" + path.strip("/")
        if endpoint == "/":
            raise ValueError("path must name an endpoint below the root, such as '/mcp'")
        if not _valid_tool_name(tool_name):
            raise ValueError("tool_name must be letters, digits, '_' or '-'")
        if max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")
        for extra in workflows or {}:
            if not _valid_tool_name(extra) or extra == tool_name:
                raise ValueError(
                    f"workflow tool {extra!r} needs a name of letters, digits, '_' or '-' other than the tool's"
                )
        self.name = name
        self.path = endpoint
        self.tool_name = tool_name
        self.tool_description = tool_description
        self.api_key = api_key or None
        self.oauth = oauth
        self.workflows = dict(workflows or {})
        self.allowed_origins = tuple(allowed_origins)
        self.max_body_bytes = max_body_bytes
        self.run_hook = run_hook
        self.response_hook = response_hook
        self.stream_update_hook = stream_update_hook
        self._context: ChannelContext | None = None
        self._server: MCPServer | None = None
        self._manager: StreamableHTTPSessionManager | None = None
        self._stop: asyncio.Event | None = None
        self._holder: asyncio.Task[None] | None = None

    def contribute(self, context: ChannelContext) -> ChannelContribution:
        self._context = context
        self._server = self._build_server(context)
        root_routes = self.oauth.routes(getattr(context.target, "name", None)) if self.oauth else []
        return ChannelContribution(
            routes=[Route("/", _Endpoint(self))],
            root_routes=root_routes,
            on_startup=[self._start],
            on_shutdown=[self._shutdown],
        )

    async def _authorize(self, authorization: str | None) -> Refusal | None:
        """The static key passes; else an OAuth access token when configured; else nothing is asked."""
        if has_key(authorization, self.api_key):
            return None
        if self.oauth is not None:
            return await self.oauth.check(bearer_of(authorization))
        return key_refusal() if self.api_key is not None else None

    def _build_server(self, context: ChannelContext) -> MCPServer:
        target = context.target
        name = getattr(target, "name", None) or ("workflow" if context.is_workflow else "agent")
        about = (context.workflow_description if context.is_workflow else getattr(target, "description", None)) or ""
        with _root_logging_kept():
            server = MCPServer(name, instructions=about or None)
        for extra, source in self.workflows.items():
            extra_tool, about_extra = self._extra_workflow_tool(extra, source)
            server.add_tool(extra_tool, name=extra, description=about_extra, structured_output=False)
        if context.is_workflow:
            tool, takes_conversation = self._workflow_tool(context)
            description = (
                self.tool_description
                or (
                    f"Run the workflow {name}. {about}"
                    + (" Pass the same 'conversation' to continue one." if takes_conversation else "")
                ).strip()
            )
            server.add_tool(tool, name=self.tool_name, description=description, structured_output=False)
            return server
        description = (
            self.tool_description
            or (
                f"Ask {name} (an AI agent) and get its answer. {about}"
                " Pass the same 'conversation' to continue a conversation."
            ).strip()
        )
        server.add_tool(self._ask, name=self.tool_name, description=description, structured_output=False)
        return server

    def _workflow_tool(self, context: ChannelContext) -> tuple[Callable[..., Awaitable[str]], bool]:
        """The workflow as a tool whose parameters are its start executor's input (a model's fields, or text)."""
        spec = workflow_parameters(context.workflow_input_types)

        async def run_workflow(ctx: Context, **arguments: Any) -> str:
            conversation = arguments.pop("conversation", None) if spec.takes_conversation else None
            return await self._call(spec.to_input(arguments), conversation, ctx, arguments)

        return _with_signature(run_workflow, spec.parameters), spec.takes_conversation

    def _extra_workflow_tool(self, name: str, source: WorkflowSource) -> tuple[Callable[..., Awaitable[str]], str]:
        """A workflow beside the target: each call runs a fresh one, statelessly, its outputs streamed as progress."""
        build = _factory(source)
        sample = build()
        spec = workflow_parameters(list(sample.get_start_executor().input_types), conversation=False)
        about = getattr(sample, "description", None) or ""
        # one Workflow object runs one call at a time; a builder or factory makes a new one per call
        one_at_a_time = asyncio.Lock() if isinstance(source, Workflow) else contextlib.nullcontext()

        async def run_workflow(ctx: Context, **arguments: Any) -> str:
            try:
                value = spec.to_input(arguments)
            except (ValueError, TypeError) as error:
                raise ToolError(f"the workflow cannot take these arguments: {error}") from None
            try:
                async with one_at_a_time:
                    return await _run_workflow(build(), value, ctx)
            except Exception:
                logger.exception("mcp: the workflow %r failed", name)
                raise ToolError(FAILED_MESSAGE) from None

        return _with_signature(run_workflow, spec.parameters), f"Run the workflow {name}. {about}".strip()

    async def _ask(
        self,
        message: Annotated[str, Field(min_length=1, description="What to ask the agent.")],
        ctx: Context,
        conversation: Annotated[
            str | None, Field(description="A name of your choice for the conversation; the agent remembers it.")
        ] = None,
    ) -> str:
        """The tool: one turn of the agent."""
        return await self._call(message, conversation, ctx, {"message": message, "conversation": conversation})

    async def _call(self, value: Any, conversation: str | None, ctx: Context, arguments: dict[str, Any]) -> str:
        assert self._context is not None
        headers = ctx.headers or {}
        try:
            key = isolation_key(conversation, headers.get(MCP_SESSION_ID_HEADER))
        except InvalidConversation as error:
            raise ToolError(error.message) from None
        request = ChannelRequest(
            channel=self.name,
            operation="tools/call",
            input=value,
            session=ChannelSession(key) if key else None,
            attributes={"tool": self.tool_name, **({"conversation": conversation} if conversation else {})},
            stream=_wants_progress(ctx),
        )
        try:
            return await self._answer(request, {"name": self.tool_name, "arguments": arguments}, ctx)
        except SessionBusyError:
            raise ToolError(BUSY_MESSAGE) from None
        except HostingError as error:
            raise ToolError(error.public_message) from None
        except ToolError:
            raise
        except Exception:
            logger.exception("mcp: the target failed to answer a %s call", self.tool_name)
            raise ToolError(FAILED_MESSAGE) from None

    async def _answer(self, request: ChannelRequest, protocol_request: dict[str, Any], ctx: Context) -> str:
        """One turn; streamed as progress notifications when the caller asked for progress, else run whole."""
        assert self._context is not None
        if not request.stream:
            return (await self._context.run(request, protocol_request=protocol_request)).text
        stream = await self._context.run_stream(request, protocol_request=protocol_request)
        sent = 0
        async for update in stream:
            text = update.text
            if text:
                sent += len(text)
                await ctx.report_progress(sent, None, text)
        return stream.result.text if stream.result is not None else ""

    async def _start(self) -> None:
        """Run the SDK's session manager for as long as the host runs (its task group lives in its own task)."""
        assert self._server is not None
        manager = StreamableHTTPSessionManager(self._server._lowlevel_server, max_request_body_size=self.max_body_bytes)
        started, stop = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with manager.run():
                started.set()
                await stop.wait()

        holder = asyncio.get_running_loop().create_task(hold(), name="mcp session manager")
        await asyncio.wait({holder, asyncio.ensure_future(started.wait())}, return_when=asyncio.FIRST_COMPLETED)
        if holder.done():
            holder.result()
        self._manager, self._stop, self._holder = manager, stop, holder

    async def _shutdown(self) -> None:
        if self._stop is not None and self._holder is not None:
            self._stop.set()
            await self._holder
        self._manager = self._stop = self._holder = None


WorkflowSource = Union[Workflow, WorkflowBuilder, Callable[[], Workflow]]  # noqa: UP007 - a runtime alias on 3.10
"""A workflow for `MCPChannel(workflows=...)`: a builder or factory (a fresh workflow per call), or one workflow."""


def _valid_tool_name(name: str) -> bool:
    return bool(name) and name.replace("_", "").replace("-", "").isalnum()


def _factory(source: WorkflowSource) -> Callable[[], Workflow]:
    if isinstance(source, Workflow):
        return lambda: source
    build = getattr(source, "build", None)
    return build if callable(build) else source  # type: ignore[return-value]


def _with_signature(
    fn: Callable[..., Awaitable[str]], parameters: list[inspect.Parameter]
) -> Callable[..., Awaitable[str]]:
    """Give `fn(ctx, **arguments)` the parameters the SDK derives the tool's input schema from."""
    ctx = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)
    fn.__signature__ = inspect.Signature([ctx, *parameters], return_annotation=str)  # type: ignore[attr-defined]
    fn.__annotations__ = {"ctx": Context, **{p.name: p.annotation for p in parameters}, "return": str}
    return fn


def _output_text(data: Any) -> str:
    if isinstance(data, str):
        return data
    text = getattr(data, "text", None)
    return text if isinstance(text, str) else str(data)


async def _run_workflow(workflow: Workflow, value: Any, ctx: Context) -> str:
    """Run a workflow once; each output is a progress notification (when asked for) and a line of the result."""
    outputs: list[str] = []
    sent = 0
    async for event in workflow.run(value, stream=True):
        if event.type == "output":
            text = _output_text(event.data)
            outputs.append(text)
            sent += len(text)
            await ctx.report_progress(sent, None, text)
    return "\n".join(outputs)


@contextlib.contextmanager
def _root_logging_kept() -> Iterator[None]:
    """`MCPServer()` calls `logging.basicConfig(level=INFO)`: the application's logging is not the SDK's to change."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        root.setLevel(level)
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)


def _wants_progress(ctx: Context) -> bool:
    """Whether the caller sent a progress token (else the answer is not streamed)."""
    meta = ctx.request_context.meta
    return meta is not None and meta.get("progress_token") is not None


class _Endpoint:
    """The ASGI endpoint: refuses foreign origins and missing keys, then hands over to the SDK's transport."""

    def __init__(self, channel: MCPChannel) -> None:
        self.channel = channel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        manager = self.channel._manager
        refusal = check_origin(headers.get("origin"), self.channel.allowed_origins)
        if refusal is None:
            refusal = await self.channel._authorize(headers.get("authorization"))
        if refusal is None and manager is None:
            refusal = Refusal(503, "the MCP endpoint is not running", code=INTERNAL_ERROR)
        if refusal is not None:
            await refusal.response()(scope, receive, send)
            return
        assert manager is not None
        await manager.handle_request(scope, receive, send)
