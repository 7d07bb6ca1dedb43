"""Background responses: run in the host after the request returns, followed, replayed and cancelled.

The run's events go to an in-process log that live followers read, and to the state
store (every `PERSIST_INTERVAL`) for followers in other processes, which poll it. A
cancel from another process is a status written to the store; the run sees it at its
next checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
from agent_framework_hosting import HostedStream, HostingError, SessionBusyError
from starlette.responses import JSONResponse, Response

from ._errors import BUSY_MESSAGE, ApiError
from ._events import ResponseEvents
from ._render import FAILED_MESSAGE, TERMINAL_STATUSES, failure
from ._runs import LiveRun, LiveRuns
from ._sse import EventStreamResponse, frames

if TYPE_CHECKING:
    from ._turns import Turn, TurnRunner

logger = logging.getLogger("agent_framework.hosting.responses")

PERSIST_INTERVAL = 0.25
POLL_INTERVAL = 0.2
CANCEL_WAIT = 10.0


class BackgroundRunner:
    """The background responses of one `TurnRunner`."""

    def __init__(self, turns: TurnRunner, *, replay_timeout: float = 600.0) -> None:
        self.turns = turns
        self.records = turns.records
        self.replay_timeout = replay_timeout
        self.runs = LiveRuns()

    async def start(self, turn: Turn) -> Response:
        """Store the response as queued, start its run in the host, and answer at once (or follow its events)."""
        queued = self.turns.response(turn, "queued")
        await self.records.save_response(self.turns.record(turn, queued, snapshot=False))
        events = ResponseEvents(turn.response_id)
        run = self.runs.start(turn.response_id)
        run.append(events.created(queued))
        task = self.turns.context.spawn(self._run(turn, run, events), name=f"responses {turn.response_id}")
        run.task = task if isinstance(task, asyncio.Future) else None
        if turn.params.stream:
            return EventStreamResponse(frames(run.follow(None)))
        return JSONResponse(queued)

    async def _run(self, turn: Turn, run: LiveRun, events: ResponseEvents) -> None:
        with self.turns.streams.open(turn.conversation_id, self.turns.listener(turn, events, run.append)):
            await self._run_turn(turn, run, events)

    async def _run_turn(self, turn: Turn, run: LiveRun, events: ResponseEvents) -> None:
        stream: HostedStream | None = None
        response: dict[str, Any] | None = None
        loop = asyncio.get_running_loop()
        try:
            stream = await self.turns.open_stream(turn)
            started = self.turns.response(turn, "in_progress")
            run.append(events.in_progress(started))
            run.cancel_requested = run.cancel_requested or await self._checkpoint(turn, run, started)
            last = loop.time()
            if not run.cancel_requested:
                async for update in stream:
                    run.append(events.delta(update.text))
                    if loop.time() - last >= PERSIST_INTERVAL:
                        last = loop.time()
                        if await self._checkpoint(turn, run, None):
                            run.cancel_requested = True
                            break
            if run.cancel_requested or await self._cancelled_elsewhere(turn.response_id):
                await stream.aclose()
                response = self._cancelled(turn, run, events)
            else:
                response = self.turns.completed(turn, stream.result, events=events)
                run.append(events.finished(response))
        except asyncio.CancelledError:
            response = self._cancelled(turn, run, events)
        except Exception as error:
            if isinstance(error, HostingError):
                logger.warning("responses: background response %s could not run: %s", turn.response_id, error)
                await self.turns.abort(turn)
            else:
                logger.exception("responses: the agent failed on %s", turn.response_id)
            message = BUSY_MESSAGE if isinstance(error, SessionBusyError) else FAILED_MESSAGE
            response = self.turns.partial(turn, events, "failed", error=failure(message))
            run.append(events.finished(response))
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    if stream is not None:
                        await stream.aclose()
                    if response is None:
                        response = self._cancelled(turn, run, events)
                    await self.records.save_events(turn.response_id, run.events)
                    await self.turns.safe_finish(turn, response)
                finally:
                    self.runs.end(run)

    def _cancelled(self, turn: Turn, run: LiveRun, events: ResponseEvents) -> dict[str, Any]:
        """The cancelled response; its events close what is open and end with `response.failed`."""
        response = self.turns.partial(turn, events, "cancelled")
        run.append(events.finished(response))
        return response

    async def _checkpoint(self, turn: Turn, run: LiveRun, response: dict[str, Any] | None) -> bool:
        """Persist the event log (and `response`); True when another process cancelled the response."""
        record = await self.records.response(turn.response_id)
        if record is not None and record["response"]["status"] == "cancelled":
            return True
        if response is not None and record is not None:
            record["response"] = response
            await self.records.save_response(record)
        await self.records.save_events(turn.response_id, run.events)
        return False

    async def _cancelled_elsewhere(self, response_id: str) -> bool:
        record = await self.records.head(response_id)
        return record is not None and record["response"]["status"] == "cancelled"

    def replay(self, record: dict[str, Any], starting_after: int | None) -> Response:
        """Stream a background response's events after `starting_after`, live while it runs."""
        response = record["response"]
        if not response.get("background"):
            raise ApiError("Only responses created with background=true can be streamed.", param="stream")
        run = self.runs.get(response["id"])
        source = run.follow(starting_after) if run is not None else self._poll(response["id"], starting_after)
        return EventStreamResponse(frames(source))

    async def _poll(self, response_id: str, starting_after: int | None) -> AsyncIterator[dict[str, Any]]:
        """Events from the store, for a response another process runs (or that has ended)."""
        cursor = -1 if starting_after is None else starting_after
        deadline = asyncio.get_running_loop().time() + self.replay_timeout
        while True:
            record = await self.records.head(response_id)
            for event in await self.records.events(response_id):
                if event["sequence_number"] > cursor:
                    cursor = event["sequence_number"]
                    yield event
            if record is None or record["response"]["status"] in TERMINAL_STATUSES:
                return
            if asyncio.get_running_loop().time() > deadline:
                return
            await asyncio.sleep(POLL_INTERVAL)

    async def cancel(self, record: dict[str, Any]) -> dict[str, Any]:
        response = record["response"]
        response_id = response["id"]
        if not response.get("background"):
            raise ApiError("Only responses created with background=true can be cancelled.")
        status = response["status"]
        if status == "cancelled":
            return response  # type: ignore[no-any-return]
        if status in TERMINAL_STATUSES:
            raise ApiError(f"Cannot cancel a response with status '{status}'.")
        run = self.runs.get(response_id)
        if run is not None and run.task is not None:
            run.cancel_requested = True
            run.task.cancel()
            with anyio.move_on_after(CANCEL_WAIT):
                await run.finished.wait()
            if not run.done:
                self.runs.end(run)
            else:
                stored = await self.records.response(response_id)
                if stored is not None:
                    return stored["response"]  # type: ignore[no-any-return]
        stored = await self.records.response(response_id) or record
        stored["response"]["status"] = "cancelled"
        await self.records.save_response(stored)
        return stored["response"]  # type: ignore[no-any-return]
