"""`ChannelContext`: what a channel gets to invoke the target, instead of the host itself."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, AbstractContextManager, ExitStack, nullcontext
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
from agent_framework import AgentResponse, AgentResponseUpdate, Content, Message

from ._claims import CLAIMS, Claims
from ._collect import Ticket, batch_of
from ._concurrency import ConcurrencyPolicy
from ._control import ToolGuard, TurnControl
from ._errors import ConversationBusyError, HostingError, SessionBusyError, TurnInterruptedError
from ._history import history_length, history_messages, identify, mark_interrupted, saved_messages
from ._hooks import apply_response_hook, apply_run_hook
from ._ledger import DeliveryTicket, Resumer, current_ticket
from ._linking import LinkError, code_argument, current_key
from ._metrics import host_metrics
from ._outbox import Resender
from ._sessions import SessionReference
from ._stream import CloseRun, FinalResult, HostedStream
from ._telemetry import TurnTrace
from ._types import (
    Channel,
    ChannelCommand,
    ChannelCommandContext,
    ChannelRequest,
    ChannelResponseHook,
    ChannelRunHook,
    ChannelSession,
    ChannelStreamUpdateHook,
    HostedRunResult,
    SessionFork,
)
from ._workflow import final_from_updates

if TYPE_CHECKING:
    from ._host import AgentFrameworkHost
    from ._state import StateStore

logger = logging.getLogger("agent_framework.hosting")

IDEMPOTENCY = CLAIMS
INTERRUPT_POLL = 0.1
DEFAULT_IDEMPOTENCY_TTL = 7 * 24 * 3600.0
_CAN_UNCANCEL = hasattr(asyncio.Task, "uncancel")  # Python 3.11+
_UNBOUND: AbstractContextManager[None] = nullcontext()  # reusable: it holds nothing


def _hosting_block(request: ChannelRequest) -> dict[str, Any]:
    block: dict[str, Any] = {"channel": request.channel}
    if request.identity is not None:
        block["identity"] = request.identity.to_dict()
    ticket = current_ticket()
    if ticket is not None:
        block["delivery"] = ticket.key
    return block


def _saved_answer(target: Any, session: Any, field: str, value: str) -> tuple[AgentResponse, dict[str, Any]] | None:
    """The answer `session` holds to the last user message whose hosting `field` is `value`, with that block.

    For a resumed turn (or a collected batch) whose session was saved before its process died.
    """
    messages = saved_messages(target, session)
    for index in range(len(messages) - 1, -1, -1):
        hosting = (messages[index].additional_properties or {}).get("hosting") or {}
        if messages[index].role == "user" and hosting.get(field) == value:
            answer = []
            for later in messages[index + 1 :]:
                if later.role == "user":
                    break
                answer.append(later)
            return (AgentResponse(messages=answer), hosting) if answer else None
    return None


def _answered(target: Any, session: Any, field: str, value: str) -> HostedRunResult[Any] | None:
    """A saved answer as this turn's result; merged (the channel sends nothing) when another delivery ran it."""
    found = _saved_answer(target, session, field, value)
    if found is None:
        return None
    answer, hosting = found
    batch, runner = hosting.get("batch"), hosting.get("batch_runner")
    delivery = current_ticket()
    mine = delivery.key if delivery is not None else None
    merged = isinstance(batch, str) and runner is not None and runner != mine
    return HostedRunResult(answer, session=session, merged_into=batch if merged else None)


def _shallow_copy(message: Message) -> Message:
    """`copy.copy(message)` at a tenth of its cost (a turn copies every input message); a `Message` keeps its
    fields in `__dict__`, which `Message.__copy__` walks along with every class's slots."""
    if type(message) is Message:  # a subclass may add slots
        copied = Message.__new__(Message)
        copied.__dict__.update(message.__dict__)
        return copied
    return copy.copy(message)


def stamp_input(request: ChannelRequest) -> list[Message]:
    """The request's input as messages (copies), each recording the channel and sender; in a session, with ids."""
    raw = request.input
    items = raw if isinstance(raw, (list, tuple)) else [raw]
    block = _hosting_block(request)
    messages: list[Message] = []
    for item in items:
        if isinstance(item, Message):
            message = _shallow_copy(item)
            message.additional_properties = {**(item.additional_properties or {}), "hosting": block}
        else:
            contents = [item] if isinstance(item, (str, Content)) else [str(item)]
            message = Message(role="user", contents=contents, additional_properties={"hosting": block})
        messages.append(message)
    if request.session is not None:
        identify(messages)
    return messages


def _uncancel(task: asyncio.Task[Any]) -> int:
    """`task.uncancel()` (Python 3.11+): withdraw one cancellation request; the number still pending."""
    return int(task.uncancel())  # type: ignore[attr-defined]


