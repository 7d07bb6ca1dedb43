"""Running create requests: which session a turn continues, the three ways to run it, and the records it leaves.

Sessions: a stored response's turn runs under the isolation key ``response:<id>``
(or its conversation's key, or the trusted chat isolation key), and afterwards its
session is kept under the session id ``response:<id>`` as that response's snapshot.
Continuing from response R seeds the new response's own key with a copy of R's
snapshot, so chains and forks alike see exactly R's context.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import anyio
from agent_framework import Message
from agent_framework_hosting import (
    ChannelContext,
    ChannelIdentity,
    ChannelRequest,
    ChannelSession,
    HostedRunResult,
    HostedStream,
    HostingError,
    SessionFork,
    get_current_isolation_keys,
)
from starlette.responses import Response

from ._background import BackgroundRunner
from ._errors import ApiError, not_found
from ._events import ResponseEvents
from ._ids import new_id
from ._parse import CreateParams, parse_input
from ._records import Records, conversation_key, foundry_chat_key, json_bytes, response_key
from ._render import (
    FAILED_MESSAGE,
    TERMINAL_STATUSES,
    completion_status,
    failure,
    message_item,
    output_items,
    pending_calls,
    response_object,
    usage_object,
)
from ._runs import Inbox, Listener, OpenStreams, interleaved
from ._sse import EventStreamResponse, sse_frames
from ._stored import compact

logger = logging.getLogger("agent_framework.hosting.responses")


@dataclass
class Turn:
    """One create request on its way through the agent."""

    response_id: str
    params: CreateParams
    body: dict[str, Any]
    created_at: int
    model: str
    key: str | None = None
    conversation_id: str | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)
    pending_messages: list[Message] = field(default_factory=list)
    seeded: bool = False
    #: The previous response's conversation, held for this turn instead of seeded into the store.
    fork: SessionFork | None = None
    ran: ChannelRequest | None = None
    #: Ids of the messages delivered into the conversation that this turn's response streamed.
    delivered: set[str] = field(default_factory=set)
    #: The session the agent answered in and how many messages its answer added there (for a compact record).
    answered: tuple[Any, int] | None = None

    @property
    def run_key(self) -> str | None:
        """The isolation key the turn ran under (a run hook may have chosen another)."""
        used = self.ran.isolation_key if self.ran is not None else None
        return used or self.key


class TurnRunner:
    """Runs turns for a `ResponsesChannel` and keeps their records."""

    def __init__(
        self,
        context: ChannelContext,
        records: Records,
        *,
        forwarded: Collection[str],
        replay_timeout: float = 600.0,
        unique_ids: bool = False,
    ) -> None:
        self.context = context
        #: Whether response ids never repeat (the default factory's random ids), so a new response's key is fresh.
        self.unique_ids = unique_ids
        self.records = records
        self.channel_name = context.channel_name or "responses"
        self.forwarded = tuple(forwarded)
        self.streams = OpenStreams()
        self.background = BackgroundRunner(self, replay_timeout=replay_timeout)

    @property
    def session_ttl(self) -> float:
        """The ttl of a response's own session (its history): the record's, so no record outlives its history.

        `math.inf` when records are kept until deleted (None would mean the host's session ttl instead).
        """
        return math.inf if self.records.ttl is None else self.records.ttl

    @cached_property
    def points_into_history(self) -> bool:
        """Whether a stored response may point into the stored history (`_compact`): in a store that writes."""
        return self.sessions_supported and not self.records.state.keeps_objects

    @property
    def sessions_supported(self) -> bool:
        """Whether the target keeps sessions the channel can snapshot (agents do; workflows do not)."""
        return self.context.supports_sessions

    # -- planning -------------------------------------------------------------------------------

    async def prepare(
        self, params: CreateParams, body: dict[str, Any], *, model: str, mint: Callable[[str | None], str]
    ) -> Turn:
        """Check what the request refers to and choose the session its turn runs in."""
        previous = None
        if params.previous_response_id:
            previous = await self.records.head(params.previous_response_id)
            if previous is None:
                raise not_found("response", params.previous_response_id, param="previous_response_id")
            if previous["response"]["status"] not in TERMINAL_STATUSES:
                raise ApiError(
                    f"Previous response '{params.previous_response_id}' is still in progress.",
                    param="previous_response_id",
                )
        turn = Turn(
            response_id=mint(params.previous_response_id),
            params=params,
            body=body,
            created_at=int(time.time()),
            model=model,
            conversation_id=params.conversation_id,
        )
        if params.conversation_id:
            await self._take_pending(turn)
            turn.key = conversation_key(params.conversation_id)
        elif previous is not None:
            await self._continue_from(turn, previous)
        else:
            keys = get_current_isolation_keys()
            if keys is not None and keys.chat_key:
                turn.key = foundry_chat_key(keys.chat_key)
            elif params.store:
                turn.key = response_key(turn.response_id)
        return turn

    async def _continue_from(self, turn: Turn, previous: dict[str, Any]) -> None:
        previous_id = previous["response"]["id"]
        if not self.sessions_supported:
            turn.key = previous.get("key")
            return
        turn.key = response_key(turn.response_id)
        pointer = previous.get("reference")
        if pointer is not None and self.unique_ids and not turn.params.background:
            # The turn runs fresh (`_session`) in a fork held here: nothing is stored before the turn saves it.
            turn.fork = await self.context.fork_session(pointer, turn.key, origin=response_key(previous_id))
            copied = turn.fork is not None
        elif pointer is not None:
            copied = await self.context.attach_session(
                pointer, turn.key, ttl=self.session_ttl, origin=response_key(previous_id)
            )
        else:
            copied = bool(previous.get("snapshot")) and await self.context.copy_session(
                response_key(previous_id), turn.key, ttl=self.session_ttl
            )
        if not copied:
            raise ApiError(
                f"The context of previous response '{previous_id}' is no longer stored.",
                status_code=404,
                param="previous_response_id",
                code="not_found",
            )
        turn.seeded = turn.fork is None

    async def _take_pending(self, turn: Turn) -> None:
        """Claim the items added to the conversation since its last turn; they precede this turn's input."""
        conversation_id = turn.params.conversation_id
        assert conversation_id is not None
        async with self.records.lock(f"conversation:{conversation_id}"):
            record = await self.records.conversation(conversation_id)
            if record is None:
                raise not_found("conversation", conversation_id, param="conversation")
            pending = record.get("pending") or []
            if pending:
                record["pending"] = []
                await self.records.save_conversation(record)
        turn.pending = pending
        turn.pending_messages = parse_input(pending)[0] if pending else []

    # -- running --------------------------------------------------------------------------------

    async def run(self, turn: Turn) -> Response:
        if turn.params.background:
            return await self.background.start(turn)
        if turn.params.stream:
            return await self._stream(turn)
        return await self._plain(turn)

    def _request(self, turn: Turn, *, stream: bool) -> ChannelRequest:
        params = turn.params
        attributes: dict[str, Any] = {"response_id": turn.response_id}
        if params.previous_response_id:
            attributes["previous_response_id"] = params.previous_response_id
        if turn.conversation_id:
            attributes["conversation_id"] = turn.conversation_id
        native_id = params.identity
        return ChannelRequest(
            channel=self.channel_name,
            operation="message.create",
            input=[*turn.pending_messages, *params.messages],
            session=self._session(turn),
            options=params.options(self.forwarded) or None,
            metadata=dict(params.metadata),
            attributes=attributes,
            stream=stream,
            identity=ChannelIdentity(self.channel_name, native_id) if native_id else None,
        )

    def _session(self, turn: Turn) -> ChannelSession | None:
        """The turn's session; a response's own session (its snapshot) lives as long as the response."""
        if not turn.key:
            return None
        own = turn.key == response_key(turn.response_id)
        # A new response's own key, from ids that never repeat: no other turn can run under it (not even a stop
        # or a continuation, which takes a key of its own), so its turn skips the lock and the load.
        fresh = own and self.unique_ids and not turn.seeded and not turn.params.background
        # Its record would be replaced by the response's pointer into history at once (`_compact`): not written.
        recorded = not (fresh and self.points_into_history)
        return ChannelSession(
            turn.key, ttl=self.session_ttl if own else None, fresh=fresh, recorded=recorded, fork=turn.fork
        )

    async def open_stream(self, turn: Turn) -> HostedStream:
        stream = await self.context.run_stream(self._request(turn, stream=True), protocol_request=turn.body)
        turn.ran = stream.request
        return stream

    async def _plain(self, turn: Turn) -> Response:
        try:
            hosted = await self.context.run(self._request(turn, stream=False), protocol_request=turn.body)
            turn.ran = hosted.request
        except HostingError:
            await self.abort(turn)
            raise
        except Exception:
            raise await self._failed(turn) from None
        except BaseException:
            await self.abort(turn)
            raise
        response = self.completed(turn, hosted, message_id=new_id("msg"))
        await self.finish(turn, response)
        return Response(json_bytes(response), media_type="application/json")

    async def _failed(self, turn: Turn) -> ApiError:
        """Record the turn as failed (the cause goes to the log only) and make the client's 500."""
        logger.exception("responses: the agent failed on %s", turn.response_id)
        await self.finish(turn, self.response(turn, "failed", error=failure()))
        return ApiError(FAILED_MESSAGE, status_code=500, code="server_error", retry=False)

    async def _stream(self, turn: Turn) -> Response:
        try:
            stream = await self.open_stream(turn)
        except HostingError:
            await self.abort(turn)
            raise
        except Exception:
            raise await self._failed(turn) from None
        events = ResponseEvents(turn.response_id)
        return EventStreamResponse(self._stream_body(turn, stream, events), on_close=stream.aclose)

    def listener(self, turn: Turn, events: ResponseEvents, send: Callable[[list[dict[str, Any]]], None]) -> Listener:
        """What a message delivered into the turn's conversation does: `send` its events while the response runs."""

        def delivered(item: dict[str, Any]) -> None:
            step = events.deliver(item)
            if step:
                turn.delivered.add(item["id"])
                send(step)

        return delivered

    async def _stream_body(self, turn: Turn, stream: HostedStream, events: ResponseEvents) -> AsyncIterator[bytes]:
        inbox = Inbox()
        with self.streams.open(turn.conversation_id, self.listener(turn, events, inbox.put)):
            finished = False
            try:
                started = self.response(turn, "in_progress")
                yield sse_frames([*events.created(started), *events.in_progress(started)])
                ready: list[dict[str, Any]] = []
                try:
                    source = interleaved(stream, inbox) if turn.conversation_id else stream
                    async for update in source:
                        ready += update if isinstance(update, list) else events.delta(update.text)
                        # Updates the agent has produced already go out in one write; none waits for a later one.
                        if ready and not stream.pending:
                            yield sse_frames(ready)
                            ready = []
                    if stream.interrupted:
                        response = self.partial(turn, events, "incomplete")
                    else:
                        response = self.completed(turn, stream.result, events=events)
                    closing = events.finished(response)
                except Exception:
                    logger.exception("responses: the agent failed on %s", turn.response_id)
                    response = self.partial(turn, events, "failed", error=failure())
                    closing = events.finished(response)
                with anyio.CancelScope(shield=True):
                    await self.safe_finish(turn, response)
                finished = True
                # Deliveries that arrived since the last chunk come first: their sequence numbers are lower.
                yield sse_frames([*ready, *inbox.take(), *closing])
            finally:
                if not finished:
                    with anyio.CancelScope(shield=True):
                        await stream.aclose()
                        await self.safe_finish(turn, self.partial(turn, events, "incomplete"))

    # -- results and records --------------------------------------------------------------------

    def response(self, turn: Turn, status: str, **fields: Any) -> dict[str, Any]:
        return response_object(
            response_id=turn.response_id,
            created_at=turn.created_at,
            status=status,
            model=turn.model,
            params=turn.params,
            conversation_id=turn.conversation_id,
            **fields,
        )

    def completed(
        self,
        turn: Turn,
        hosted: HostedRunResult[Any] | None,
        *,
        events: ResponseEvents | None = None,
        message_id: str | None = None,
    ) -> dict[str, Any]:
        result = hosted.result if hosted is not None else None
        answer = getattr(result, "messages", None)
        if hosted is not None and hosted.session is not None and isinstance(answer, list):
            turn.answered = (hosted.session, len(answer))
        text = (hosted.text if hosted is not None else "") or (events.text if events is not None else "")
        status, incomplete = completion_status(result)
        output = output_items(
            text,
            pending_calls(result),
            message_id=events.message_id if events is not None else (message_id or new_id("msg")),
            message_started=events.message_started if events is not None else False,
            status="completed" if status == "completed" else "incomplete",
        )
        if events is not None:
            output = events.arrange(output)
        usage = usage_object(getattr(result, "usage_details", None))
        return self.response(
            turn, status, output=output, usage=usage, incomplete_details=incomplete, completed_at=int(time.time())
        )

    def partial(self, turn: Turn, events: ResponseEvents, status: str, **fields: Any) -> dict[str, Any]:
        output = [message_item(events.message_id, events.text, "incomplete")] if events.message_started else []
        return self.response(turn, status, output=events.arrange(output), **fields)

    def record(self, turn: Turn, response: dict[str, Any], *, snapshot: bool) -> dict[str, Any]:
        return {"response": response, "key": turn.run_key, "snapshot": snapshot, "input_items": turn.params.items}

    async def finish(self, turn: Turn, response: dict[str, Any]) -> None:
        """Keep what a finished turn leaves: the response's snapshot and record, the conversation's items."""
        snapshot = False
        own_key = response_key(turn.response_id)
        if self.sessions_supported and turn.run_key is not None:
            if turn.params.store and turn.run_key == own_key:
                snapshot = True  # the turn ran in the response's own session: it is the snapshot already
            elif turn.params.store:
                snapshot = await self.context.copy_session(turn.run_key, own_key, ttl=self.session_ttl)
            elif turn.seeded:
                await self.context.delete_session(own_key)
        if turn.conversation_id:
            if response["status"] == "failed":
                await self._restore_pending(turn)
            else:
                # Messages delivered during the turn were appended at once; they move to where the response has them.
                items = [*turn.params.items, *response["output"]]
                await self.append_items(turn.conversation_id, items, moving=turn.delivered)
        if turn.params.store:
            record = self.record(turn, response, snapshot=snapshot)
            compacted = await self._compact(turn, record) if snapshot else None
            wrote = not self.points_into_history or self._wrote_record(turn)  # memory keeps the session itself
            if compacted is not None and turn.answered is not None:  # made only from the session answered in
                # The record points at the session's stored messages. A session record the turn wrote is dropped
                # after the record is kept: a crash between the two leaves a spare session, not a lost response.
                await self.records.save_compact(turn.response_id, compacted)
                if wrote:
                    await self.context.detach_session(turn.answered[0])
                return
            if snapshot and not wrote:
                # No pointer after all (the turn failed, say): the snapshot is the session's record, kept now.
                record["snapshot"] = await self.context.record_session(own_key, ttl=self.session_ttl)
            await self.records.save_response(record)

    def _wrote_record(self, turn: Turn) -> bool:
        """Whether the turn stored its session's record (`ChannelSession.writes_record`; as asked, if it never ran)."""
        session = turn.ran.session if turn.ran is not None else self._session(turn)
        return session is None or session.writes_record

    async def _compact(self, turn: Turn, record: dict[str, Any]) -> dict[str, Any] | None:
        """The record as a pointer into the response's session as stored, when the turn's answer is its history's end.

        Only in a durable store, where the stored history lives as long as the record; memory forgets sessions
        and records apart (each by its own LRU), so there a record keeps its items and stays readable alone.
        Only when the turn ran in the response's own session: that session is the snapshot, saved as the
        answer left it. A shared conversation's copy is taken after its lock is released, when a later turn
        may have rewritten the history, so such a record keeps its items (and its snapshot session) too.
        """
        own_key = response_key(turn.response_id)
        if not self.points_into_history or turn.run_key != own_key:
            return None
        if turn.answered is None or record["response"]["status"] not in ("completed", "incomplete"):
            return None
        session, answer = turn.answered
        compacted = compact(record, turn.params.items, self.context.session_messages(session), answer)
        if compacted is None:
            return None
        pointer = await self.context.session_reference(session)
        if pointer is None:
            return None
        compacted["s"] = pointer
        return compacted

    async def safe_finish(self, turn: Turn, response: dict[str, Any]) -> None:
        try:
            await self.finish(turn, response)
        except Exception:
            logger.exception("responses: could not store response %s", turn.response_id)

    async def abort(self, turn: Turn) -> None:
        """Undo a turn's preparations when it never ran."""
        with anyio.CancelScope(shield=True):
            try:
                await self._restore_pending(turn)
                if turn.seeded:
                    await self.context.delete_session(response_key(turn.response_id))
            except Exception:
                logger.exception("responses: could not undo the preparations of %s", turn.response_id)

    async def _restore_pending(self, turn: Turn) -> None:
        if not turn.pending or not turn.conversation_id:
            return
        async with self.records.lock(f"conversation:{turn.conversation_id}"):
            record = await self.records.conversation(turn.conversation_id)
            if record is not None:
                record["pending"] = [*turn.pending, *(record.get("pending") or [])]
                await self.records.save_conversation(record)
        turn.pending = []

    async def append_items(
        self, conversation_id: str, items: list[dict[str, Any]], *, moving: Collection[str] = ()
    ) -> None:
        """Append `items` to the conversation; an item already there whose id is in `moving` is moved instead."""
        async with self.records.lock(f"conversation:{conversation_id}"):
            record = await self.records.conversation(conversation_id)
            if record is not None:
                kept = [item for item in record.get("items") or [] if item.get("id") not in moving]
                record["items"] = [*kept, *items]
                await self.records.save_conversation(record)
