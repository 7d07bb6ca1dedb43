"""`TelegramChannel`: a Telegram bot over webhooks or long polling."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import hmac
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Literal

import httpx
from agent_framework import Content, Message
from agent_framework_hosting import (
    BUSY_REPLY,
    INTERRUPTED_NOTICE,
    BackgroundTasks,
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
    HostingError,
    SessionBusyError,
    StateUnavailableError,
    TurnInterruptedError,
    current_ticket,
    replying,
)
from agent_framework_hosting.http import (
    DEFAULT_MAX_BODY_BYTES,
    BadRequest,
    json_error,
    json_ok,
    keepable,
    loaded,
    parse_json_object,
    read_body,
    secrets_equal,
)
from agent_framework_hosting.queues import ConversationQueues
from agent_framework_hosting.streaming import LiveEdit
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._api import BotApi, TelegramApiError
from ._parse import (
    CallbackQuery,
    CommandMessage,
    Ignored,
    ReplyTarget,
    TextMessage,
    Unsupported,
    callback_request,
    chat_key,
    command_request,
    message_request,
    parse_update,
    update_id_of,
)
from ._polling import AlwaysLeader, Poller, PollingLease
from ._reply import DraftReply, Formatter, LiveReply, Outbox, image_uris, typing

logger = logging.getLogger("agent_framework.hosting.telegram")

SECRET_HEADER = "x-telegram-bot-api-secret-token"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
PARSE_MODES = ("HTML", "MarkdownV2", "Markdown", None)
DEFAULT_GREETING = "Hi! Send me a message and I will answer. Use /reset to start a new conversation."
APOLOGY = "Sorry, something went wrong while answering. Please try again."
STOP_COMMAND = "stop"
IMAGE_FAILED = "Sorry, I could not load that image."
UNSUPPORTED = {
    "edited_message": "I can't follow edited messages. Please send your correction as a new message.",
}
UNSUPPORTED_DEFAULT = "Sorry, I can only read text and photos."
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
Transport = Literal["auto", "polling", "webhook"]


def derive_webhook_secret(bot_token: str) -> str:
    """A webhook secret only the token's holder can compute, identical in every process."""
    return hmac.new(bot_token.encode(), b"agent-framework-hosting telegram webhook", hashlib.sha256).hexdigest()


