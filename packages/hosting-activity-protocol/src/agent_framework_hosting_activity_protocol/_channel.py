"""`ActivityProtocolChannel`: Azure Bot Service (Teams, Web Chat, Direct Line) over the Activity Protocol."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx
from agent_framework import Message
from agent_framework_hosting import (
    BUSY_REPLY,
    INTERRUPTED_NOTICE,
    ChannelCommand,
    ChannelCommandContext,
    ChannelContext,
    ChannelContribution,
    ChannelRequest,
    ChannelResponseHook,
    ChannelRunHook,
    ChannelStreamUpdateHook,
    ConversationReference,
    DeliveryFailed,
    DeliveryTicket,
    HostedRunResult,
    HostingError,
    SessionBusyError,
    TurnInterruptedError,
    current_ticket,
    replying,
)
from agent_framework_hosting.http import (
    DEFAULT_MAX_BODY_BYTES,
    BadRequest,
    bearer_token,
    body_text,
    encoded,
    json_error,
    loaded,
    parse_json_object,
    read_body,
)
from agent_framework_hosting.queues import ConversationQueues
from agent_framework_hosting.text import split_text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._auth import (
    BOT_FRAMEWORK_METADATA_URL,
    BOT_FRAMEWORK_TENANT,
    Authenticator,
    default_issuers,
    entra_metadata_url,
)
from ._connector import Connector, DeliveryError
from ._credentials import ClientCredentials, TokenProvider
from ._credentials import token_endpoint as default_token_endpoint
from ._jwt import TokenRejected
from ._keys import KeysUnavailable, OpenIdKeys
from ._parse import (
    InboundActivity,
    attachment_contents,
    card_action_text,
    command_name,
    members_to_welcome,
    message_text,
    read_activity,
    to_channel_request,
)
from ._render import message_activities, response_attachments, typing_activity
from ._teams import TeamsStream
from ._urls import DEFAULT_SERVICE_URL_HOSTS, LOOPBACK_HOSTS, normalize_hosts, service_url_allowed

logger = logging.getLogger("agent_framework.hosting.activity")

InvokeHandler = Callable[[Mapping[str, Any]], Awaitable["tuple[int, Any] | None"]]
ERROR_REPLY = "Sorry, something went wrong while answering. Please try again."
STOPPED_REPLY = "(stopped before answering)"
MERGED_REPLY = "(answered together with your other messages)"
TYPING_INTERVAL_SECONDS = 3.0
TYPING_STOP_GRACE_SECONDS = 5.0
DEFAULT_MAX_MESSAGE_LENGTH = 12000
TEAMS = "msteams"
CARD_ACTION = "adaptiveCard/action"
CARD_MESSAGE = "application/vnd.microsoft.activity.message"
CARD_ERROR = "application/vnd.microsoft.error"
EMPTY_CARD_REPLY = "Done."


class ActivityProtocolChannel:
    """Serves the agent to Azure Bot Service channels (Teams, Web Chat, Direct Line).

    With `app_id` every request must carry a Bot Connector JWT, checked in
    full; without it the channel accepts anonymous callers (local development
    only) and warns at startup. Replies are posted to the activity's
    `serviceUrl`, which must be on `service_url_allowed_hosts` (by default the
    Bot Framework and Teams hosts, plus loopback when there is no `app_id`, so
    local emulators such as Agents Playground work).
    """

    def __init__(
        self,
        *,
        path: str = "/activity/messages",
        app_id: str | None = None,
        app_password: str | None = None,
        tenant_id: str | None = None,
        token_provider: TokenProvider | None = None,
        commands: Sequence[ChannelCommand] = (),
        run_hook: ChannelRunHook | None = None,
        response_hook: ChannelResponseHook | None = None,
        stream_update_hook: ChannelStreamUpdateHook | None = None,
        send_typing_action: bool = True,
        stream: bool = True,
        stream_edit_min_interval: float = 1.0,
        stream_informative_text: str | None = "Working on it…",
        service_url_allowed_hosts: Sequence[str] | None = None,
        openid_metadata_url: str = BOT_FRAMEWORK_METADATA_URL,
        entra_openid_metadata_url: str | None = None,
        allowed_issuers: Sequence[str] | None = None,
        token_endpoint: str | None = None,
        welcome_message: str | None = None,
        invoke_handler: InvokeHandler | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_message_length: int = DEFAULT_MAX_MESSAGE_LENGTH,
        http_client: httpx.AsyncClient | None = None,
        name: str = "activity",
    ) -> None:
        if app_password and token_provider is not None:
            raise ValueError("pass either app_password or token_provider, not both")
        if app_password and not app_id:
            raise ValueError("app_password needs app_id")
        if app_id and not app_password and token_provider is None:
            raise ValueError("app_id needs app_password or token_provider to send replies")
        if stream_edit_min_interval < 0 or max_message_length < 1:
            raise ValueError("stream_edit_min_interval must be >= 0 and max_message_length >= 1")
        self.name = name
        self.path = path
        self.app_id = app_id or None
        self.tenant_id = tenant_id or BOT_FRAMEWORK_TENANT
        self.commands = tuple(commands)
        self.run_hook = run_hook
        self.response_hook = response_hook
        self.stream_update_hook = stream_update_hook
        self.send_typing_action = send_typing_action
        self.stream = stream
        self.stream_edit_min_interval = stream_edit_min_interval
        self.stream_informative_text = stream_informative_text
        if service_url_allowed_hosts is None:
            loopback = () if self.app_id else tuple(sorted(LOOPBACK_HOSTS))
            service_url_allowed_hosts = (*DEFAULT_SERVICE_URL_HOSTS, *loopback)
        self.service_url_allowed_hosts = normalize_hosts(service_url_allowed_hosts)
        self.welcome_message = welcome_message
        self.invoke_handler = invoke_handler
        self.max_body_bytes = max_body_bytes
        self.max_message_length = max_message_length
        self._client = http_client
        self._owns_client = http_client is None
        self.token_endpoint = token_endpoint or default_token_endpoint(self.tenant_id)
        if app_id and app_password:
            token_provider = ClientCredentials(
                app_id=app_id, app_password=app_password, endpoint=self.token_endpoint, client=self._http
            )
        self._connector = Connector(
            client=self._http, token_provider=token_provider, allowed_hosts=self.service_url_allowed_hosts
        )
        self._authenticator: Authenticator | None = None
        if self.app_id:
            self._authenticator = Authenticator(
                app_id=self.app_id,
                issuers=allowed_issuers if allowed_issuers is not None else default_issuers(tenant_id),
                bot_framework_keys=OpenIdKeys(openid_metadata_url),
                entra_keys=OpenIdKeys(entra_openid_metadata_url or entra_metadata_url(self.tenant_id)),
            )
        self._context: ChannelContext | None = None
        self._all_commands: dict[str, ChannelCommand] = {}
        self._queues: ConversationQueues | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=30.0)
        return self._client

    def contribute(self, context: ChannelContext) -> ChannelContribution:
        self._context = context
        context.resumable(self)
        context.resendable(self)
        commands = list(self.commands)
        if not any(command.name.lower() == "reset" for command in commands):
            commands.append(context.reset_command())
        if not any(command.name.lower() == "stop" for command in commands):
            commands.append(context.stop_command())
        if context.linking_enabled:
            taken = {command.name.lower() for command in commands}
            commands += [c for c in (context.link_command(), context.unlink_command()) if c.name not in taken]
        self._all_commands = {command.name.lower(): command for command in commands}
        self._queues = ConversationQueues(lambda work: context.spawn(work, name=f"{self.name}-activity"),
                                          label=self.name)  # fmt: skip
        return ChannelContribution(
            routes=[Route("/", self._handle, methods=["POST"])],
            commands=commands,
            on_startup=[self._startup],
            on_shutdown=[self._shutdown],
        )

    async def _startup(self) -> None:
        self._http()
        if self._authenticator is None:
            logger.warning(
                "activity channel %r runs WITHOUT authentication (no app_id): any caller can post activities. "
                "Use this only for local development with the Bot Framework Emulator or Agents Playground.",
                self.path,
            )
        else:
            logger.info("activity channel %r validates Bot Connector tokens for app %s", self.path, self.app_id)

    async def _shutdown(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- inbound -------------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        try:
            token = bearer_token(request)
            if self._authenticator is not None and token is None:
                return _unauthorized("missing bearer token", request)
            body = await read_body(request, self.max_body_bytes)
            payload = parse_json_object(body)
            if self._authenticator is not None:
                assert token is not None
                service_url, channel_id = payload.get("serviceUrl"), payload.get("channelId")
                await self._authenticator.authenticate(
                    self._http(),
                    token,
                    channel_id=channel_id if isinstance(channel_id, str) else None,
                    service_url=service_url if isinstance(service_url, str) else None,
                )
            activity = read_activity(payload)
            if not service_url_allowed(activity.service_url, self.service_url_allowed_hosts):
                logger.warning("refused activity with serviceUrl %r (not on the allow-list)", activity.service_url)
                return json_error(400, "serviceUrl is not allowed", "service_url_not_allowed")
            return await self._dispatch(activity, body)
        except BadRequest as error:
            return json_error(error.status_code, error.message, error.code)
        except TokenRejected as reason:
            return _unauthorized(str(reason), request)
        except KeysUnavailable as error:
            logger.error("cannot validate activity tokens: %s", error)
            return json_error(503, "signing keys are unavailable", "keys_unavailable")
        except HostingError as error:
            return json_error(error.status_code, str(error) or error.code, error.code)

    async def _dispatch(self, activity: InboundActivity, body: bytes) -> Response:
        if activity.type == "invoke":
            return await self._invoke(activity)
        if activity.type == "message":
            return await self._message(activity, body)
        if activity.type == "conversationUpdate" and self.welcome_message:
            return await self._welcome(activity)
        return _accepted()

    async def _invoke(self, activity: InboundActivity) -> Response:
        """Invokes are answered in the HTTP response: the handler's status and body.

        An `adaptiveCard/action` the handler does not take goes to the agent; any other is a 501.
        """
        if self.invoke_handler is not None:
            try:
                answer = await self.invoke_handler(activity.raw)
            except Exception:
                logger.exception("invoke handler failed in conversation %s", activity.conversation_id)
                return json_error(500, "the invoke handler failed", "invoke_failed")
            if answer is not None:
                status, body = answer
                return Response(status_code=status) if body is None else JSONResponse(body, status_code=status)
        if activity.name == CARD_ACTION:
            return await self._card_action(activity)
        return json_error(501, "this bot does not handle this invoke activity", "invoke_not_implemented")

    async def _card_action(self, activity: InboundActivity) -> Response:
        """Run the agent on an Adaptive Card action; answer with the card invoke response Teams expects."""
        text = card_action_text(activity.value)
        request = to_channel_request(activity, channel=self.name, stream=False, text=text) if text else None
        if request is None:
            return JSONResponse(_card_error(400, "BadRequest", "the invoke names no card action"))
        try:
            result = await self.context.run(
                dataclasses.replace(request, operation="card.action"), protocol_request=activity.raw
            )
        except Exception:
            logger.exception("card action failed in conversation %s", activity.conversation_id)
            return JSONResponse(_card_error(500, "InternalError", ERROR_REPLY))
        return JSONResponse({"statusCode": 200, "type": CARD_MESSAGE, "value": result.text or EMPTY_CARD_REPLY})

    @contextlib.asynccontextmanager
    async def _first_delivery(self, activity: InboundActivity) -> Any:
        """False when this activity id was seen before (a redelivery)."""
        if activity.id is None:
            yield True
            return
        key = f"{activity.channel_id}:{activity.conversation_id}:{activity.id}"
        async with self.context.once(self.name, key) as first:
            yield first

    def conversation_reference(self, request: ChannelRequest) -> dict[str, Any] | None:
        """The conversation an activity came from (service URL, ids, tenant; no secret), for proactive messages."""
        names = ("service_url", "conversation_id", "channel_id", "bot_id", "from_id", "tenant_id", "conversation_type")
        reference = {name: request.attributes.get(name) for name in names}
        if not all(isinstance(reference[name], str) for name in ("service_url", "conversation_id", "channel_id")):
            return None
        return {name: value for name, value in reference.items() if isinstance(value, str)}

    async def deliver(self, reference: ConversationReference, message: Message) -> None:
        """Send `message` into the referenced conversation through the connector (a proactive message)."""
        destination = reference.destination
        service_url, conversation_id = reference.require("service_url", str), reference.require("conversation_id", str)
        reference.require("channel_id", str)
        conversation: dict[str, Any] = {"id": conversation_id}
        if isinstance(destination.get("tenant_id"), str):
            conversation["tenantId"] = destination["tenant_id"]
        base: dict[str, Any] = {
            "type": "message",
            "channelId": destination.get("channel_id"),
            "serviceUrl": service_url,
            "conversation": conversation,
            "textFormat": "markdown",
        }
        if isinstance(destination.get("bot_id"), str):
            base["from"] = {"id": destination["bot_id"]}
        if isinstance(destination.get("from_id"), str):
            base["recipient"] = {"id": destination["from_id"]}
        for chunk in split_text(message.text, self.max_message_length) or [message.text]:
            await self._connector.post(service_url, conversation_id, {**base, "text": chunk})

    @property
    def context(self) -> ChannelContext:
        if self._context is None:
            raise RuntimeError("the channel is not attached to a host")
        return self._context

    async def _message(self, activity: InboundActivity, body: bytes) -> Response:
        # Only the text is needed before acknowledging; the turn's request is built when the turn runs
        # (a tenth of the acknowledgement's work). A queued delivery holds the body as text, not its tree.
        text = message_text(activity)
        if not text and not attachment_contents(activity.attachments):
            return _accepted()
        if activity.expect_replies:
            channel_request = to_channel_request(activity, channel=self.name, stream=self.stream, text=text)
            assert channel_request is not None
            async with self._first_delivery(activity) as first:
                if not first:
                    logger.info(
                        "ignoring redelivered activity %s in conversation %s", activity.id, activity.conversation_id
                    )
                    return _accepted()
                replies = await self._answer(activity, channel_request)
                return JSONResponse({"activities": replies})
        # recorded in the turn ledger before the connector hears back; a crash after this is resumed
        raw = body_text(body)
        ticket = await self.context.accept(self._delivery_id(activity), activity.raw if raw is None else raw)
        if ticket is None:
            logger.info("ignoring redelivered activity %s in conversation %s", activity.id, activity.conversation_id)
            return _accepted()
        assert self._queues is not None
        # answers are posted into the conversation, so they wait in its queue (in order) whatever turn_wait is
        queue = self.context.queue_key(activity.isolation_key, at_once=self._is_stop(text), in_order=True)
        job = functools.partial(self._handle_queued, ticket, activity if raw is None else raw, text)
        self._queues.submit(queue, job)
        return _accepted()

    async def _handle_queued(self, ticket: DeliveryTicket, activity: InboundActivity | str, text: str) -> None:
        async def work() -> None:  # parsed inside the ledger's handle: a failure there settles the delivery
            inbound = read_activity(loaded(activity)) if isinstance(activity, str) else activity
            await self._deliver_text(inbound, text)

        await self.context.handle(ticket, work)

    @staticmethod
    def _delivery_id(activity: InboundActivity) -> str:
        if activity.id is None:  # nothing to recognise a redelivery by; still recorded, so a crash is resumed
            return f"no-id:{uuid.uuid4().hex}"
        return f"{activity.channel_id}:{activity.conversation_id}:{activity.id}"

    # -- resuming what a crashed or stopped process left unanswered (the turn ledger calls these) --

    async def resume(self, payload: Any) -> None:
        activity = read_activity(loaded(payload))
        request = to_channel_request(activity, channel=self.name, stream=self.stream)
        if request is not None:
            await self._deliver(activity, request)

    async def interrupted(self, payload: Any) -> None:
        activity = read_activity(loaded(payload))
        await self._send_all(activity, message_activities(activity, INTERRUPTED_NOTICE, limit=self.max_message_length))

    async def _welcome(self, activity: InboundActivity) -> Response:
        if not members_to_welcome(activity) or not self.welcome_message:
            return _accepted()
        replies = message_activities(activity, self.welcome_message, limit=self.max_message_length)
        async with self._first_delivery(activity) as first:
            if not first:
                return _accepted()
            if activity.expect_replies:
                return JSONResponse({"activities": replies})
            self.context.spawn(self._send_all(activity, replies), name=f"activity-welcome-{activity.id}")
        return _accepted()

    # -- turns ---------------------------------------------------------------------------------

    def _command(self, request: ChannelRequest) -> ChannelCommand | None:
        return self._command_named(request.input[0].text)

    def _is_stop(self, text: str) -> bool:
        command = self._command_named(text)
        return command is not None and command.name.lower() == "stop"

    def _command_named(self, text: str) -> ChannelCommand | None:
        if not self._all_commands:
            return None
        name = command_name(text)
        return self._all_commands.get(name) if name else None

    async def _answer(self, activity: InboundActivity, request: ChannelRequest) -> list[dict[str, Any]]:
        """Run the turn and return its replies instead of posting them (`expectReplies`)."""
        replies: list[dict[str, Any]] = []

        async def collect(text: str) -> None:
            replies.extend(message_activities(activity, text, limit=self.max_message_length))

        command = self._command(request)
        if command is not None:
            await self._run_command(command, activity, request, collect)
            return replies
        try:
            result = await self.context.run(request, protocol_request=activity.raw)
        except TurnInterruptedError:
            return replies
        except SessionBusyError:
            await collect(BUSY_REPLY)
            return replies
        except Exception:
            logger.exception("turn failed in conversation %s", activity.conversation_id)
            await collect(ERROR_REPLY)
            return replies
        if result.merged_into is not None:
            return replies
        replies.extend(
            message_activities(
                activity, result.text, limit=self.max_message_length, attachments=response_attachments(result.result)
            )
        )
        return replies

    async def _deliver_text(self, activity: InboundActivity, text: str) -> None:
        request = to_channel_request(activity, channel=self.name, stream=self.stream, text=text)
        if request is not None:
            await self._deliver(activity, request)

    async def _deliver(self, activity: InboundActivity, request: ChannelRequest) -> None:
        """Run the turn in the background and post its replies to the connector."""
        try:
            command = self._command(request)
            if command is not None:

                async def reply(text: str) -> None:
                    await self._send_all(activity, message_activities(activity, text, limit=self.max_message_length))

                await self._run_command(command, activity, request, reply)
            elif request.stream and activity.channel_id == TEAMS and activity.conversation_type in (None, "personal"):
                await self._stream_to_teams(activity, request)
            else:
                await self._run_and_reply(activity, request)
        except DeliveryError as error:
            logger.error(
                "reply to activity %s in conversation %s is undeliverable: %s %s",
                activity.id,
                activity.conversation_id,
                error,
                error.detail,
            )

    async def _run_command(
        self,
        command: ChannelCommand,
        activity: InboundActivity,
        request: ChannelRequest,
        reply: Callable[[str], Awaitable[None]],
    ) -> None:
        message = request.input[0]
        request = dataclasses.replace(request, operation="command.invoke", input=message.text, stream=False)
        try:
            request = await self.context.prepare(request, protocol_request=activity.raw)
            await command.handle(ChannelCommandContext(request=request, reply=reply))
        except DeliveryError:
            raise
        except Exception:
            logger.exception("command %r failed in conversation %s", command.name, activity.conversation_id)
            await reply(ERROR_REPLY)

    async def _run_and_reply(self, activity: InboundActivity, request: ChannelRequest) -> None:
        typing = self._start_typing(activity)
        result: HostedRunResult[Any] | None = None
        try:
            result = await self.context.run(request, protocol_request=activity.raw)
            await replying()
            text, attachments = result.text, response_attachments(result.result)
        except TurnInterruptedError:
            return
        except SessionBusyError:
            text, attachments = BUSY_REPLY, []
        except Exception:
            logger.exception("turn failed in conversation %s", activity.conversation_id)
            text, attachments = ERROR_REPLY, []
        finally:
            await _stop(typing)
        if result is not None and result.merged_into is not None:
            return
        await self._send_or_keep(
            activity, message_activities(activity, text, limit=self.max_message_length, attachments=attachments)
        )

    async def _send_or_keep(self, activity: InboundActivity, replies: list[dict[str, Any]]) -> None:
        """Send the replies; what the connector would not take goes to the durable outbox."""
        for index, reply in enumerate(replies):
            try:
                await self._connector.send(activity, reply)
            except DeliveryError as error:
                logger.error(
                    "reply to activity %s in conversation %s is undeliverable: %s %s",
                    activity.id, activity.conversation_id, error, error.detail,
                )  # fmt: skip
                ticket = current_ticket()
                key = f"{ticket.key if ticket is not None else uuid.uuid4().hex}:{index}"
                destination, rest = {"activity": activity.raw}, {"replies": replies[index:]}
                await self.context.keep(destination, rest, key=key, error=_failure(error))
                return

    async def resend(self, destination: Any, payload: Any) -> None:
        """Send a kept reply's remaining activities again (the outbox calls this)."""
        activity = read_activity(destination["activity"])
        replies = payload["replies"]
        while replies:
            try:
                await self._connector.send(activity, replies[0])
            except DeliveryError as error:
                raise _failure(error) from None
            replies.pop(0)  # progress is kept with the item

    async def _stream_to_teams(self, activity: InboundActivity, request: ChannelRequest) -> None:
        streamer = TeamsStream(
            self._connector,
            activity,
            min_interval=self.stream_edit_min_interval,
            limit=self.max_message_length,
            informative_text=self.stream_informative_text,
        )
        typing = None if self.stream_informative_text else self._start_typing(activity)
        attachments: list[dict[str, Any]] = []
        try:
            stream = await self.context.run_stream(request, protocol_request=activity.raw)
            await replying()  # the answer goes out as it streams: from here on a resume only apologises
            try:
                await streamer.start()
            except BaseException:
                await stream.aclose()
                raise
            async with streamer.live:
                async for update in stream:
                    if typing is not None and update.text:
                        await _stop(typing)
                        typing = None
                    streamer.add(update.text)
            result = stream.result
            text = (result.text if result is not None else "") or streamer.text
            attachments = response_attachments(result.result) if result is not None else []
            if result is not None and result.merged_into is not None:
                text = MERGED_REPLY
            elif not text and stream.interrupted:
                text = STOPPED_REPLY
        except SessionBusyError:
            text = BUSY_REPLY
        except Exception:
            logger.exception("streamed turn failed in conversation %s", activity.conversation_id)
            text = f"{streamer.text}\n\n{ERROR_REPLY}" if streamer.text else ERROR_REPLY
        finally:
            await _stop(typing)
        await streamer.finish(text, attachments)

    # -- outbound ------------------------------------------------------------------------------

    async def _send_all(self, activity: InboundActivity, replies: list[dict[str, Any]]) -> None:
        for reply in replies:
            await self._connector.send(activity, reply)

    def _start_typing(self, activity: InboundActivity) -> _Typing | None:
        if not self.send_typing_action:
            return None
        return _Typing(self._connector, activity)


