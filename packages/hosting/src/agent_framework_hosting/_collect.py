"""The `collect` policy: messages that arrive close together are merged into one turn.

The first message of a burst opens a batch in the state store and leads it: it
waits `collect_window` seconds and then for the conversation's turn, while later
messages append themselves to the batch. Once the leader holds the turn it takes
the batch (a message after that opens the next batch) and runs every message as
one turn. The others wait for the leader's published answer, so this works across
processes sharing a Redis store.

A leader holds a lease on its batch and renews it until it publishes. If it dies
(a crashed process), its batch stays in the store: a waiting member whose leader's
lease lapsed takes the batch over (compare-and-set on the leader token) and runs it
itself, and a later leader that finds a taken batch nobody finished runs its
messages along with its own. Every merged message is stamped with its batch id, so
a batch whose turn was saved before its leader died is answered from the history,
not run twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent_framework import AgentResponse, Message

from ._errors import HostingError, TurnInterruptedError

if TYPE_CHECKING:
    from ._state import StateStore

logger = logging.getLogger("agent_framework.hosting")

BATCHES = "collect"
TAKEN = "collect-taken"
RESULTS = "collect-result"
RESULT_TTL = 600.0
POLL_INTERVAL = 0.05
LEADER_LEASE = 5.0


class CollectedTurnFailed(HostingError):
    """The merged turn this message was collected into failed."""

    code = "collected_turn_failed"
    public_message = "the turn this message was merged into failed"


class BatchTakenOver(CollectedTurnFailed):
    """This leader's lease lapsed (a stall) and a member took its batch over; the member answers it."""

    code = "collected_batch_taken_over"


@dataclass(frozen=True)
class Ticket:
    """One message's place in a batch: the batch id, when it opened, whether it leads (and its leader token)."""

    batch: str
    opened_at: float
    leader: bool
    key: str = ""
    token: str = ""
    #: A member that took the batch over from a leader that died.
    takeover: bool = False


def batch_of(message: Message) -> str | None:
    """The id of the batch `message` was merged in, if any."""
    value = ((message.additional_properties or {}).get("hosting") or {}).get("batch")
    return value if isinstance(value, str) else None


def _stamped(items: Sequence[dict[str, Any]], batch: str, runner: str | None) -> list[Message]:
    """The messages, each marked with its batch (kept when it has one) and the delivery that runs them."""
    messages = []
    for item in items:
        message = Message.from_dict(item)
        properties = dict(message.additional_properties or {})
        properties["hosting"] = {"batch": batch, **(properties.get("hosting") or {}), "batch_runner": runner}
        message.additional_properties = properties
        messages.append(message)
    return messages