class ChannelContext:
    """Runs the target for a channel: hooks, session, one turn at a time per isolation key.

    The host gives each channel its own context, bound to the channel's name and
    hooks (`bind`), so `run(request)` and `run_stream(request)` apply them.
    """

    def __init__(
        self,
        host: AgentFrameworkHost,
        *,
        name: str | None = None,
        run_hook: ChannelRunHook | None = None,
        response_hook: ChannelResponseHook | None = None,
        stream_update_hook: ChannelStreamUpdateHook | None = None,
    ) -> None:
        self._host = host
        self._name = name
        self._run_hook = run_hook
        self._response_hook = response_hook
        self._stream_update_hook = stream_update_hook

    def bind(
        self,
        name: str,
        *,
        run_hook: ChannelRunHook | None = None,
        response_hook: ChannelResponseHook | None = None,
        stream_update_hook: ChannelStreamUpdateHook | None = None,
    ) -> ChannelContext:
        """A context for one channel: `name` is passed to the response hook, the hooks wrap every turn."""
        return ChannelContext(
            self._host,
            name=name,
            run_hook=run_hook,
            response_hook=response_hook,
            stream_update_hook=stream_update_hook,
        )

    def for_channel(self, channel: Channel) -> ChannelContext:
        """The context bound to `channel`'s name and its `run_hook`/`response_hook`/`stream_update_hook`."""
        return self.bind(
            channel.name,
            run_hook=getattr(channel, "run_hook", None),
            response_hook=getattr(channel, "response_hook", None),
            stream_update_hook=getattr(channel, "stream_update_hook", None),
        )

    @property
    def channel_name(self) -> str | None:
        """The name of the channel this context is bound to (None for the host's own context)."""
        return self._name

    def report_health(self, problem: str | None) -> None:
        """Mark this channel down in `/readiness` for `problem`, or up again with None."""
        self._host.health.report(f"channel {self._name or 'host'!r}", problem)

    @property
    def target(self) -> Any:
        return self._host.target

    @property
    def is_workflow(self) -> bool:
        """Whether the target is a workflow (input is handed over as is) rather than an agent."""
        return self._host.workflows is not None

    @property
    def workflow_input_types(self) -> list[Any]:
        """The types the workflow's start executor takes (to describe its input); empty for an agent."""
        workflows = self._host.workflows
        return list(workflows.sample().get_start_executor().input_types) if workflows is not None else []

    @property
    def workflow_description(self) -> str | None:
        """The workflow's description (else its name), or None for an agent."""
        workflows = self._host.workflows
        if workflows is None:
            return None
        sample = workflows.sample()
        return getattr(sample, "description", None) or getattr(sample, "name", None)

    @property
    def response_ttl(self) -> float | None:
        """How long stored responses are kept (seconds; None: until deleted), the host's `response_ttl`."""
        return self._host.response_ttl

    @property
    def state(self) -> StateStore:
        """The host's state store, for channel records (stored responses, seen update ids)."""
        return self._host.state

    async def prepare(self, request: ChannelRequest, *, protocol_request: object = None) -> ChannelRequest:
        """Apply the run hook to a request the channel handles itself (a command), as `run` would.

        What the hook returns is never fresh (`ChannelSession.fresh`): it may point at a stored conversation.
        A fork (`ChannelSession.fork`) is stored first, so a turn under its key loads it.
        """
        original = request.session
        if original is not None and original.fork is not None:
            await self._host.sessions.save(original.fork.session, ttl=original.ttl)
        prepared = await apply_run_hook(self._run_hook, request, target=self.target, protocol_request=protocol_request)
        session = prepared.session
        if session is not None and session.fresh:
            prepared = dataclasses.replace(prepared, session=ChannelSession(session.isolation_key, ttl=session.ttl))
        return prepared

    async def _respond(self, result: HostedRunResult[Any], prepared: ChannelRequest) -> HostedRunResult[Any]:
        hooked = result
        if self._response_hook is not None:
            hooked = await apply_response_hook(
                self._response_hook, result, request=prepared, channel_name=self._name or prepared.channel
            )
        hooked.request = prepared
        return hooked

    async def run(self, request: ChannelRequest, *, protocol_request: object = None) -> HostedRunResult[Any]:
        """Run one turn; the result's `request` is the request that ran (run hook applied)."""
        prepared, ticket = await self._admit(request, protocol_request)
        if ticket is not None and not ticket.leader:
            outcome = await self._host.collector.result(ticket)
            if isinstance(outcome, AgentResponse):
                return await self._respond(HostedRunResult(outcome, merged_into=ticket.batch), prepared)
            ticket = outcome  # its leader died: this message leads the batch now
        return await self._respond(await self._lead(prepared, ticket), prepared)

    async def _admit(self, request: ChannelRequest, protocol_request: object) -> tuple[ChannelRequest, Ticket | None]:
        """The request as it will run (run hook, linked identity) and its batch ticket under `collect`."""
        # Steps that do nothing for this request are not awaited: each await of a coroutine costs on every turn.
        prepared = request if self._run_hook is None else await self.prepare(request, protocol_request=protocol_request)
        if prepared.isolation_key is not None:
            await self._host.proactive.remember(self._name, prepared)
        prepared = await self._linked(prepared) if self._host.links is not None else prepared
        return prepared, await self._join(prepared) if self._collecting(prepared) else None

    async def _lead(self, prepared: ChannelRequest, ticket: Ticket | None) -> HostedRunResult[Any]:
        """Run the turn (every message of a collected batch when `ticket` leads one) and publish it to the batch."""
        trace = TurnTrace(prepared, stream=False)
        error: BaseException | None = None
        result: HostedRunResult[Any] | None = None
        try:
            async with self._turn(prepared) as (session, control):
                inputs = await self._inputs(prepared, ticket, session)
                if (
                    ticket is not None
                    and (result := _answered(self.target, session, "batch", ticket.batch)) is not None
                ):
                    return result
                token = trace.attach()
                try:
                    if control is None:
                        result = await self._invoke(prepared, session, None, inputs)
                    else:
                        result = await self._invoke_interruptible(prepared, session, control, inputs)
                finally:
                    trace.detach(token)
        except BaseException as exc:
            error = exc
            raise
        finally:
            trace.end(error)
            if ticket is not None:
                await self._publish(ticket, None if result is None else result.result, error)
        assert result is not None
        return result

    async def run_stream(self, request: ChannelRequest, *, protocol_request: object = None) -> HostedStream:
        """Start one streamed turn; the stream's `request` is the request that runs (run hook applied)."""
        prepared, ticket = await self._admit(request, protocol_request)
        if ticket is not None and not ticket.leader:
            return self._follow(prepared, ticket)
        trace = TurnTrace(prepared, stream=True)
        turn = self._turn(prepared)
        held: _Turn | _KeylessTurn | None = None
        try:
            session, control = await turn.__aenter__()
            held = turn
            start = history_length(self.target, session)
            inputs = await self._inputs(prepared, ticket, session)
            if ticket is not None and (answered := _answered(self.target, session, "batch", ticket.batch)) is not None:
                held = None
                await turn.__aexit__(None, None, None)
                await self._publish(ticket, answered.result, None)
                return self._settled(prepared, answered)
            token = trace.attach()
            try:
                updates, final, close = self._invoke_stream(prepared, session, control, inputs)
            finally:
                trace.detach(token)
        except BaseException as exc:
            if held is not None:
                await held.__aexit__(None, None, None)
            trace.end(exc)
            if ticket is not None:
                await self._publish(ticket, None, exc)
            raise

        async def finish(final_result: Any, error: BaseException | None) -> HostedRunResult[Any]:
            try:
                # Shielded: the session is saved and the turn lock released even when the consumer
                # (a disconnecting client) is being cancelled.
                with anyio.CancelScope(shield=True):
                    if control is not None and control.requested and stream.interrupted:
                        partial = getattr(final_result, "messages", None) or ()
                        mark_interrupted(self.target, session, inputs, start, partial)
                    await turn.__aexit__(None, None, None)
            finally:
                trace.end(error)
                if ticket is not None:
                    interrupted = TurnInterruptedError("interrupted") if stream.interrupted else None
                    await self._publish(ticket, final_result, error or interrupted)
            result = HostedRunResult(final_result, session=session, request=prepared)
            if error is not None:
                return result
            return await self._respond(result, prepared)

        stream = HostedStream(
            updates,
            final=final,
            close=close,
            finish=finish,
            trace=trace,
            update_hook=self._stream_update_hook,
            request=prepared,
        )
        if control is not None:
            control.bind(stream.interrupt)
        return stream

    def _collecting(self, request: ChannelRequest) -> bool:
        host = self._host
        return (
            request.isolation_key is not None
            and not (request.session is not None and request.session.fresh)
            and self.policy(request) == "collect"
            and host.agent_target
            and host.sessions.supported
        )

    async def _join(self, request: ChannelRequest) -> Ticket | None:
        """Under `collect`: join the conversation's batch; a leader returns once its window has closed.

        A resumed delivery (its process died) joins nothing new: it waits on the unfinished batch that holds
        it, if any, and otherwise runs as a plain turn (answered from the history when it was saved).
        """
        if not self._collecting(request):
            return None
        assert request.isolation_key is not None
        delivery = current_ticket()
        if delivery is not None and delivery.resumed:
            return await self._host.collector.find(request.isolation_key, delivery.key)
        ticket = await self._host.collector.join(request.isolation_key, stamp_input(request))
        if ticket.leader:
            try:
                await self._host.collector.window_closed(ticket)
            except BaseException:
                self._host.collector.abandon(ticket)
                raise
        return ticket

    async def _inputs(self, request: ChannelRequest, ticket: Ticket | None, session: Any) -> list[Message]:
        """The turn's messages: the request's own, or every message collected into the leader's batch.

        Messages of a dead leader's batch that the history already answers are left out.
        """
        if ticket is None:
            return stamp_input(request)
        assert request.isolation_key is not None
        delivery = current_ticket()
        runner = delivery.key if delivery is not None else None
        messages = await self._host.collector.take(request.isolation_key, ticket, runner=runner)
        saved = {batch for batch in (batch_of(m) for m in saved_messages(self.target, session)) if batch}
        return [m for m in messages if batch_of(m) == ticket.batch or batch_of(m) not in saved]

    async def _publish(self, ticket: Ticket, response: Any, error: BaseException | None) -> None:
        with anyio.CancelScope(shield=True):
            try:
                await self._host.collector.publish(ticket, response, error)
            except HostingError:
                logger.warning("could not publish the answer of collected batch %s", ticket.batch)

    def _follow(self, request: ChannelRequest, ticket: Ticket) -> HostedStream:
        """A stream for a message merged into another request's turn: no updates, then the merged answer.

        If the batch's leader dies, this message may take the batch over: it then runs it (not streamed).
        """
        collector = self._host.collector
        led: list[HostedRunResult[Any]] = []

        async def final() -> Any:
            outcome = await collector.result(ticket)
            if isinstance(outcome, AgentResponse):
                return outcome
            led.append(await self._lead(request, outcome))
            return led[0].result

        def merged_into() -> str | None:
            return led[0].merged_into if led else ticket.batch

        return self._quiet_stream(request, final, merged_into)

    def _settled(self, request: ChannelRequest, answered: HostedRunResult[Any]) -> HostedStream:
        """A stream for a turn answered already (from the history): no updates, then that answer."""

        async def final() -> Any:
            return answered.result

        return self._quiet_stream(request, final, lambda: answered.merged_into)

    def _quiet_stream(
        self, request: ChannelRequest, final: Callable[[], Awaitable[Any]], merged_into: Callable[[], str | None]
    ) -> HostedStream:
        async def nothing() -> AsyncGenerator[AgentResponseUpdate, None]:
            return
            yield

        async def close(error: BaseException | None) -> None:
            return None

        async def finish(final_result: Any, error: BaseException | None) -> HostedRunResult[Any]:
            result = HostedRunResult(final_result, merged_into=merged_into(), request=request)
            if error is not None:
                return result
            return await self._respond(result, request)

        trace = TurnTrace(request, stream=True)
        return HostedStream(nothing(), final=final, close=close, finish=finish, trace=trace, request=request)

    def policy(self, request: ChannelRequest) -> ConcurrencyPolicy:
        """The concurrency policy for `request`: its channel's override, else the host's."""
        return self._host.concurrency.for_channel(self._name or request.channel)

    @property
    def turn_wait(self) -> float | None:
        """How long a turn waits for its conversation's previous turn; None: as long as that takes."""
        return self._host.turn_wait

    def channel_policy(self, channel: str) -> ConcurrencyPolicy:
        """The concurrency policy of `channel`; a channel that orders messages itself does so only for ``queue``."""
        return self._host.concurrency.for_channel(channel)

    def queue_key(self, key: str | None, *, at_once: bool = False, in_order: bool = False) -> str | None:
        """Where a channel that acknowledges first queues a delivery of conversation `key`; None: run it at once.

        Only under the ``queue`` policy does a delivery wait in its conversation's queue
        (`queues.ConversationQueues`: whole jobs, turn and reply, one at a time, holding no task), and only
        when turns wait without bound (`turn_wait` None) or the channel posts its answers into the
        conversation (`in_order`: a chat's answers must come out in arrival order, so its queue is the wait,
        unbounded). Otherwise a delivery runs at once: it waits for the turn lock itself, at most
        `turn_wait` (then the conversation is reported busy), or its policy acts on arrival. `at_once`
        (`/stop`) always runs at once, so it cuts in.
        """
        if at_once or self.channel_policy(self._name or "") != "queue":
            return None
        return key if in_order or self._host.turn_wait is None else None

    def _turn(self, request: ChannelRequest) -> _Turn | _KeylessTurn:
        """Hold the isolation key's turn (by the concurrency policy); load the session first, save it last."""
        return _KEYLESS if request.isolation_key is None else _Turn(self, request)

    async def _hold(self, key: str, policy: ConcurrencyPolicy) -> AbstractAsyncContextManager[Any]:
        """Take the key's turn lock (returned held): wait (queue, collect), refuse at once (reject), or interrupt."""
        state, wait, name = self._host.state, self._host.turn_wait, f"turn:{key}"
        if policy == "reject":
            lock = state.lock(name, wait=0)
            try:
                await lock.__aenter__()
            except SessionBusyError:
                raise ConversationBusyError(f"{key!r}: {ConversationBusyError.public_message}") from None
            return lock
        if policy != "interrupt":
            lock = state.lock(name, wait=wait)
            await lock.__aenter__()
            return lock
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            # Signal whoever holds the turn now (it may change while we wait), then try the lock briefly.
            await self._host.turns.interrupt(key)
            lock = state.lock(name, wait=INTERRUPT_POLL)
            try:
                await lock.__aenter__()
                return lock
            except SessionBusyError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    async def _invoke_interruptible(
        self, request: ChannelRequest, session: Any, control: TurnControl, inputs: list[Message]
    ) -> HostedRunResult[Any]:
        """Run the turn so the turn's control can cancel it; an interrupted turn stays in history."""
        start = history_length(self.target, session)
        if control.requested:  # interrupted before it started: the turn does not run
            mark_interrupted(self.target, session, inputs, start)
            raise TurnInterruptedError("the turn was interrupted")
        if _CAN_UNCANCEL:
            return await self._invoke_in_place(request, session, control, inputs, start)
        task = asyncio.ensure_future(self._invoke(request, session, control, inputs))
        control.bind(task.cancel)
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.wait({task})
            raise
        if task.cancelled():
            if not control.requested:
                raise asyncio.CancelledError
            mark_interrupted(self.target, session, inputs, start)
            raise TurnInterruptedError("the turn was interrupted")
        return task.result()

    async def _invoke_in_place(
        self, request: ChannelRequest, session: Any, control: TurnControl, inputs: list[Message], start: int
    ) -> HostedRunResult[Any]:
        """The turn in the caller's own task (a task per turn costs more than the turn's bookkeeping).

        An interrupt cancels this task while the turn runs, and only then; the cancellation it asked
        for is taken back (`uncancel`) so the caller sees `TurnInterruptedError`, while a cancellation
        from elsewhere (a disconnecting client, shutdown) still propagates.
        """
        task = asyncio.current_task()
        assert task is not None
        armed, cancelled = True, False

        def cancel() -> None:
            nonlocal cancelled
            if armed:
                cancelled = True
                task.cancel()

        control.bind(cancel)
        try:
            result = await self._invoke(request, session, control, inputs)
            if cancelled:
                # Asked from inside this task (a tool's guard released it), the cancellation is still pending:
                # take it here, as a task of its own would have ended cancelled, not later in the caller.
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            if not cancelled or _uncancel(task) > 0:
                raise
            mark_interrupted(self.target, session, inputs, start)
            raise TurnInterruptedError("the turn was interrupted") from None
        finally:
            armed = False
        if cancelled:
            _uncancel(task)  # the turn caught the cancellation and finished anyway: its answer stands
        return result

    def _run_kwargs(self, request: ChannelRequest, session: Any, control: TurnControl | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if session is not None:
            kwargs["session"] = session
        if control is not None and self._host.accepts_middleware:
            kwargs["middleware"] = [ToolGuard(control)]
        if request.options:
            kwargs["options"] = dict(request.options)
        return kwargs

    def _bind_request_context(self, request: ChannelRequest) -> AbstractContextManager[Any]:
        """The target's context providers bound to the request's response ids for the run (`_UNBOUND`: none binds)."""
        response_id = request.attributes.get("response_id")
        if not isinstance(response_id, str) or not response_id:
            return _UNBOUND
        providers = getattr(self.target, "context_providers", None) or ()
        binders = [bind for provider in providers if callable(bind := getattr(provider, "bind_request_context", None))]
        if not binders:
            return _UNBOUND
        previous = request.attributes.get("previous_response_id")
        with ExitStack() as stack:  # a provider failing to bind releases those bound before it
            for bind in binders:
                stack.enter_context(
                    bind(response_id=response_id, previous_response_id=previous if isinstance(previous, str) else None)
                )
            return stack.pop_all()

    async def _scope(self, request: ChannelRequest) -> str | None:
        key = request.isolation_key
        return None if key is None else await self._host.sessions.session_id(key)

    async def _invoke(
        self, request: ChannelRequest, session: Any, control: TurnControl | None, inputs: list[Message]
    ) -> HostedRunResult[Any]:
        host = self._host
        if host.workflows is not None:
            result = await host.workflows.run(request.input, await self._scope(request))
            return HostedRunResult(result)
        ticket = current_ticket()
        if ticket is not None and session is not None and ticket.resumed:
            # the crashed attempt may have saved this turn already: answer from it instead of running twice
            answered = _answered(self.target, session, "delivery", ticket.key)
            if answered is not None:
                return answered
        with self._bind_request_context(request):
            response = await self.target.run(inputs, **self._run_kwargs(request, session, control))
        if session is not None:
            identify(getattr(response, "messages", ()))  # the objects the history holds, before the turn saves it
        return HostedRunResult(response, session=session)

    def _invoke_stream(
        self, request: ChannelRequest, session: Any, control: TurnControl | None, inputs: list[Message]
    ) -> tuple[AsyncIterator[AgentResponseUpdate], Any, Any]:
        host = self._host
        if host.workflows is not None:
            return self._workflow_stream(request)
        binding = self._bind_request_context(request)
        try:
            stream = self.target.run(inputs, stream=True, **self._run_kwargs(request, session, control))
            iterator = stream.__aiter__()
        except BaseException:
            binding.__exit__(*sys.exc_info())
            raise

        async def final() -> Any:
            try:
                response = await stream.get_final_response()
            finally:
                binding.__exit__(None, None, None)
            if session is not None:
                identify(getattr(response, "messages", ()))
            return response

        async def close(error: BaseException | None) -> None:
            try:
                await stream.close(error)
            finally:
                binding.__exit__(None, None, None)

        return iterator, final, close

    def _workflow_stream(
        self, request: ChannelRequest
    ) -> tuple[AsyncIterator[AgentResponseUpdate], FinalResult, CloseRun]:
        workflows = self._host.workflows
        assert workflows is not None
        collected: list[AgentResponseUpdate] = []

        async def updates() -> AsyncGenerator[AgentResponseUpdate, None]:
            async for update in workflows.stream(request.input, await self._scope(request)):
                collected.append(update)
                yield update

        iterator = updates()

        async def final() -> Any:
            return final_from_updates(collected)

        async def close(error: BaseException | None) -> None:
            await iterator.aclose()

        return iterator, final, close

    async def reset_session(self, isolation_key: str) -> str:
        """Start a fresh conversation for `isolation_key`; returns the new session id."""
        return await self._host.reset_session_async(isolation_key)

    async def copy_session(self, source_key: str, target_key: str, *, ttl: float | None = None) -> bool:
        """Start `target_key` from a copy of `source_key`'s conversation (a fork); False when there is none.

        The copy shares the stored messages of its source; `ttl` overrides the host's session ttl for it
        (`math.inf`: kept until deleted).
        """
        return await self._host.sessions.copy(source_key, target_key, ttl=ttl)

    async def session_reference(self, session: Any) -> SessionReference | None:
        """A small JSON reference to `session`'s stored conversation (the session a run result names; its
        messages by position), for a record that points into history instead of copying it; None in memory
        or when none is stored."""
        return await self._host.sessions.reference(session)

    async def fork_session(
        self, reference: SessionReference, isolation_key: str, *, origin: str | None = None
    ) -> SessionFork | None:
        """A conversation for a new, fresh `isolation_key` continuing the one a `session_reference` points at.

        Nothing is stored: the fresh turn that runs with it (`ChannelSession(fork=...)`) stores it. None when
        part of the messages it points at is no longer stored. `origin` as `attach_session`'s.
        """
        session = await self._host.sessions.fork(reference, isolation_key, origin=origin)
        return None if session is None else SessionFork(session)

    async def record_session(self, isolation_key: str, *, ttl: float | None = None) -> bool:
        """Store the record of the session a `recorded=False` turn on `isolation_key` saved (`ChannelSession`).

        A fresh key is its session's id (no alias is read, as its turn read none). False when this process
        no longer holds that session (a later record cannot be made from elsewhere).
        """
        return await self._host.sessions.record(isolation_key, ttl=ttl)

    async def detach_session(self, session: Any) -> None:
        """Delete `session`'s record but keep its stored messages, which a reference still reads."""
        await self._host.sessions.detach(session)

    async def attach_session(
        self, reference: SessionReference, target_key: str, *, ttl: float | None = None, origin: str | None = None
    ) -> bool:
        """Start `target_key` from a `session_reference` (a fork sharing its stored messages), like `copy_session`.

        False (nothing stored) when part of the messages it points at is no longer stored. `origin`: the key
        the reference was taken from (this process may still hold its messages). `ttl` as `ChannelSession`'s.
        """
        return await self._host.sessions.attach(reference, target_key, ttl=ttl, origin=origin)

    async def referenced_history(self, reference: SessionReference) -> list[Message] | None:
        """A copy of the messages a `session_reference` points at; None when some of them have expired."""
        session = await self._host.sessions.referred(reference)
        return None if session is None else history_messages(self.target, session)

    async def delete_session(self, isolation_key: str, *, purge: bool = False) -> None:
        """Forget the conversation `isolation_key` currently uses (`purge`: erase its stored messages too)."""
        await self._host.sessions.delete(isolation_key, purge=purge)

    async def history(self, isolation_key: str) -> list[Message]:
        """A copy of the messages `isolation_key`'s conversation holds now (read without the turn lock, to show it)."""
        if not self.supports_sessions:
            return []
        sessions = self._host.sessions
        session = await sessions.stored(await sessions.session_id(isolation_key))
        return history_messages(self.target, session) if session is not None else []

    def session_messages(self, session: Any) -> list[Message]:
        """The messages `session`'s history holds (the session a run result names), as they are: read only."""
        return saved_messages(self.target, session)

    @property
    def supports_sessions(self) -> bool:
        """Whether the target keeps conversations in sessions (agents with `create_session`)."""
        return self._host.agent_target and self._host.sessions.supported

    def reset_command(
        self,
        *,
        name: str = "reset",
        description: str = "Start a new conversation",
        reply: str = "Started a new conversation.",
    ) -> ChannelCommand:
        """A ready `ChannelCommand` that resets the invoking user's session."""

        async def handle(ctx: ChannelCommandContext) -> None:
            key = ctx.request.isolation_key
            if key is None or not self._host.can_reset_sessions:
                await ctx.reply("There is no conversation to reset here.")
                return
            await self.reset_session(await self._shared_key(key))
            await ctx.reply(reply)

        return ChannelCommand(name=name, description=description, handle=handle)

    async def _linked(self, request: ChannelRequest) -> ChannelRequest:
        """With identity linking: note the arriving key (for linked memory) and run under the shared key."""
        links, key = self._host.links, request.isolation_key
        if links is None or key is None or request.session is None:
            return request
        current_key.set(key)
        shared = await links.conversation_key(key)
        if shared == key:
            return request
        return dataclasses.replace(request, session=ChannelSession(shared, ttl=request.session.ttl))

    @property
    def linking_enabled(self) -> bool:
        """Whether the host links identities (so chat channels offer `/link` and `/unlink`)."""
        return self._host.links is not None

    def link_command(
        self, *, name: str = "link", description: str = "Link this chat with another channel"
    ) -> ChannelCommand:
        """`/link` shows a single-use code; `/link CODE` (sent on another channel) joins the two identities."""

        async def handle(ctx: ChannelCommandContext) -> None:
            links, key = self._host.links, ctx.request.isolation_key
            if links is None or key is None:
                await ctx.reply("Linking is not available here.")
                return
            code = code_argument(ctx.request.input)
            try:
                if code is None:
                    minutes = round(links.settings.code_ttl / 60)
                    issued = await links.issue(key)
                    await ctx.reply(
                        f"Your link code is {issued}. Within {minutes} minutes, send /{name} {issued} in the chat "
                        "you want to link with this one. Do not share it with anyone."
                    )
                    return
                other = await links.redeem(key, code)
            except LinkError as error:
                await ctx.reply(str(error))
                return
            if links.settings.share == "conversation":
                shared = await links.conversation_key(key)
                await self.copy_session(other, shared)
            await ctx.reply("Linked: this chat and your other channel are now one person. Send /unlink to undo.")

        return ChannelCommand(name=name, description=description, handle=handle)

    def unlink_command(self, *, name: str = "unlink", description: str = "Undo /link for this chat") -> ChannelCommand:
        async def handle(ctx: ChannelCommandContext) -> None:
            links, key = self._host.links, ctx.request.isolation_key
            if links is None or key is None:
                await ctx.reply("Linking is not available here.")
                return
            await ctx.reply("Unlinked." if await links.unlink(key) else "This chat is not linked.")

        return ChannelCommand(name=name, description=description, handle=handle)

    async def stop(self, isolation_key: str) -> bool:
        """Cancel the turn running for `isolation_key` (here or in another process); False when none runs."""
        return await self._host.turns.interrupt(await self._shared_key(isolation_key))

    async def _shared_key(self, isolation_key: str) -> str:
        links = self._host.links
        return isolation_key if links is None else await links.conversation_key(isolation_key)

    def stop_command(
        self,
        *,
        name: str = "stop",
        description: str = "Stop the answer in progress",
        stopped: str = "Stopped.",
        idle: str = "Nothing to stop.",
    ) -> ChannelCommand:
        """A ready `ChannelCommand` that cancels the invoking conversation's running turn and says so."""

        async def handle(ctx: ChannelCommandContext) -> None:
            key = ctx.request.isolation_key
            await ctx.reply(stopped if key is not None and await self.stop(key) else idle)

        return ChannelCommand(name=name, description=description, handle=handle)

    def once(self, namespace: str, key: str, *, ttl: float = DEFAULT_IDEMPOTENCY_TTL) -> Claim:
        """Claim `key` in `namespace` (a platform delivery id); the block gets False for a repeat.

        The delivery counts as handled (for `ttl` seconds) only when the body
        finishes; a body that raises releases the claim, and a claim whose
        process died lapses, so the platform's retry runs it.
        """
        return Claim(self._host.claims, f"{namespace}:{key}", ttl)

    async def accept(self, delivery_id: str, payload: Any) -> DeliveryTicket | None:
        """Record a platform delivery in the turn ledger BEFORE acknowledging it; None for a repeat.

        `payload` (JSON) must be enough to handle the delivery again after a crash. Hand the
        ticket to `handle` (usually in the background, after acknowledging). Raises
        `StateUnavailableError` when it cannot be recorded: answer 503 so the platform retries.
        """
        return await self._host.ledger.accept(self._ledger_channel, delivery_id, payload)

    async def handle(self, ticket: DeliveryTicket, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` (the turn and its answer) for an accepted delivery; the ledger entry goes when it returns."""
        await self._host.ledger.handle(ticket, work)

    def resumable(self, resumer: Resumer) -> None:
        """Let the ledger finish this channel's deliveries that a crashed or stopped process left unanswered."""
        self._host.ledger.register(self._ledger_channel, resumer)

    def resendable(self, resender: Resender) -> None:
        """Let the durable outbox retry this channel's replies that failed to go out."""
        self._host.outbox.register(self._ledger_channel, resender)

    async def keep(self, destination: Any, payload: Any, *, key: str, error: BaseException | None = None) -> bool:
        """Hand a reply that could not be delivered to the durable outbox (retried, then a dead letter).

        `destination` and `payload` are JSON the channel's `resend` understands; `key` is the
        reply's idempotency key (the same reply is queued once).
        """
        return await self._host.outbox.keep(self._ledger_channel, destination, payload, key=key, error=error)

    @property
    def _ledger_channel(self) -> str:
        if self._name is None:
            raise RuntimeError("the turn ledger needs a context bound to a channel (context.bind(name))")
        return self._name

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any]:
        """Run `work` in the background; the host waits for it (bounded) at shutdown."""
        return self._host.tasks.spawn(work, name=name)


class _KeylessTurn:
    """The turn of a request without an isolation key: no lock, no running record, no session (one shared)."""

    async def __aenter__(self) -> tuple[None, None]:
        return None, None

    async def __aexit__(self, *exc_info: object) -> None:
        return None


_KEYLESS = _KeylessTurn()


class _Turn:
    """`ChannelContext._turn`: the turn lock, the running-turn record and the session, for one turn.

    A plain object rather than `@asynccontextmanager` over an `AsyncExitStack`: every turn enters
    one, and the generator, the stack and their callbacks cost about a tenth of the host's own work.
    Exits run in reverse order of entry, each even when a later one failed.
    """

    __slots__ = (
        "_context",
        "_request",
        "_key",
        "_ttl",
        "_fresh",
        "_recorded",
        "_fork",
        "_lock",
        "_running",
        "_session",
        "_merged",
    )

    def __init__(self, context: ChannelContext, request: ChannelRequest) -> None:
        assert request.isolation_key is not None  # a request without a key takes `_KEYLESS`
        self._context = context
        self._request = request
        self._key: str = request.isolation_key
        session = request.session
        assert session is not None  # a key comes from a session
        self._ttl = session.ttl
        self._fresh = session.fresh
        self._recorded = session.writes_record
        self._fork = session.fork if session.fresh else None
        self._lock: AbstractAsyncContextManager[Any] | None = None
        self._running: AbstractAsyncContextManager[TurnControl] | None = None
        self._session: Any = None
        self._merged: list[str] = []

    async def __aenter__(self) -> tuple[Any, TurnControl | None]:
        key = self._key
        context, request = self._context, self._request
        host = context._host
        supported = host.agent_target and host.sessions.supported
        if self._fresh:  # nothing to wait for, load or stop: see `ChannelSession.fresh`
            if supported:
                self._session = self._fork.session if self._fork is not None else host.sessions.new(key)
            return self._session, None
        queued = time.perf_counter()
        self._lock = await context._hold(key, context.policy(request))
        try:
            host_metrics().queue_wait.record(time.perf_counter() - queued, {"channel": request.channel})
            self._running = running = host.turns.running(key)
            control = await running.__aenter__()
            try:
                session = await host.sessions.load(key, ttl=self._ttl) if supported else None
                # Messages delivered while an earlier turn ran join the history before this turn's input.
                if session is not None:
                    self._merged = await host.proactive.waiting.merge(key, host.target, session)
            except BaseException:
                await running.__aexit__(*sys.exc_info())
                raise
        except BaseException:
            await self._lock.__aexit__(*sys.exc_info())
            raise
        self._session = session
        return session, control

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._fresh:
            await self._save()
            return
        assert self._lock is not None and self._running is not None
        try:
            try:
                await self._save()
                if self._merged:  # only once saved: until then they wait to be merged again
                    with anyio.CancelScope(shield=True):
                        await self._context._host.proactive.waiting.settle(self._key, self._merged)
            finally:
                await self._running.__aexit__(kind, error, traceback)
        finally:
            await self._lock.__aexit__(kind, error, traceback)

    async def _save(self) -> None:
        """Save the session inside the lock, so the next turn on this key reads this one's history.

        A store that keeps the live object needs no I/O; one that writes is shielded so a cancelled turn saves too.
        """
        host, session = self._context._host, self._session
        if session is None:
            return
        if host.state.keeps_objects:
            await host.sessions.save(session, ttl=self._ttl)
            return
        with anyio.CancelScope(shield=True):
            await host.sessions.save(session, ttl=self._ttl, record=self._recorded)


class Claim:
    """`ChannelContext.once`'s claim on one delivery id, as an async context manager.

    A plain object rather than a generator: channels that acknowledge first hold
    one per queued delivery, so it stays small.
    """

    __slots__ = ("_claims", "_name", "_token", "_ttl")

    def __init__(self, claims: Claims, name: str, ttl: float) -> None:
        self._claims = claims
        self._name = name
        self._ttl = ttl
        self._token: str | None = None

    async def __aenter__(self) -> bool:
        self._token = await self._claims.take(self._name)
        return self._token is not None

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._token is None:
            return
        # Shielded: a cancelled handler still releases (or commits) what it claimed.
        with anyio.CancelScope(shield=True):
            if kind is not None:
                await self._claims.release(self._name, self._token)
            else:
                await self._claims.commit(self._name, self._token, ttl=self._ttl)