class _Typing:
    """Sends a typing activity now and every few seconds until stopped; `stop()` waits for a send in flight."""

    def __init__(self, connector: Connector, activity: InboundActivity) -> None:
        self._connector = connector
        self._activity = activity
        self._stopped = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                await self._connector.send(self._activity, typing_activity(self._activity), attempts=1)
            except DeliveryError as error:
                logger.debug("typing activity in conversation %s failed: %s", self._activity.conversation_id, error)
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), TYPING_INTERVAL_SECONDS)
            if self._stopped.is_set():
                return

    async def stop(self) -> None:
        self._stopped.set()
        await asyncio.wait({self._task}, timeout=TYPING_STOP_GRACE_SECONDS)
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def _stop(typing: _Typing | None) -> None:
    if typing is not None:
        await typing.stop()


def _card_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"statusCode": status, "type": CARD_ERROR, "value": {"code": code, "message": message}}


_ACCEPTED = Response(status_code=202)


def _accepted() -> Response:
    return encoded(_ACCEPTED)


def _unauthorized(reason: str, request: Request) -> Response:
    client = request.client.host if request.client else "unknown"
    logger.warning("rejected activity from %s: %s", client, reason)
    return json_error(401, "unauthorized", "unauthorized")


def _failure(error: DeliveryError) -> DeliveryFailed:
    """The outbox's view of a connector failure: a 4xx other than 408/429 is a refusal, not worth retrying."""
    status = error.platform_status
    permanent = status is not None and 400 <= status < 500 and status not in (408, 429)
    return DeliveryFailed(f"{error} {error.detail}".strip(), permanent=permanent)
