"""The `collect` policy: messages that arrive close together are merged into one turn.

The first message of a burst opens a batch in the state store and leads it: it
waits `collect_window` seconds and then for the conversation's turn, while later
messages append themselves to the batch. Once the leader holds the turn it takes
the batch (closing it; a message after that opens the next batch) and runs every
message as one turn. The others wait for the leader's published answer, so this
works across processes sharing a Redis store.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent_framework import AgentResponse, Message

from ._errors import HostingError, TurnInterruptedError

if TYPE_CHECKING:
    from ._state import StateStore

BATCHES = "collect"
RESULTS = "collect-result"
RESULT_TTL = 600.0
POLL_INTERVAL = 0.05


class CollectedTurnFailed(HostingError):
    """The merged turn this message was collected into failed."""

    code = "collected_turn_failed"
    public_message = "the turn this message was merged into failed"


@dataclass(frozen=True)
class Ticket:
    """One message's place in a batch: the batch id, when the batch opened, and whether it leads."""

    batch: str
    opened_at: float
    leader: bool


class Collector:
    """Batches per conversation in the state store, and the answers leaders publish."""

    def __init__(self, state: StateStore, *, window: float, wait: float | None) -> None:
        self.state = state
        self.window = window
        self.wait = wait

    def _ttl(self) -> float:
        return self.window + (self.wait if self.wait is not None else RESULT_TTL) + 30.0

    async def join(self, key: str, messages: Sequence[Message]) -> Ticket:
        """Add `messages` to the key's open batch, or open one (and lead it)."""
        items = [message.to_dict() for message in messages]
        async with self.state.lock(f"collect:{key}", wait=self.wait):
            batch = await self.state.get(BATCHES, key)
            if isinstance(batch, dict):
                batch["items"] = [*batch["items"], *items]
                await self.state.set(BATCHES, key, batch, ttl=self._ttl())
                return Ticket(batch["id"], float(batch["opened_at"]), leader=False)
            batch = {"id": uuid.uuid4().hex, "opened_at": time.time(), "items": items}
            await self.state.set(BATCHES, key, batch, ttl=self._ttl())
            return Ticket(batch["id"], batch["opened_at"], leader=True)

    async def window_closed(self, ticket: Ticket) -> None:
        """Sleep until `collect_window` seconds after the batch opened."""
        remaining = ticket.opened_at + self.window - time.time()
        if remaining > 0:
            await asyncio.sleep(remaining)

    async def take(self, key: str, ticket: Ticket) -> list[Message]:
        """Close the leader's batch and return every message collected into it."""
        async with self.state.lock(f"collect:{key}", wait=self.wait):
            batch = await self.state.get(BATCHES, key)
            if not isinstance(batch, dict) or batch.get("id") != ticket.batch:
                raise CollectedTurnFailed("the collected batch expired before its turn could run")
            await self.state.delete(BATCHES, key)
        return [Message.from_dict(item) for item in batch["items"]]

    async def publish(self, ticket: Ticket, response: Any, error: BaseException | None) -> None:
        """Tell the batch's other messages how the merged turn ended."""
        if isinstance(error, TurnInterruptedError):
            record: dict[str, Any] = {"interrupted": True}
        elif error is not None or not isinstance(response, AgentResponse):
            record = {"failed": True}
        else:
            record = {"response": response.to_dict()}
        await self.state.set(RESULTS, ticket.batch, record, ttl=RESULT_TTL)

    async def result(self, ticket: Ticket) -> AgentResponse:
        """Wait for the leader's answer to the batch `ticket` joined."""
        limit = self.window + (self.wait if self.wait is not None else RESULT_TTL) * 2
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            record = await self.state.get(RESULTS, ticket.batch)
            if isinstance(record, dict):
                if record.get("interrupted"):
                    raise TurnInterruptedError("the turn this message was merged into was interrupted")
                if "response" in record:
                    return AgentResponse.from_dict(record["response"])
                raise CollectedTurnFailed("the turn this message was merged into failed")
            await asyncio.sleep(POLL_INTERVAL)
        raise CollectedTurnFailed("the turn this message was merged into did not finish in time")