class TelegramChannel:
    """Serves the host's agent as a Telegram bot.

    With `webhook_url` (or ``transport="webhook"``) Telegram POSTs updates to
    `path`; each must carry the secret token (given, or derived from the bot
    token). Otherwise the channel long-polls `getUpdates`. Either way an
    update id runs the agent at most once, one chat's updates run in order,
    and different chats run in parallel.
    """

    name: str

    def __init__(
        self,
        bot_token: str,
        *,
        path: str = "/telegram/webhook",
        commands: Sequence[ChannelCommand] = (),
        register_native_commands: bool = True,
        run_hook: ChannelRunHook | None = None,
        response_hook: ChannelResponseHook | None = None,
        stream_update_hook: ChannelStreamUpdateHook | None = None,
        api_base: str = "https://api.telegram.org",
        webhook_url: str | None = None,
        secret_token: str | None = None,
        delete_webhook_on_shutdown: bool = False,
        parse_mode: str | None = "HTML",
        send_typing_action: bool = True,
        transport: Transport = "auto",
        polling_timeout: int = 30,
        stream: bool = True,
        stream_edit_min_interval: float = 0.4,
        stream_drafts: bool = True,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        render: Callable[[str], str] | None = None,
        greeting: str = DEFAULT_GREETING,
        polling_lease: PollingLease | None = None,
        http_client: httpx.AsyncClient | None = None,
        typing_interval: float = 4.0,
        shutdown_timeout: float = 30.0,
        name: str = "telegram",
    ) -> None:
        if not isinstance(bot_token, str) or not bot_token or any(c.isspace() or c in "/?#" for c in bot_token):
            raise ValueError("bot_token must be a non-empty token as BotFather issued it")
        if transport not in ("auto", "polling", "webhook"):
            raise ValueError("transport must be 'auto', 'polling' or 'webhook'")
        if transport == "webhook" and not webhook_url:
            raise ValueError("transport='webhook' requires webhook_url")
        if secret_token is not None and not _SECRET.match(secret_token):
            raise ValueError("secret_token must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        if parse_mode not in PARSE_MODES:
            raise ValueError(f"parse_mode must be one of {PARSE_MODES}")
        if polling_timeout < 0 or stream_edit_min_interval < 0 or typing_interval <= 0:
            raise ValueError("polling_timeout and stream_edit_min_interval must be >= 0, typing_interval > 0")
        self.name = name
        self.path = path
        self.transport: Literal["polling", "webhook"] = (
            "webhook" if transport == "webhook" or (transport == "auto" and webhook_url) else "polling"
        )
        self.webhook_url = webhook_url
        self._secret = secret_token or derive_webhook_secret(bot_token)
        self.register_native_commands = register_native_commands
        self.run_hook = run_hook
        self.response_hook = response_hook
        self.stream_update_hook = stream_update_hook
        self.delete_webhook_on_shutdown = delete_webhook_on_shutdown
        self.send_typing_action = send_typing_action
        self.polling_timeout = polling_timeout
        self.stream = stream
        self.stream_edit_min_interval = stream_edit_min_interval
        self.stream_drafts = stream_drafts
        self.max_body_bytes = max_body_bytes
        self.greeting = greeting
        self.typing_interval = typing_interval
        self.shutdown_timeout = shutdown_timeout
        self._given_lease = polling_lease
        self.polling_lease: PollingLease = polling_lease or AlwaysLeader()
        self.bot_id = (
            bot_token.split(":", 1)[0] if ":" in bot_token else hashlib.sha256(bot_token.encode()).hexdigest()[:16]
        )
        self.bot_username: str | None = None
        self._user_commands = list(commands)
        for command in self._user_commands:
            if not _COMMAND_NAME.match(command.name.lower()):
                raise ValueError(f"command name {command.name!r} must be 1-32 characters of a-z, 0-9 and _")
        self._api = BotApi(bot_token, api_base, client=http_client, timeout=polling_timeout + 15.0)
        self._outbox = Outbox(self._api, Formatter(parse_mode, render))
        self._context: ChannelContext | None = None
        self._commands: dict[str, ChannelCommand] = {}
        self._tasks = BackgroundTasks()
        self._queues: ConversationQueues | None = None
        self._poller: Poller | None = None
        self._poll_task: asyncio.Task[None] | None = None

    @property
    def webhook_secret(self) -> str:
        """The secret Telegram must send in ``X-Telegram-Bot-Api-Secret-Token`` (to register the webhook yourself)."""
        return self._secret

    def contribute(self, context: ChannelContext) -> ChannelContribution:
        self._context = context
        leader = getattr(context.state, "leader", None)
        if self._given_lease is None and callable(leader):
            self.polling_lease = leader(f"telegram-poll:{self.bot_id}")
        self._commands = {command.name.lower(): command for command in self._builtin_commands(context)}
        self._commands.update({command.name.lower(): command for command in self._user_commands})
        context.resumable(self)
        context.resendable(self)
        if self.transport == "webhook":
            self._queues = ConversationQueues(
                lambda work: context.spawn(work, name=f"{self.name}-update"), label=self.name
            )
            routes = [Route("/", self._webhook, methods=["POST"])]
        else:
            self._queues = ConversationQueues(self._tasks.spawn, label=self.name)
            routes = []
        return ChannelContribution(
            routes=routes,
            commands=list(self._commands.values()),
            on_startup=[self._startup],
            on_shutdown=[self._shutdown],
        )

    def _builtin_commands(self, context: ChannelContext) -> list[ChannelCommand]:
        async def start(ctx: ChannelCommandContext) -> None:
            await ctx.reply(self.greeting)

        commands = [ChannelCommand("start", "Say hello", start), context.reset_command(), context.stop_command()]
        if context.linking_enabled:
            commands += [context.link_command(), context.unlink_command()]
        return commands

    # lifecycle

    async def _startup(self) -> None:
        self._api.open()
        try:
            await self._identify()
            if self.register_native_commands:
                await self._register_commands()
            if self.transport == "webhook":
                await self._api.call(
                    "setWebhook",
                    {"url": self.webhook_url, "secret_token": self._secret, "allowed_updates": list(ALLOWED_UPDATES)},
                )
                logger.info("telegram: webhook registered for bot %s", self.bot_id)
            else:
                await self._start_polling()
        except BaseException:
            await self._api.aclose()
            raise

    async def _identify(self) -> None:
        try:
            me = await self._api.call("getMe", attempts=2)
        except TelegramApiError as error:
            if error.error_code in (401, 404):
                raise TelegramApiError("getMe", "the bot token was rejected", error_code=error.error_code) from None
            logger.warning("telegram: getMe failed (%s); /command@botname addressing is not checked", error)
            return
        username = me.get("username") if isinstance(me, dict) else None
        self.bot_username = username if isinstance(username, str) else None

    async def _register_commands(self) -> None:
        listed = [
            {"command": name, "description": (command.description or name)[:256]}
            for name, command in self._commands.items()
            if name != "start"
        ]
        try:
            await self._api.call("setMyCommands", {"commands": listed}, attempts=2)
        except TelegramApiError as error:
            logger.warning("telegram: setMyCommands failed: %s", error)

    async def _start_polling(self) -> None:
        try:
            await self._api.call("deleteWebhook", {"drop_pending_updates": False}, attempts=2)
        except TelegramApiError as error:
            logger.warning("telegram: deleteWebhook failed: %s", error)
        self._poller = Poller(
            self._api,
            self._submit_polled,
            timeout=self.polling_timeout,
            allowed_updates=ALLOWED_UPDATES,
            lease=self.polling_lease,
            on_health=self._context.report_health if self._context is not None else None,
        )
        self._poll_task = asyncio.get_running_loop().create_task(self._poller.run(), name=f"{self.name}-poll")
        logger.info("telegram: polling for bot %s", self.bot_id)

    async def _shutdown(self) -> None:
        try:
            if self._poll_task is not None:
                self._poll_task.cancel()
                await asyncio.wait({self._poll_task})
                self._poll_task = None
            await self._tasks.drain(self.shutdown_timeout)
            if self._poller is not None:
                await self._poller.confirm()
                with contextlib.suppress(Exception):
                    await self.polling_lease.release()
            if self.transport == "webhook" and self.delete_webhook_on_shutdown:
                try:
                    await self._api.call("deleteWebhook", {"drop_pending_updates": False}, attempts=2)
                except TelegramApiError as error:
                    logger.warning("telegram: deleteWebhook failed: %s", error)
        finally:
            await self._api.aclose()

    # inbound

    async def _webhook(self, request: Request) -> Response:
        if not secrets_equal(request.headers.get(SECRET_HEADER), self._secret):
            return json_error(401, "missing or wrong X-Telegram-Bot-Api-Secret-Token", "unauthorized")
        try:
            body = await read_body(request, self.max_body_bytes)
            update = parse_json_object(body)
        except BadRequest as error:
            return json_error(error.status_code, error.message, error.code)
        update_id = update_id_of(update)
        if update_id is None:
            return json_error(400, "update_id must be an integer", "invalid_update")
        # kept (in the ledger and the queue) as its JSON text: a backlog of strings, which the GC skips
        kept = keepable(body, update)
        try:
            ticket = await self._accept(update, kept)
        except HostingError as error:
            return json_error(error.status_code, str(error), error.code)
        except Exception:
            logger.exception("telegram: could not record update %s", update_id)
            return json_error(503, "state store unavailable; retry later", "state_unavailable")
        if ticket is None:
            return JSONResponse({"ok": True, "duplicate": True})
        assert self._queues is not None
        self._queues.submit(self._queue_key(update), functools.partial(self._handle, ticket, kept))
        return json_ok()

    async def _accept(self, update: dict[str, Any], kept: dict[str, Any] | str | None = None) -> DeliveryTicket | None:
        """Record the update (or `kept`, its JSON text) in the turn ledger before Telegram hears back; None for a
        repeat."""
        assert self._context is not None
        return await self._context.accept(f"{self.bot_id}:{update['update_id']}", update if kept is None else kept)

    async def _handle(self, ticket: DeliveryTicket, update: dict[str, Any] | str) -> None:
        assert self._context is not None

        async def work() -> None:  # parsed inside the ledger's handle: a failure there settles the delivery
            await self.handle_update(loaded(update))

        await self._context.handle(ticket, work)

    def _submit_polled(self, update: dict[str, Any], done: Callable[[], None]) -> None:
        async def job() -> None:
            recorded = False
            try:
                ticket = await self._accept_when_possible(update)
                recorded = True
                if ticket is not None:
                    await self._handle(ticket, update)
            finally:
                # an update never recorded stays unconfirmed, so Telegram hands it out again
                if recorded:
                    done()

        assert self._queues is not None
        self._queues.submit(self._queue_key(update), job)

    def _queue_key(self, update: dict[str, Any]) -> str | None:
        """The chat's queue (`ChannelContext.queue_key`: answers go into the chat, in order); `/stop` runs at once."""
        assert self._context is not None
        return self._context.queue_key(chat_key(update), at_once=self._is_stop(update), in_order=True)

    def _is_stop(self, update: dict[str, Any]) -> bool:
        message = update.get("message")
        text = message.get("text") if isinstance(message, dict) else None
        if isinstance(text, str) and not text.lstrip().startswith("/"):
            return False  # plain text: no command (spares a full parse per update)
        event = parse_update(update, bot_username=self.bot_username)
        return isinstance(event, CommandMessage) and event.name == STOP_COMMAND

    # proactive delivery

    def conversation_reference(self, request: ChannelRequest) -> dict[str, Any] | None:
        """The chat (and forum topic) a request came from, so the host can deliver into it later."""
        chat_id = request.attributes.get("chat_id")
        if not isinstance(chat_id, int):
            return None
        reference: dict[str, Any] = {"chat_id": chat_id, "chat_type": request.attributes.get("chat_type", "private")}
        thread_id = request.attributes.get("message_thread_id")
        if isinstance(thread_id, int):
            reference["message_thread_id"] = thread_id
        return reference

    async def deliver(self, reference: ConversationReference, message: Message) -> None:
        """Send `message` into the referenced chat with sendMessage."""
        destination = reference.destination
        chat_id, thread_id = reference.require("chat_id", int), destination.get("message_thread_id")
        if thread_id is not None:
            thread_id = reference.require("message_thread_id", int)
        target = ReplyTarget(
            chat_id=chat_id,
            chat_type=str(destination.get("chat_type") or "private"),
            thread_id=thread_id,
        )
        failed = await self._outbox.deliver_from(target, message.text, reply=False)
        if failed is not None:
            raise _failure(failed[1])

    async def _accept_when_possible(self, update: dict[str, Any]) -> DeliveryTicket | None:
        """`_accept`, retried while the state store is unavailable (nobody else retries a polled update)."""
        delay = 0.1
        while True:
            try:
                return await self._accept(update)
            except StateUnavailableError as error:
                logger.warning("telegram: cannot record update %s yet (%s); retrying", update.get("update_id"), error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    # resuming what a crashed or stopped process left unanswered (the turn ledger calls these)

    async def resume(self, payload: Any) -> None:
        await self.handle_update(loaded(payload))

    async def interrupted(self, payload: Any) -> None:
        event = parse_update(loaded(payload), bot_username=self.bot_username)
        target = getattr(event, "target", None)
        if isinstance(target, ReplyTarget):
            await self._outbox.notice(target, INTERRUPTED_NOTICE)

    async def handle_update(self, update: dict[str, Any]) -> None:
        """Act on one update (already deduplicated): run the agent, a command, or answer briefly."""
        event = parse_update(update, bot_username=self.bot_username)
        if isinstance(event, Ignored):
            logger.debug("telegram: ignoring update %s (%s)", event.update_id, event.reason)
        elif isinstance(event, Unsupported):
            if event.target.private:
                await self._outbox.notice(event.target, UNSUPPORTED.get(event.kind, UNSUPPORTED_DEFAULT))
        elif isinstance(event, CallbackQuery):
            await self._answer_callback(event)
            request = callback_request(event, stream=self.stream, channel=self.name)
            if request is not None and event.target is not None:
                await self._turn(request, event.target, update.get("callback_query"))
        elif isinstance(event, CommandMessage):
            command = self._commands.get(event.name)
            if command is None:
                await self._message(TextMessage(event.update_id, event.target, event.sender, event.text), update)
            else:
                await self._command(command, event)
        else:
            await self._message(event, update)

    async def _answer_callback(self, event: CallbackQuery) -> None:
        try:
            await self._api.call("answerCallbackQuery", {"callback_query_id": event.query_id}, attempts=2)
        except TelegramApiError as error:
            logger.warning("telegram: answerCallbackQuery failed: %s", error)

    async def _command(self, command: ChannelCommand, event: CommandMessage) -> None:
        async def reply(text: str) -> None:
            await self._outbox.deliver(event.target, text, reply=False)

        try:
            await command.handle(ChannelCommandContext(request=command_request(event, channel=self.name), reply=reply))
        except Exception:
            logger.exception("telegram: command /%s failed in chat %s", event.name, event.target.chat_id)
            await self._outbox.notice(event.target, APOLOGY)

    async def _message(self, event: TextMessage, update: dict[str, Any]) -> None:
        image: Content | None = None
        if event.image is not None:
            image = await self._download_image(event)
            if image is None and not event.text:
                await self._outbox.notice(event.target, IMAGE_FAILED)
                return
        request = message_request(event, image=image, stream=self.stream, channel=self.name)
        await self._turn(request, event.target, update)

    async def _download_image(self, event: TextMessage) -> Content | None:
        assert event.image is not None
        try:
            info = await self._api.call("getFile", {"file_id": event.image.file_id})
            file_path = info.get("file_path") if isinstance(info, dict) else None
            if not isinstance(file_path, str):
                raise TelegramApiError("getFile", "no file_path in the answer")
            data = await self._api.download(file_path)
        except TelegramApiError as error:
            logger.warning("telegram: could not load an image from chat %s: %s", event.target.chat_id, error)
            return None
        return Content.from_data(data=data, media_type=event.image.media_type)

    # running the agent

    async def _turn(self, request: Any, target: ReplyTarget, protocol_request: Any) -> None:
        try:
            async with typing(self._api, target, enabled=self.send_typing_action, interval=self.typing_interval):
                if self.stream:
                    await self._streamed_turn(request, target, protocol_request)
                else:
                    await self._single_turn(request, target, protocol_request)
        except TurnInterruptedError:
            logger.info("telegram: the turn in chat %s was interrupted", target.chat_id)
        except SessionBusyError:
            await self._outbox.notice(target, BUSY_REPLY)
        except Exception:
            logger.exception("telegram: the agent failed to answer chat %s", target.chat_id)
            await self._outbox.notice(target, APOLOGY)

    async def _single_turn(self, request: Any, target: ReplyTarget, protocol_request: Any) -> None:
        assert self._context is not None
        result = await self._context.run(request, protocol_request=protocol_request)
        if result.merged_into is not None:
            return
        await replying()
        images = image_uris(result.result)
        if result.text.strip() or not images:
            failed = await self._outbox.deliver_from(target, result.text)
            if failed is not None:
                await self._keep(target, result.text, *failed)
        await self._outbox.send_images(target, images)

    async def _keep(self, target: ReplyTarget, text: str, start: int, error: TelegramApiError) -> None:
        """Hand the undelivered rest of an answer to the durable outbox."""
        assert self._context is not None
        ticket = current_ticket()
        key = f"{ticket.key if ticket is not None else uuid.uuid4().hex}:{start}"
        destination = dataclasses.asdict(target)
        await self._context.keep(destination, {"text": text, "start": start}, key=key, error=_failure(error))

    async def resend(self, destination: Any, payload: Any) -> None:
        """Send a kept answer's remaining chunks again (the outbox calls this)."""
        target = ReplyTarget(**destination)
        failed = await self._outbox.deliver_from(target, payload["text"], start=int(payload["start"]), reply=False)
        if failed is not None:
            payload["start"] = failed[0]
            raise _failure(failed[1])

    async def _streamed_turn(self, request: Any, target: ReplyTarget, protocol_request: Any) -> None:
        assert self._context is not None
        stream = await self._context.run_stream(request, protocol_request=protocol_request)
        await replying()  # the answer shows up as it streams: from here on a resume only apologises
        live: DraftReply | LiveReply
        if self.stream_drafts and target.private and not self._outbox.drafts_refused:
            live = DraftReply(self._outbox, target)
        else:
            live = LiveReply(self._outbox, target)
        async with LiveEdit(live.show, min_interval=self.stream_edit_min_interval) as edits:
            async for update in stream:
                edits.add(update.text)
        final = stream.result
        if final is not None and final.merged_into is not None:
            return
        text = final.text if final is not None else edits.text
        images = image_uris(final.result) if final is not None else []
        if text.strip() or live.message_ids or not images:
            await edits.settle(interval=live.edits_messages)
            await live.finish(text)
        await self._outbox.send_images(target, images)


def _failure(error: TelegramApiError) -> DeliveryFailed:
    """The outbox's view of a Bot API failure: a 4xx other than 429 is a refusal, not worth retrying."""
    code = error.error_code
    permanent = code is not None and 400 <= code < 500 and code != 429
    return DeliveryFailed(str(error), retry_after=error.retry_after, permanent=permanent)
