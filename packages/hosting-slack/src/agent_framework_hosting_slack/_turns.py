"""Running one turn and answering it in Slack: posted, edited as it grows, or streamed natively."""

from __future__ import annotations

import logging
from typing import Any

import anyio
from agent_framework_hosting import (
    ChannelContext,
    ChannelRequest,
    HostedStream,
    SessionBusyError,
    StateUnavailableError,
    TurnInterruptedError,
    chat_reply,
)
from agent_framework_hosting.streaming import LiveEdit

from ._api import SlackApi, SlackApiError
from ._parse import Place
from ._reply import MESSAGE_LIMIT, LiveMessage, NativeStream, Outbox, StreamRefused

logger = logging.getLogger("agent_framework.hosting.slack")
APOLOGY = "Sorry, something went wrong while answering. Please try again."
INTERRUPTED = "(stopped before answering)"


class Answers:
    """How the channel answers: streamed (natively in threads, else by editing) or whole; failures apologise.

    After Slack refuses ``chat.startStream`` once, answers are posted until restart.
    """

    def __init__(self, api: SlackApi, outbox: Outbox, *, stream: bool, native_streaming: bool, interval: float) -> None:
        self.api = api
        self.outbox = outbox
        self.stream = stream
        self.native_streaming = native_streaming
        self.interval = interval
        self.native_refused = False

    async def turn(self, context: ChannelContext, request: ChannelRequest, place: Place, protocol_request: Any) -> bool:
        """Run one turn and answer in `place`; returns whether the agent's answer was delivered."""
        try:
            if self.stream:
                return await self._streamed(context, request, place, protocol_request)
            result = await context.run(request, protocol_request=protocol_request)
            if result.merged_into is not None:
                return True
            return await self.outbox.deliver(place, result.text)
        except TurnInterruptedError:
            logger.info("slack: the turn in %s was interrupted", place.conversation_key)
            return False
        except (SessionBusyError, StateUnavailableError) as error:
            logger.warning("slack: a turn in %s could not run: %s", place.conversation_key, error.code)
            await self.outbox.notice(place, chat_reply(error))
            return False
        except Exception:
            logger.exception("slack: the agent failed to answer in %s", place.conversation_key)
            await self.outbox.notice(place, APOLOGY)
            return False

    async def _streamed(
        self, context: ChannelContext, request: ChannelRequest, place: Place, protocol_request: Any
    ) -> bool:
        stream = await context.run_stream(request, protocol_request=protocol_request)
        if self.native_streaming and not self.native_refused and place.thread_ts is not None:
            return await self._native(stream, place)
        message = LiveMessage(self.outbox, place)
        async with LiveEdit(message.show, min_interval=self.interval, limit=MESSAGE_LIMIT) as live:
            async for update in stream:
                live.add(update.text)
        if stream.result is not None and stream.result.merged_into is not None:
            return True
        await live.settle()
        return await message.finish(_final_text(stream, live))

    async def _native(self, stream: HostedStream, place: Place) -> bool:
        native = NativeStream(self.api, place)
        try:
            async with LiveEdit(native.show, min_interval=self.interval) as live:
                async for update in stream:
                    live.add(update.text)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await native.abandon()
            raise
        if stream.result is not None and stream.result.merged_into is not None:
            await native.abandon()
            return True
        text = _final_text(stream, live)
        if native.refused is None:
            await live.settle()
            try:
                await native.finish(text)
                return True
            except StreamRefused as refusal:
                native.refused = refusal
            except SlackApiError as error:
                logger.error("slack: could not stream the answer in %s: %s", place.conversation_key, error)
                if native.started:
                    return False
        if native.refused is not None:
            logger.warning("slack: chat.startStream was refused (%s); posting answers until restart",
                           native.refused.error)  # fmt: skip
            self.native_refused = True
        return await self.outbox.deliver(place, text)


def _final_text(stream: HostedStream, live: LiveEdit) -> str:
    """The hooked final answer when the run finished, else what streamed (a stopped turn says so when empty)."""
    text = stream.result.text if stream.result is not None else live.text
    return text or (INTERRUPTED if stream.interrupted else "")
