"""`SlackChannel`: a Slack app over the Events API (signed HTTP) and/or Socket Mode."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import httpx
from agent_framework import Content, Message
from agent_framework_hosting import (
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
    HostingError,
    StateUnavailableError,
    chat_reply,
)
from agent_framework_hosting.http import (
    DEFAULT_MAX_BODY_BYTES,
    BadRequest,
    body_text,
    json_error,
    json_ok,
    loaded,
    parse_json,
    read_body,
)
from agent_framework_hosting.queues import ConversationQueues
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._api import DEFAULT_API_BASE, Secrets, SlackApi, SlackApiError
from ._assistant import AssistantThreads, SlackAssistant
from ._parse import (
    ACTION_OPERATION,
    COMMAND_OPERATION,
    AssistantThreadStarted,
    BlockAction,
    Ignored,
    Place,
    SlashCommand,
    UrlVerification,
    UserMessage,
    command_in,
    interaction_payload,
    parse_block_action,
    parse_events_payload,
    parse_slash_command,
    to_request,
)
from ._reply import Formatter, Outbox, Render
from ._socket import SocketModeRunner
from ._turns import APOLOGY, Answers
from ._verify import InvalidSignature, SignatureVerifier

logger = logging.getLogger("agent_framework.hosting.slack")

EVENT_NAMESPACE = "slack-event"
THREADS = "slack-threads"
DEDUPE_TTL = 24 * 3600.0
THREAD_TTL = 30 * 24 * 3600.0
UNREADABLE = "Sorry, I can only read text and images."
IMAGE_FAILED = "Sorry, I could not load that image."
IN_THREADS = "In a channel every thread is its own conversation: mention me with `/{name}` inside the thread."
RESET_COMMAND = "reset"
STOP_COMMAND = "stop"
UNKNOWN_COMMAND = "I don't know the command /{name}."


@dataclass(frozen=True)
class Accepted:
    """What the channel did with a delivery (the HTTP route and Socket Mode both answer from this)."""

    status: str
    challenge: str | None = None


_ACCEPTED, _DUPLICATE, _IGNORED = Accepted("accepted"), Accepted("duplicate"), Accepted("ignored")  # made once


class SlackChannel:
    """Serves the host's agent as a Slack app.

    With `signing_secret`, Slack POSTs to ``{path}/events``, ``{path}/commands`` and
    ``{path}/interactions``, each verified (HMAC-SHA256, 5-minute window). With
    `app_token`, the channel also (or instead) connects in Socket Mode. Events are
    acknowledged at once and answered in the background; an ``event_id`` runs the
    agent at most once; one thread's turns run in order, threads run in parallel.
    """

    name: str

    def __init__(
        self,
        bot_token: str,
        *,
        signing_secret: str | None = None,
        app_token: str | None = None,
        api_base: str = DEFAULT_API_BASE,
        path: str = "/slack",
        commands: Sequence[ChannelCommand] = (),
        run_hook: ChannelRunHook | None = None,
        response_hook: ChannelResponseHook | None = None,
        stream_update_hook: ChannelStreamUpdateHook | None = None,
        stream: bool = True,
        native_streaming: bool = True,
        stream_interval: float = 1.0,
        assistant: SlackAssistant | None = None,
        render: Render | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        http_client: httpx.AsyncClient | None = None,
        thread_ttl: float = THREAD_TTL,
        name: str = "slack",
    ) -> None:
        if not isinstance(bot_token, str) or not bot_token.strip() or any(c.isspace() for c in bot_token):
            raise ValueError("bot_token must be the app's bot token (xoxb-...)")
        if not signing_secret and not app_token:
            raise ValueError("give signing_secret (Events API over HTTP) and/or app_token (Socket Mode)")
        if stream_interval < 0:
            raise ValueError("stream_interval must be >= 0")
        self.name = name
        self.path = path
        self.run_hook = run_hook
        self.response_hook = response_hook
        self.stream_update_hook = stream_update_hook
        self.stream = stream
        self.native_streaming = native_streaming
        self.stream_interval = stream_interval
        self.assistant = assistant or SlackAssistant()
        self.max_body_bytes = max_body_bytes
        self.thread_ttl = thread_ttl
        self.bot_user_id: str | None = None
        self.team_id: str | None = None
        self._verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self._secrets = Secrets(
            {"slack-bot-token": bot_token, "slack-app-token": app_token, "slack-signing-secret": signing_secret}
        )
        self._api = SlackApi(bot_token, api_base, client=http_client)
        self._assistant = AssistantThreads(self._api, self.assistant, ttl=thread_ttl)
        self._outbox = Outbox(self._api, Formatter(render))
        self._socket = SocketModeRunner(app_token, api_base, self._envelope) if app_token else None
        self._user_commands = list(commands)
        self._commands: dict[str, ChannelCommand] = {}
        self._context: ChannelContext | None = None
        self._queues: ConversationQueues | None = None
        self._answers = Answers(
            self._api, self._outbox, stream=stream, native_streaming=native_streaming, interval=stream_interval
        )

    def __repr__(self) -> str:
        return f"SlackChannel(name={self.name!r}, path={self.path!r}, socket_mode={self.socket_mode})"

    @property
    def events_api(self) -> bool:
        """Whether Slack's HTTP deliveries are served (a signing secret was given)."""
        return self._verifier is not None

    @property
    def socket_mode(self) -> bool:
        """Whether the channel connects in Socket Mode (an app token was given)."""
        return self._socket is not None

    @property
    def api(self) -> SlackApi:
        return self._api

    def conversation_reference(self, request: ChannelRequest) -> dict[str, Any] | None:
        """The Slack channel (and thread) a turn came from, so the host can post into it later."""
        team, channel, thread = (request.metadata.get(name) for name in ("team", "channel", "thread_ts"))
        if not isinstance(team, str) or not isinstance(channel, str):
            return None
        reference = {"team": team, "channel": channel}
        if isinstance(thread, str):
            reference["thread_ts"] = thread
        if request.identity is not None:
            reference["user"] = request.identity.native_id
        return reference

    async def deliver(self, reference: ConversationReference, message: Message) -> None:
        """Post `message` into the referenced channel or thread with chat.postMessage."""
        destination = reference.destination
        team, channel = reference.require("team", str), reference.require("channel", str)
        thread = None if destination.get("thread_ts") is None else reference.require("thread_ts", str)
        place = Place(team, channel, str(destination.get("user") or ""), thread)
        error = await self._outbox.deliver_or_failure(place, message.text)
        if error is not None:
            # a refusal about the request itself (channel_not_found, not_in_channel, ...) is not worth a retry
            raise DeliveryFailed(str(error), retry_after=error.retry_after, permanent=not error.transient)

    @property
    def context(self) -> ChannelContext:
        if self._context is None:
            raise RuntimeError("SlackChannel is not attached to a host")
        return self._context

    def contribute(self, context: ChannelContext) -> ChannelContribution:
        self._context = context
        self._queues = ConversationQueues(lambda work: context.spawn(work, name=f"{self.name}-turn"), label=self.name)
        commands = [context.reset_command(), context.stop_command(), *self._user_commands]
        self._commands = {command.name.lower(): command for command in commands}
        routes: list[Route] = []
        if self._verifier is not None:
            routes = [
                Route("/events", self._events_route, methods=["POST"]),
                Route("/commands", self._commands_route, methods=["POST"]),
                Route("/interactions", self._interactions_route, methods=["POST"]),
            ]
        return ChannelContribution(
            routes=routes, commands=commands, on_startup=[self._startup], on_shutdown=[self._shutdown]
        )

    # lifecycle

    async def _startup(self) -> None:
        self._secrets.hide()
        self._api.open()
        try:
            await self._identify()
            if self._socket is not None:
                await self._socket.start()
        except BaseException:
            await self._api.aclose()
            raise

    async def _identify(self) -> None:
        try:
            me = await self._api.call("auth.test", attempts=2)
        except SlackApiError as error:
            if error.error in ("invalid_auth", "not_authed", "account_inactive", "token_revoked"):
                raise SlackApiError("auth.test", f"the bot token was rejected ({error.error})") from None
            logger.warning("slack: auth.test failed (%s); the bot's user id comes from each event instead", error)
            return
        self.bot_user_id = me.get("user_id") if isinstance(me.get("user_id"), str) else None
        self.team_id = me.get("team_id") if isinstance(me.get("team_id"), str) else None
        logger.info("slack: serving bot user %s in team %s", self.bot_user_id, self.team_id)

    async def _shutdown(self) -> None:
        try:
            if self._socket is not None:
                await self._socket.stop()
        finally:
            await self._api.aclose()
            self._secrets.forget()

    # inbound over HTTP

    async def _verified_body(self, request: Request) -> bytes:
        assert self._verifier is not None
        body = await read_body(request, self.max_body_bytes)
        self._verifier.verify_headers(request.headers, body)
        return body

    async def _events_route(self, request: Request) -> Response:
        try:
            body = await self._verified_body(request)
            payload = parse_json(body)
            retry = request.headers.get("x-slack-retry-num")
            accepted = await self.accept_event(
                payload,
                retry_num=int(retry) if retry and retry.isdigit() else 0,
                retry_reason=request.headers.get("x-slack-retry-reason"),
                text=body_text(body),
            )
        except InvalidSignature as error:
            return json_error(401, str(error), "invalid_signature")
        except BadRequest as error:
            return json_error(error.status_code, error.message, error.code)
        except HostingError as error:
            return json_error(error.status_code, error.public_message, error.code)
        if accepted.challenge is not None:
            return JSONResponse({"challenge": accepted.challenge})
        if accepted.status == "duplicate":
            return JSONResponse({"ok": True, "duplicate": True})
        return json_ok()

    async def _commands_route(self, request: Request) -> Response:
        try:
            body = await self._verified_body(request)
        except InvalidSignature as error:
            return json_error(401, str(error), "invalid_signature")
        except BadRequest as error:
            return json_error(error.status_code, error.message, error.code)
        command = parse_slash_command(body)
        if isinstance(command, Ignored):
            return json_error(400, command.reason, "invalid_command")
        answer = self.accept_slash_command(command)
        return JSONResponse(answer) if answer else Response(status_code=200)

    async def _interactions_route(self, request: Request) -> Response:
        try:
            body = await self._verified_body(request)
            payload = interaction_payload(body)
        except InvalidSignature as error:
            return json_error(401, str(error), "invalid_signature")
        except BadRequest as error:
            return json_error(error.status_code, error.message, error.code)
        if payload is None:
            return json_error(400, "body must be a form with a JSON payload field", "invalid_interaction")
        self.accept_interaction(payload)
        return Response(status_code=200)

    # inbound over Socket Mode

    async def _envelope(
        self, kind: str, payload: Any, retry_num: int, retry_reason: str | None
    ) -> dict[str, Any] | None:
        if kind == "events_api":
            await self.accept_event(payload, retry_num=retry_num, retry_reason=retry_reason)
            return None
        if kind == "slash_commands":
            command = parse_slash_command(payload if isinstance(payload, Mapping) else {})
            return None if isinstance(command, Ignored) else self.accept_slash_command(command)
        if kind == "interactive":
            self.accept_interaction(payload)
            return None
        logger.debug("slack: ignoring a Socket Mode envelope of type %r", kind)
        return None

    # acting on deliveries (shared by both transports)

    async def accept_event(
        self, payload: Any, *, retry_num: int = 0, retry_reason: str | None = None, text: str | None = None
    ) -> Accepted:
        """Claim an Events API payload by ``event_id`` and queue its work; raises `HostingError` if it cannot.

        `text`, the payload's JSON text when the caller has it, is what a queued event then holds (parsed
        again when its turn runs) instead of the parsed event: a backlog of thousands holds strings, which
        the garbage collector skips.
        """
        event = parse_events_payload(payload, bot_user_id=self.bot_user_id)
        if isinstance(event, UrlVerification):
            return Accepted("challenge", event.challenge)
        if isinstance(event, Ignored):
            logger.debug("slack: ignoring event %s (%s)", event.event_id, event.reason)
            return _IGNORED
        if retry_num:
            logger.info(
                "slack: event %s delivered again (retry %d, reason %s)", event.event_id, retry_num, retry_reason
            )
        claim = self.context.once(EVENT_NAMESPACE, event.event_id, ttl=DEDUPE_TTL)
        try:
            first = await claim.__aenter__()
        except HostingError:
            raise
        except Exception as error:
            logger.exception("slack: could not record event %s", event.event_id)
            raise StateUnavailableError(StateUnavailableError.public_message) from error
        if not first:
            await claim.__aexit__(None, None, None)
            logger.info("slack: event %s was already handled; not running it twice", event.event_id)
            return _DUPLICATE
        job: Callable[[], Awaitable[None]]
        if isinstance(event, AssistantThreadStarted):
            job = functools.partial(self._claimed, claim, functools.partial(self._thread_started, event))
            self._submit(event.place, job)
        else:
            found = command_in(event.text)
            kept: UserMessage | str = event if text is None else text
            job = functools.partial(self._claimed_message, claim, kept)
            self._submit(event.place, job, at_once=found is not None and found[0] == STOP_COMMAND)
        return _ACCEPTED

    async def _claimed_message(self, claim: AbstractAsyncContextManager[bool], event: UserMessage | str) -> None:
        await self._claimed(claim, functools.partial(self._message_of, event))

    async def _message_of(self, event: UserMessage | str) -> None:
        if isinstance(event, str):  # the payload's JSON text, read again now that its turn runs
            parsed = parse_events_payload(loaded(event), bot_user_id=self.bot_user_id)
            if not isinstance(parsed, UserMessage):  # it was one when accepted; the same text reads the same
                return
            event = parsed
        await self._message(event)

    def _submit(self, place: Place, job: Callable[[], Awaitable[None]], *, at_once: bool = False) -> None:
        """Queue `job` behind the conversation's earlier work (`ChannelContext.queue_key`: answers go into the
        conversation, in order); `/stop` runs at once."""
        assert self._queues is not None
        self._queues.submit(self.context.queue_key(place.conversation_key, at_once=at_once, in_order=True), job)

    @staticmethod
    async def _claimed(claim: AbstractAsyncContextManager[bool], work: Callable[[], Awaitable[None]]) -> None:
        # The claim was entered when the event was accepted and is held until the work ends: it commits
        # then, and a failure that escapes the work releases the event id so Slack's retry runs it.
        try:
            await work()
        except BaseException as error:
            if not await claim.__aexit__(type(error), error, error.__traceback__):
                raise
        else:
            await claim.__aexit__(None, None, None)

    def accept_slash_command(self, command: SlashCommand) -> dict[str, Any] | None:
        """Answer a slash command at once (when it is quick) or queue it; returns the immediate answer."""
        handler = self._commands.get(command.command)
        if handler is None:
            return {"response_type": "ephemeral", "text": UNKNOWN_COMMAND.format(name=command.command)}
        if command.command in (RESET_COMMAND, STOP_COMMAND) and not command.place.dm:
            return {"response_type": "ephemeral", "text": IN_THREADS.format(name=command.command)}
        job = functools.partial(self._slash_command, handler, command)
        self._submit(command.place, job, at_once=command.command == STOP_COMMAND)
        return None

    def accept_interaction(self, payload: Any) -> None:
        action = parse_block_action(payload)
        if isinstance(action, Ignored):
            logger.debug("slack: ignoring an interaction (%s)", action.reason)
            return
        self._submit(action.place, functools.partial(self._block_action, action))

    # the work

    async def _thread_started(self, event: AssistantThreadStarted) -> None:
        await self._assistant.started(self.context.state, event.place)
        if self.assistant.greeting:
            await self._outbox.notice(event.place, self.assistant.greeting)

    async def _message(self, event: UserMessage) -> None:
        place = event.place
        state = self.context.state
        if event.needs_thread and not await state.get(THREADS, place.thread_key or ""):
            logger.debug("slack: not part of thread %s; ignoring event %s", place.thread_key, event.event_id)
            return
        found = command_in(event.text)
        if found is not None and found[0] in self._commands:
            await self._run_command(self._commands[found[0]], place, event.text, found[1], reply=self._outbox.notice)
            return
        images: list[Content] = []
        for file in event.files:
            if not file.is_image:
                continue
            try:
                images.append(Content.from_data(data=await self._api.download(file.url), media_type=file.mimetype))
            except SlackApiError as error:
                logger.warning("slack: could not load image %s in %s: %s", file.id, place.conversation_key, error)
        if not event.text and not images:
            await self._outbox.notice(place, IMAGE_FAILED if any(f.is_image for f in event.files) else UNREADABLE)
            return
        if not place.dm and place.thread_key is not None:
            await state.set(THREADS, place.thread_key, True, ttl=self.thread_ttl)
        assistant = await self._assistant.knows(state, place)
        if assistant:
            await self._assistant.turn_begins(state, place, event.text)
        request = to_request(
            place,
            event.text,
            images=images,
            stream=self.stream,
            channel=self.name,
            metadata={"ts": event.ts, "event_id": event.event_id},
        )
        answered = await self._turn(request, place, event)
        if assistant and not answered:
            await self._assistant.status(place, "")

    async def _block_action(self, action: BlockAction) -> None:
        request = to_request(
            action.place,
            action.value,
            operation=ACTION_OPERATION,
            stream=self.stream,
            channel=self.name,
            metadata={"action_id": action.action_id},
        )
        if not action.place.dm and action.place.thread_key is not None:
            await self.context.state.set(THREADS, action.place.thread_key, True, ttl=self.thread_ttl)
        await self._turn(request, action.place, action)

    async def _slash_command(self, command: ChannelCommand, slash: SlashCommand) -> None:
        async def reply(place: Place, text: str) -> bool:
            payload = {"response_type": "ephemeral", "text": text}
            try:
                if self._api.can_respond_to(slash.response_url):
                    await self._api.respond(slash.response_url or "", payload)
                else:
                    await self._api.call(
                        "chat.postEphemeral", {"channel": place.channel, "user": place.user, "text": text}
                    )
            except SlackApiError as error:
                logger.error("slack: could not answer /%s in %s: %s", slash.command, place.channel, error)
                return False
            return True

        await self._run_command(command, slash.place, f"/{slash.command} {slash.text}".strip(), slash.text, reply=reply)

    async def _run_command(
        self,
        command: ChannelCommand,
        place: Place,
        text: str,
        args: str,
        *,
        reply: Callable[[Place, str], Awaitable[bool]],
    ) -> None:
        request = to_request(place, text, operation=COMMAND_OPERATION, channel=self.name, metadata={"args": args})

        async def answer(text: str) -> None:
            await reply(place, text)

        try:
            await command.handle(ChannelCommandContext(request=request, reply=answer))
        except HostingError as error:
            await reply(place, chat_reply(error))
        except Exception:
            logger.exception("slack: command /%s failed in %s", command.name, place.conversation_key)
            await reply(place, APOLOGY)

    async def _turn(self, request: ChannelRequest, place: Place, protocol_request: Any) -> bool:
        return await self._answers.turn(self.context, request, place, protocol_request)
