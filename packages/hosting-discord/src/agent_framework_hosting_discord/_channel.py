"""`DiscordChannel`: Discord's HTTP Interactions endpoint, verified, deferred and answered in the background."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from functools import partial
from typing import Any

from agent_framework import Message
from agent_framework_hosting import (
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
    HostingError,
    TurnInterruptedError,
    chat_reply,
    replying,
)
from agent_framework_hosting.http import (
    DEFAULT_MAX_BODY_BYTES,
    AfterResponse,
    BadRequest,
    encoded,
    json_error,
    keepable,
    loaded,
    parse_json,
    read_body,
)
from agent_framework_hosting.queues import ConversationQueues
from agent_framework_hosting.streaming import LiveEdit
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._api import DEFAULT_API_BASE_URL, PROJECT_URL, DiscordApi, describe_failure
from ._parse import (
    AGENT_OPERATION,
    APPLICATION_COMMAND,
    APPLICATION_COMMAND_AUTOCOMPLETE,
    COMMAND_OPERATION,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    PING,
    Interaction,
    command_text,
    default_isolation_key,
    interaction_type,
    parse_command,
    to_request,
)
from ._render import deferred, immediate, no_choices, pong, slash_command, string_option
from ._render import message as render_message
from ._reply import InteractionReply, ReplyAddress, ReplyFailure, delivery_failure
from ._split import split_message
from ._verify import DEFAULT_MAX_TIMESTAMP_SKEW, SIGNATURE_HEADER, TIMESTAMP_HEADER, InvalidSignature, SignatureVerifier

logger = logging.getLogger("agent_framework.hosting.discord")
# The deferral every accepted command answers with, encoded once (the bytes `JSONResponse` would send).
_DEFERRED = {
    ephemeral: Response(json.dumps(deferred(ephemeral=ephemeral), separators=(",", ":")), media_type="application/json")
    for ephemeral in (False, True)
}
Job = Callable[[float], Coroutine[Any, Any, None]]

DiscordIsolationKeyFactory = Callable[[Mapping[str, Any]], str]

DEFAULT_PATH = "/discord/interactions"
RESET_COMMAND = "reset"
RESET_DESCRIPTION = "Start a new conversation"
STOP_COMMAND = "stop"
STOP_DESCRIPTION = "Stop the answer in progress"
INTERRUPTED_MESSAGE = "(stopped before answering)"
MERGED_MESSAGE = "(answered together with your other messages)"
COMMAND_INPUT_OPTION = "input"
INTERACTION_TOKEN_LIFETIME = 15 * 60.0
FAILURE_MESSAGE = "Sorry, something went wrong while answering."
COMMAND_FAILURE_MESSAGE = "Sorry, that command failed."
UNSUPPORTED_INTERACTION = "This app only answers slash commands; buttons, menus and forms are not supported."


def _check_name(name: str, what: str) -> None:
    """Discord's rule for slash command and option names: 1-32 lower-case letters, digits, `-`, `_` or `'`."""
    if (
        not isinstance(name, str)
        or not 1 <= len(name) <= 32
        or name != name.lower()
        or not all(ch.isalnum() or ch in "-_'" for ch in name)
    ):
        raise ValueError(f"{what} {name!r} is not a valid Discord name (1-32 lower-case letters, digits, '-' or '_')")


def _check_description(description: str, what: str) -> None:
    if not isinstance(description, str) or not 1 <= len(description) <= 100:
        raise ValueError(f"{what} description must be 1-100 characters")


class DiscordChannel:
    """Serves the agent as a Discord slash command over HTTP Interactions.

    Every request is verified (Ed25519 over timestamp + body, timestamp within
    `max_timestamp_skew` seconds). The agent command answers "thinking…" at once,
    runs the agent in the background and edits the answer in; longer answers
    continue as follow-up messages.
    """

    name = "discord"
    token_lifetime: float = INTERACTION_TOKEN_LIFETIME - 10.0
    retry_attempts: int = 4
    retry_base_delay: float = 0.5

    def __init__(
        self,
        *,
        application_id: str,
        public_key: str,
        bot_token: str | None = None,
        guild_id: str | None = None,
        path: str = DEFAULT_PATH,
        agent_command: str = "ask",
        agent_command_description: str = "Ask the agent",
        agent_command_option: str = "prompt",
        register_commands: bool = True,
        commands: Sequence[ChannelCommand] | None = None,
        run_hook: ChannelRunHook | None = None,
        response_hook: ChannelResponseHook | None = None,
        stream_update_hook: ChannelStreamUpdateHook | None = None,
        streaming: bool = False,
        isolation_key_factory: DiscordIsolationKeyFactory | None = None,
        edit_interval: float = 1.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        api_base_url: str = DEFAULT_API_BASE_URL,
        max_timestamp_skew: float = DEFAULT_MAX_TIMESTAMP_SKEW,
    ) -> None:
        if not isinstance(application_id, str) or not application_id.strip():
            raise ValueError("application_id is required")
        if edit_interval < 0:
            raise ValueError("edit_interval must be >= 0")
        if max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be > 0")
        self._verifier = SignatureVerifier(public_key, max_skew=max_timestamp_skew)
        _check_name(agent_command, "agent_command")
        _check_description(agent_command_description, "agent_command")
        _check_name(agent_command_option, "agent_command_option")
        self.user_commands: list[ChannelCommand] = list(commands or ())
        seen = {agent_command}
        for command in self.user_commands:
            _check_name(command.name, "command")
            _check_description(command.description, f"command {command.name!r}")
            if command.name in seen:
                raise ValueError(f"slash command names must be unique; {command.name!r} is used twice")
            seen.add(command.name)
        self.application_id = application_id.strip()
        self.public_key = public_key
        self.bot_token = bot_token
        self.guild_id = guild_id
        self.path = path
        self.agent_command = agent_command
        self.agent_command_description = agent_command_description
        self.agent_command_option = agent_command_option
        self.register_commands = register_commands
        self.run_hook = run_hook
        self.response_hook = response_hook
        self.stream_update_hook = stream_update_hook
        self.streaming = streaming
        self.isolation_key_factory = isolation_key_factory
        self.edit_interval = edit_interval
        self.max_body_bytes = max_body_bytes
        self.api_base_url = api_base_url.rstrip("/")
        self.max_timestamp_skew = max_timestamp_skew
        self._builtin_reset = RESET_COMMAND not in seen
        self._builtin_stop = STOP_COMMAND not in seen
        self._link_commands: list[ChannelCommand] = []
        self._context: ChannelContext | None = None
        self._api: DiscordApi | None = None
        self._handlers: dict[str, ChannelCommand] = {}
        self._queues: ConversationQueues | None = None

    def __repr__(self) -> str:
        return f"DiscordChannel(application_id={self.application_id!r}, path={self.path!r})"

    def command_definitions(self) -> list[dict[str, Any]]:
        """The slash commands this channel serves, as Discord's bulk-overwrite body."""
        definitions = [
            slash_command(
                self.agent_command,
                self.agent_command_description,
                [string_option(self.agent_command_option, "What to ask the agent", required=True)],
            )
        ]
        if self._builtin_reset:
            definitions.append(slash_command(RESET_COMMAND, RESET_DESCRIPTION))
        if self._builtin_stop:
            definitions.append(slash_command(STOP_COMMAND, STOP_DESCRIPTION))
        for command in [*self.user_commands, *self._link_commands]:
            option = string_option(COMMAND_INPUT_OPTION, "Optional input for the command", required=False)
            definitions.append(slash_command(command.name, command.description, [option]))
        return definitions

    def contribute(self, context: ChannelContext) -> ChannelContribution:
        from . import __version__

        self._context = context
        context.resumable(self)
        context.resendable(self)
        self._api = DiscordApi(
            base_url=self.api_base_url,
            application_id=self.application_id,
            bot_token=self.bot_token,
            user_agent=f"DiscordBot ({PROJECT_URL}, {__version__})",
            attempts=self.retry_attempts,
            base_delay=self.retry_base_delay,
        )
        commands = list(self.user_commands)
        if self._builtin_reset:
            commands.insert(0, context.reset_command(name=RESET_COMMAND, description=RESET_DESCRIPTION))
        if self._builtin_stop:
            commands.insert(1 if self._builtin_reset else 0, context.stop_command(description=STOP_DESCRIPTION))
        if context.linking_enabled:
            taken = {command.name for command in commands}
            self._link_commands = [
                command for command in (context.link_command(), context.unlink_command()) if command.name not in taken
            ]
            commands.extend(self._link_commands)
        self._handlers = {command.name: command for command in commands}
        self._queues = ConversationQueues(lambda work: context.spawn(work, name=f"{self.name}-interaction"),
                                          label=self.name)  # fmt: skip
        return ChannelContribution(
            routes=[Route("/", self._endpoint, methods=["POST"])],
            commands=commands,
            on_startup=[self._startup],
            on_shutdown=[self._shutdown],
        )

    def conversation_reference(self, request: ChannelRequest) -> dict[str, Any] | None:
        """The Discord channel an interaction came from, so the host can post into it later (bot token needed)."""
        channel_id = request.attributes.get("channel_id")
        if not isinstance(channel_id, str) or self.bot_token is None:
            return None
        guild_id = request.attributes.get("guild_id")
        return {"channel_id": channel_id, **({"guild_id": guild_id} if isinstance(guild_id, str) else {})}

    async def deliver(self, reference: ConversationReference, message: Message) -> None:
        """Post `message` into the referenced Discord channel with the bot token."""
        channel_id = reference.require("channel_id", str)
        if self.bot_token is None:
            raise DeliveryFailed("proactive Discord messages need the bot token", permanent=True)
        for chunk in split_message(message.text) or [message.text or " "]:
            response = await self.api.channel_message(channel_id, render_message(chunk), describe="proactive message")
            if response is None or not response.is_success:
                raise delivery_failure(response, "Discord proactive message")  # a 4xx is a refusal: never retried

    @property
    def context(self) -> ChannelContext:
        if self._context is None:
            raise RuntimeError("DiscordChannel is not attached to a host")
        return self._context

    @property
    def api(self) -> DiscordApi:
        if self._api is None:
            raise RuntimeError("DiscordChannel is not attached to a host")
        return self._api

    async def _startup(self) -> None:
        if not self.register_commands:
            return
        if self.bot_token is None:
            logger.warning("DiscordChannel has no bot_token: register its slash commands outside the host")
            return
        self.context.spawn(self._register(), name="discord-register-commands")

    async def _shutdown(self) -> None:
        await self.api.aclose()

    async def _register(self) -> None:
        scope = f"guild {self.guild_id}" if self.guild_id else "global"
        definitions = self.command_definitions()
        response = await self.api.put_commands(
            definitions, guild_id=self.guild_id, describe=f"Discord {scope} command registration"
        )
        if response is not None and response.is_success:
            logger.info("registered %d Discord slash commands (%s)", len(definitions), scope)
        else:
            logger.error("Discord %s command registration failed: %s", scope, describe_failure(response))

    async def _endpoint(self, request: Request) -> Response:
        received = time.monotonic()
        signature = request.headers.get(SIGNATURE_HEADER)
        timestamp = request.headers.get(TIMESTAMP_HEADER)
        if not signature or not timestamp:
            return json_error(401, "missing signature headers", "invalid_signature")
        try:
            body = await read_body(request, self.max_body_bytes)
            self._verifier.verify(signature, timestamp, body)
            payload = parse_json(body)
            kind = interaction_type(payload)
            if kind == PING:
                return JSONResponse(pong())
            if kind == APPLICATION_COMMAND:
                return await self._application_command(payload, body, received)
        except InvalidSignature as error:
            return json_error(401, str(error), "invalid_signature")
        except BadRequest as error:
            return json_error(error.status_code, error.message, error.code)
        except HostingError as error:
            return json_error(error.status_code, "the interaction could not be accepted right now", error.code)
        if kind == APPLICATION_COMMAND_AUTOCOMPLETE:
            return JSONResponse(no_choices())
        if kind in (MESSAGE_COMPONENT, MODAL_SUBMIT):
            return JSONResponse(immediate(UNSUPPORTED_INTERACTION))
        return json_error(400, f"unsupported interaction type {kind}", "unsupported_interaction")

    def _isolation_key(self, interaction: Interaction, payload: Mapping[str, Any]) -> str:
        if self.isolation_key_factory is None:
            return default_isolation_key(interaction)
        try:
            key = self.isolation_key_factory(payload)
        except Exception:
            logger.exception("isolation_key_factory failed for interaction %s", interaction.id)
            raise BadRequest("no session key for this interaction", code="invalid_interaction") from None
        if not isinstance(key, str) or not key:
            logger.error("isolation_key_factory returned %r for interaction %s", type(key).__name__, interaction.id)
            raise BadRequest("no session key for this interaction", code="invalid_interaction")
        return key

    def _plan(
        self, payload: dict[str, Any], key: str | None = None
    ) -> tuple[Interaction, Callable[[float], Coroutine[Any, Any, None]], bool, str] | Response:
        """What an application command does (the job, whether its reply is ephemeral, the isolation key),
        or an immediate answer; `key`: the isolation key planned when it was accepted (the factory is not asked
        again)."""
        interaction = parse_command(payload)
        job: Callable[[str, float], Coroutine[Any, Any, None]]
        if interaction.command == self.agent_command:
            prompt = interaction.options.get(self.agent_command_option, "").strip()
            if not prompt:
                return JSONResponse(immediate(f"Please give the `{self.agent_command_option}` option."))
            job, ephemeral = partial(self._answer, interaction, payload, prompt), False
        elif command := self._handlers.get(interaction.command):
            job, ephemeral = partial(self._run_command, command, interaction), True
        else:
            return JSONResponse(immediate(f"Unknown command `/{interaction.command}`."))
        key = self._isolation_key(interaction, payload) if key is None else key
        return interaction, partial(job, key), ephemeral, key

    async def _application_command(self, payload: dict[str, Any], body: bytes, received: float) -> Response:
        planned = self._plan(payload)
        if isinstance(planned, Response):
            return planned
        interaction, job, ephemeral, key = planned
        # The interaction is kept (in the ledger and the queue) as its JSON text, not its parsed tree: a backlog
        # of thousands then holds strings the garbage collector skips; the turn parses it again.
        kept = keepable(body, payload)
        # recorded in the turn ledger before Discord hears back; a crash after this is resumed
        entry = {"interaction": kept, "received_at": time.time(), "key": key}
        ticket = await self.context.accept(interaction.id, entry)
        if ticket is None:
            logger.info("interaction %s was delivered again; not running it twice", interaction.id)
            return encoded(_DEFERRED[ephemeral])
        assert self._queues is not None
        # each answer goes to its own interaction, whose token expires: a bounded turn_wait reports busy instead
        queue = self.context.queue_key(key, at_once=interaction.command == STOP_COMMAND)
        start = partial(self._queues.submit, queue, partial(self._handle_queued, ticket, kept, received, key))
        return encoded(_DEFERRED[ephemeral], background=AfterResponse(start))

    async def _handle_queued(self, ticket: DeliveryTicket, interaction: Any, received: float, key: str) -> None:
        async def work() -> None:  # planned inside the ledger's handle: a failure there settles the delivery
            planned = self._plan(loaded(interaction), key)
            if not isinstance(planned, Response):
                await planned[1](received)

        await self.context.handle(ticket, work)

    # resuming what a crashed or stopped process left unanswered (the turn ledger calls these)

    async def resume(self, payload: Any) -> None:
        planned = self._plan(loaded(payload["interaction"]), payload.get("key"))
        if not isinstance(planned, Response):
            await planned[1](_monotonic_of(payload["received_at"]))

    async def interrupted(self, payload: Any) -> None:
        planned = self._plan(loaded(payload["interaction"]), payload.get("key"))
        if not isinstance(planned, Response):
            received = _monotonic_of(payload["received_at"])
            await self._send(self._reply(planned[0], received, ephemeral=planned[2]), INTERRUPTED_NOTICE)

    def _reply(self, interaction: Interaction, received: float, *, ephemeral: bool) -> InteractionReply:
        expires_at = time.time() - (time.monotonic() - received) + self.token_lifetime
        address = ReplyAddress(interaction.id, interaction.token, interaction.channel_id, ephemeral, expires_at)
        return InteractionReply(self.api, address)

    async def _send(self, reply: InteractionReply, text: str) -> None:
        """Send `text` for an interaction; what Discord would not take goes to the durable outbox."""
        failed = await reply.send(text)
        if failed is not None:
            await self._keep(reply.address, text, failed)

    async def _keep(self, address: ReplyAddress, text: str, failed: ReplyFailure) -> None:
        payload = {"text": text, "start": failed.index, "sent": failed.sent}
        key = f"{address.interaction_id}:{failed.sent}"
        await self.context.keep(address.to_dict(), payload, key=key, error=failed.error)

    async def resend(self, destination: Any, payload: Any) -> None:
        """Send a kept answer's remaining chunks again (the durable outbox calls this)."""
        reply = InteractionReply(self.api, ReplyAddress.from_dict(destination), sent=int(payload["sent"]))
        failed = await reply.send(payload["text"], start=int(payload["start"]))
        if failed is not None:
            payload["start"], payload["sent"] = failed.index, failed.sent
            raise failed.error

    async def _answer(
        self, interaction: Interaction, payload: Mapping[str, Any], prompt: str, key: str, received: float
    ) -> None:
        reply = self._reply(interaction, received, ephemeral=False)
        request = to_request(
            interaction,
            channel=self.name,
            operation=AGENT_OPERATION,
            text=prompt,
            isolation_key=key,
            stream=self.streaming,
        )
        try:
            if self.streaming:
                text = await self._stream_answer(request, payload, reply)
            else:
                result = await self.context.run(request, protocol_request=payload)
                await replying()
                text = MERGED_MESSAGE if result.merged_into is not None else result.text
        except TurnInterruptedError:
            await self._send(reply, INTERRUPTED_MESSAGE)
            return
        except HostingError as error:
            logger.warning("interaction %s could not run: %s", interaction.id, error.code)
            await self._send(reply, chat_reply(error))
            return
        except Exception:
            logger.exception("interaction %s: the agent run failed", interaction.id)
            await self._send(reply, FAILURE_MESSAGE)
            return
        await self._send(reply, text)

    async def _stream_answer(self, request: ChannelRequest, payload: Mapping[str, Any], reply: InteractionReply) -> str:
        stream = await self.context.run_stream(request, protocol_request=payload)
        await replying()  # previews go out as it streams: from here on a resume only apologises
        async with LiveEdit(reply.preview, min_interval=self.edit_interval) as live:
            async for update in stream:
                live.add(update.text)
        if stream.result is None:
            await stream.get_final_response()
        if stream.result is not None and stream.result.merged_into is not None:
            return MERGED_MESSAGE
        text = stream.result.text if stream.result is not None else ""
        return text or (INTERRUPTED_MESSAGE if stream.interrupted else "")

    async def _run_command(self, command: ChannelCommand, interaction: Interaction, key: str, received: float) -> None:
        reply = self._reply(interaction, received, ephemeral=True)
        request = to_request(
            interaction,
            channel=self.name,
            operation=COMMAND_OPERATION,
            text=command_text(interaction, COMMAND_INPUT_OPTION),
            isolation_key=key,
        )
        replied = False

        async def answer(text: str) -> None:
            nonlocal replied
            replied = True
            await self._send(reply, text)

        try:
            await command.handle(ChannelCommandContext(request=request, reply=answer))
        except HostingError as error:
            logger.warning("interaction %s: /%s could not run: %s", interaction.id, command.name, error.code)
            await self._send(reply, chat_reply(error))
            return
        except Exception:
            logger.exception("interaction %s: /%s failed", interaction.id, command.name)
            await self._send(reply, COMMAND_FAILURE_MESSAGE)
            return
        if not replied:
            await self._send(reply, "Done.")


def _monotonic_of(wall_time: float) -> float:
    """`time.monotonic()` at the moment `wall_time` (epoch seconds) was read."""
    return time.monotonic() - (time.time() - wall_time)