class Collector:
    """Batches per conversation in the state store, and the answers leaders publish."""

    def __init__(self, state: StateStore, *, window: float, wait: float | None, lease: float = LEADER_LEASE) -> None:
        self.state = state
        self.window = window
        self.wait = wait
        self.lease = lease
        self._renewals: dict[str, asyncio.Task[None]] = {}

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
                return Ticket(batch["id"], float(batch["opened_at"]), leader=False, key=key)
            token = uuid.uuid4().hex
            batch = {"id": uuid.uuid4().hex, "opened_at": time.time(), "items": items, "leader": token,
                     "until": time.time() + self.lease}  # fmt: skip
            await self.state.set(BATCHES, key, batch, ttl=self._ttl())
        ticket = Ticket(batch["id"], batch["opened_at"], leader=True, key=key, token=token)
        self._renew(ticket)
        return ticket

    def _renew(self, ticket: Ticket) -> None:
        """Keep the leader's lease on its batch fresh until it publishes."""
        self._renewals[ticket.batch] = asyncio.ensure_future(self._renewing(ticket))

    async def _renewing(self, ticket: Ticket) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            for namespace in (BATCHES, TAKEN):
                with contextlib.suppress(HostingError):
                    batch = await self.state.get(namespace, ticket.key)
                    if isinstance(batch, dict) and batch.get("id") == ticket.batch:
                        renewed = {**batch, "until": time.time() + self.lease}
                        await self.state.replace(namespace, ticket.key, renewed, match={"leader": ticket.token})

    def abandon(self, ticket: Ticket) -> None:
        """Stop renewing the lease of a leader that gives up before its turn: a member takes the batch over."""
        renewal = self._renewals.pop(ticket.batch, None)
        if renewal is not None:
            renewal.cancel()

    async def window_closed(self, ticket: Ticket) -> None:
        """Sleep until `collect_window` seconds after the batch opened."""
        remaining = ticket.opened_at + self.window - time.time()
        if remaining > 0:
            await asyncio.sleep(remaining)

    async def take(self, key: str, ticket: Ticket, *, runner: str | None = None) -> list[Message]:
        """Take the leader's batch (the caller holds the turn) and return every message to run, stamped with it.

        A taken batch whose runner never published (it died) is run along with this one.
        """
        async with self.state.lock(f"collect:{key}", wait=self.wait):
            batch = await self.state.get(BATCHES, key)
            taken = await self.state.get(TAKEN, key)
            if isinstance(batch, dict) and batch.get("id") == ticket.batch:
                await self.state.delete(BATCHES, key)
            elif isinstance(taken, dict) and taken.get("id") == ticket.batch:
                batch, taken = taken, None  # a takeover of a batch its leader had taken already
            else:
                raise CollectedTurnFailed("the collected batch expired before its turn could run")
            if batch.get("leader") != ticket.token:
                # Its lease lapsed (a stall) and a member took over: only one of them may run it.
                raise BatchTakenOver("another process took this collected batch over")
            messages = _stamped(batch["items"], ticket.batch, runner)
            adopted = list(batch.get("adopted") or [])
            if isinstance(taken, dict):
                logger.warning("collect: running batch %s of %s, left unfinished by its leader", taken["id"], key)
                messages = [*_stamped(taken["items"], taken["id"], runner), *messages]
                adopted += [taken["id"], *(taken.get("adopted") or [])]
            record = {"id": ticket.batch, "items": [m.to_dict() for m in messages], "adopted": adopted,
                      "leader": ticket.token, "until": time.time() + self.lease}  # fmt: skip
            await self.state.set(TAKEN, key, record, ttl=self._ttl())
        return messages

    async def find(self, key: str, delivery: str) -> Ticket | None:
        """A member's ticket for the unfinished batch that holds the message of `delivery`, if one does."""
        for namespace in (BATCHES, TAKEN):
            batch = await self.state.get(namespace, key)
            if not isinstance(batch, dict):
                continue
            for item in batch.get("items") or []:
                hosting = (item.get("additional_properties") or {}).get("hosting") or {}
                if hosting.get("delivery") == delivery:
                    batch_id = hosting.get("batch", batch["id"]) if namespace == TAKEN else batch["id"]
                    return Ticket(str(batch_id), float(batch.get("opened_at", 0)), leader=False, key=key)
        return None

    async def publish(self, ticket: Ticket, response: Any, error: BaseException | None) -> None:
        """Tell the batch's other messages (and those of batches it ran for a dead leader) how the turn ended."""
        self.abandon(ticket)
        if isinstance(error, BatchTakenOver):
            return  # the batch's new leader publishes
        if isinstance(error, TurnInterruptedError):
            record: dict[str, Any] = {"interrupted": True}
        elif error is not None or not isinstance(response, AgentResponse):
            record = {"failed": True}
        else:
            record = {"response": response.to_dict()}
        taken = await self.state.get(TAKEN, ticket.key) if ticket.key else None
        ids = [ticket.batch]
        if isinstance(taken, dict) and taken.get("id") == ticket.batch:
            ids += list(taken.get("adopted") or [])
        for batch in ids:
            await self.state.set(RESULTS, batch, record, ttl=RESULT_TTL)
        if isinstance(taken, dict) and taken.get("id") == ticket.batch:
            await self.state.discard(TAKEN, ticket.key, match={"leader": ticket.token})

    async def result(self, ticket: Ticket) -> AgentResponse | Ticket:
        """Wait for the leader's answer to the batch `ticket` joined; a leader ticket when its leader died."""
        limit = self.window + (self.wait if self.wait is not None else RESULT_TTL) * 2
        deadline = time.monotonic() + limit
        checked = time.monotonic()
        while time.monotonic() < deadline:
            record = await self.state.get(RESULTS, ticket.batch)
            if isinstance(record, dict):
                if record.get("interrupted"):
                    raise TurnInterruptedError("the turn this message was merged into was interrupted")
                if "response" in record:
                    return AgentResponse.from_dict(record["response"])
                raise CollectedTurnFailed("the turn this message was merged into failed")
            if time.monotonic() - checked > self.lease / 3:
                checked = time.monotonic()
                taken_over = await self._take_over(ticket)
                if taken_over is not None:
                    return taken_over
            await asyncio.sleep(POLL_INTERVAL)
        raise CollectedTurnFailed("the turn this message was merged into did not finish in time")

    async def _take_over(self, ticket: Ticket) -> Ticket | None:
        """Lead `ticket`'s batch when its leader's lease lapsed (compare-and-set: one member wins)."""
        for namespace in (BATCHES, TAKEN):
            batch = await self.state.get(namespace, ticket.key)
            if not isinstance(batch, dict) or batch.get("id") != ticket.batch:
                continue
            if float(batch.get("until", 0)) > time.time():
                return None
            token = uuid.uuid4().hex
            mine = {**batch, "leader": token, "until": time.time() + self.lease}
            if not await self.state.replace(namespace, ticket.key, mine, match={"leader": str(batch.get("leader"))}):
                return None
            logger.warning("collect: the leader of batch %s of %s is gone; a member takes it over", ticket.batch,
                           ticket.key)  # fmt: skip
            leader = dataclasses.replace(ticket, leader=True, token=token, takeover=True)
            self._renew(leader)
            return leader
        return None
