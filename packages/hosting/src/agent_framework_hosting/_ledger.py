"""The turn ledger: each platform delivery is recorded before it is acknowledged and kept until answered.

An entry lives in the state store's ``ledger`` namespace under
``<channel>:<delivery id>`` with the platform payload, a status
(``accepted`` -> ``replying``; a ``running`` left by earlier versions counts as
``accepted``) and a lease: an owner token and
the time until which that owner is known alive. The owner renews the lease
while it works; when the turn is answered the delivery is marked done in the
``idempotency`` namespace and the entry deleted. An entry whose lease lapsed
(its process died or stalled) is taken over, by compare-and-set on the owner,
by whichever process notices first: at start, or in the periodic recovery
sweep. A taken-over entry that never started replying is run again; one that
had started replying gets one short "please send that again" notice, since the
platform may already show part of the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from ._claims import CLAIMS
from ._errors import HostingError, StateUnavailableError
from ._owners import unique_token
from ._state import StateStore

logger = logging.getLogger("agent_framework.hosting")

LEDGER = "ledger"
MAX_UNCONFIRMED = 10_000
RENEW_BATCH = 256
ACCEPTED, REPLYING = "accepted", "replying"
INTERRUPTED_NOTICE = "Sorry, I was interrupted before I could answer. Please send that again."


@dataclass(frozen=True)
class DeliveryOptions:
    """How deliveries are kept: ledger lease length, resume attempts, how long a done mark dedupes;
    outbox retries (attempts, exponential backoff from `outbox_backoff` up to `outbox_max_delay`,
    never sooner than the platform's Retry-After) and how often the outbox looks for due replies."""

    lease: float = 30.0
    max_attempts: int = 3
    done_ttl: float = 7 * 24 * 3600.0
    recovery_interval: float | None = None  # default: half the lease
    outbox_attempts: int = 6
    outbox_backoff: float = 2.0
    outbox_max_delay: float = 600.0
    outbox_interval: float = 1.0

    def __post_init__(self) -> None:
        if self.lease <= 0 or self.max_attempts < 1 or self.done_ttl <= 0:
            raise ValueError("lease and done_ttl must be positive and max_attempts at least 1")


class Resumer(Protocol):
    """What a channel gives the ledger to finish a delivery another process (or life) left unanswered."""

    async def resume(self, payload: Any) -> None:
        """Handle `payload` as if it had just arrived: run the turn and answer."""
        ...

    async def interrupted(self, payload: Any) -> None:
        """Tell the sender, once and briefly, that the answer was cut off."""
        ...


class DeliveryTicket:
    """One delivery this process owns while it works on it."""

    __slots__ = ("entry", "key", "ledger", "lost")  # one per queued delivery: a backlog holds thousands

    def __init__(self, ledger: TurnLedger, key: str, entry: dict[str, Any]) -> None:
        self.ledger = ledger
        self.key = key
        self.entry = entry
        self.lost = False

    @property
    def owner(self) -> str:
        return str(self.entry["owner"])

    @property
    def status(self) -> str:
        return str(self.entry["status"])

    @property
    def resumed(self) -> bool:
        """Whether an earlier attempt at this delivery was cut short (its turn may be saved already)."""
        return int(self.entry.get("attempts", 1)) > 1

    async def mark(self, status: str) -> None:
        """Record progress; a ticket whose lease was taken over stays lost and records nothing."""
        if self.lost or self.entry["status"] == status:
            return
        await self.ledger._write(self, status=status, lease_until=time.time() + self.ledger.options.lease)


_CURRENT: ContextVar[DeliveryTicket | None] = ContextVar("afh_ledger_ticket", default=None)


def current_ticket() -> DeliveryTicket | None:
    """The ledger ticket of the delivery being handled in this task, if any."""
    return _CURRENT.get()


async def replying() -> None:
    """Record that the current delivery's answer starts going out (a resume then only apologises)."""
    ticket = _CURRENT.get()
    if ticket is not None:
        with contextlib.suppress(HostingError):
            await ticket.mark(REPLYING)


def _owner_is_dead(owner: str) -> bool:
    """Whether `owner` names a process on this machine that no longer runs."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


class TurnLedger:
    """Accepts deliveries durably, keeps their leases alive, and resumes what others left unfinished."""

    def __init__(self, store: StateStore, options: DeliveryOptions | None = None) -> None:
        self.store = store
        self.options = options or DeliveryOptions()
        self._resumers: dict[str, Resumer] = {}
        self._held: dict[str, DeliveryTicket] = {}
        self._unconfirmed: dict[str, str] = {}
        self._keeper: asyncio.Task[None] | None = None
        self._spawn: Callable[[Any], Any] | None = None

    def register(self, channel: str, resumer: Resumer) -> None:
        """Let the ledger resume `channel`'s unfinished deliveries."""
        self._resumers[channel] = resumer

    def _new_entry(self, channel: str, delivery_id: str, payload: Any, status: str = ACCEPTED) -> dict[str, Any]:
        now = time.time()
        return {
            "channel": channel,
            "id": delivery_id,
            "payload": payload,
            "status": status,
            "owner": unique_token(),
            "lease_until": now + self.options.lease,
            "accepted_at": now,
            "attempts": 1,
        }

    async def accept(self, channel: str, delivery_id: str, payload: Any) -> DeliveryTicket | None:
        """Record a delivery before the platform is acknowledged; None when it is a repeat.

        Raises `StateUnavailableError` when it cannot be recorded (answer 503: the platform retries).
        """
        key = f"{channel}:{delivery_id}"
        entry = self._new_entry(channel, delivery_id, payload)
        for _ in range(3):
            try:
                added, done = await self._add(key, entry)
            except HostingError:
                # the store may still write it (a stalled Redis runs it late): the platform's retry may take it over
                self._unconfirmed[key] = entry["owner"]
                while len(self._unconfirmed) > MAX_UNCONFIRMED:
                    self._unconfirmed.pop(next(iter(self._unconfirmed)))
                raise
            if added:
                if isinstance(done, dict) and done.get("status") == "done" or done is True:
                    # answered and its entry removed just before this repeat arrived
                    await self.store.discard(LEDGER, key, match={"owner": entry["owner"]})
                    return None
                return self._hold(key, entry)
            current = await self.store.get(LEDGER, key)
            if current is None:
                continue  # finished or swept away since the add: try again
            ticket = await self._take_over(key, current)
            if ticket is not None or await self.store.get(LEDGER, key) is not None:
                return ticket
            # the entry went while we tried to take it over (a late write swept away): record it afresh
        return None

    async def _add(self, key: str, entry: dict[str, Any]) -> tuple[bool, Any | None]:
        """Add the entry and, only after it, read the delivery's done mark (one round trip where the store can)."""
        add_and_get = getattr(self.store, "add_and_get", None)
        if add_and_get is not None:
            added, done = await add_and_get(LEDGER, key, entry, read=(CLAIMS, key))
            return bool(added), done
        if not await self.store.add(LEDGER, key, entry):
            return False, None
        return True, await self.store.get(CLAIMS, key)

    async def _take_over(self, key: str, current: Any) -> DeliveryTicket | None:
        """A repeat of a delivery already recorded: take it over when its owner is gone (or it is our own
        write that timed out); None while its owner works on it."""
        ours = isinstance(current, dict) and current.get("owner") == self._unconfirmed.get(key)
        if not ours and (key in self._held or not self._lapsed(current)):
            return None  # in hand here (alive, whatever its lease says) or elsewhere
        self._unconfirmed.pop(key, None)
        return await self._claim(key, current)

    def _lapsed(self, entry: Any) -> bool:
        if not isinstance(entry, dict) or not isinstance(entry.get("owner"), str):
            return False
        return float(entry.get("lease_until", 0)) < time.time() or _owner_is_dead(entry["owner"])

    async def _claim(self, key: str, current: dict[str, Any]) -> DeliveryTicket | None:
        entry = dict(current)
        entry.update(
            owner=unique_token(),
            lease_until=time.time() + self.options.lease,
            attempts=int(current.get("attempts", 1)) + 1,
        )
        if not await self.store.replace(LEDGER, key, entry, match={"owner": current["owner"]}):
            return None
        logger.warning("ledger: took over the unfinished delivery %s (status %s)", key, current.get("status"))
        return self._hold(key, entry)

    def _hold(self, key: str, entry: dict[str, Any]) -> DeliveryTicket:
        ticket = DeliveryTicket(self, key, entry)
        self._held[key] = ticket
        return ticket

    async def _write(self, ticket: DeliveryTicket, **changes: Any) -> bool:
        entry = {**ticket.entry, **changes}
        if not await self.store.replace(LEDGER, ticket.key, entry, match={"owner": ticket.owner}):
            ticket.lost = True
            self._held.pop(ticket.key, None)
            logger.warning("ledger: lost the lease on %s; another process took it over", ticket.key)
            return False
        ticket.entry = entry
        return True

    async def handle(self, ticket: DeliveryTicket, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` for `ticket`: finished when it returns, kept for a resume when cancelled.

        No "running" mark is written: a resume treats an accepted entry and a running one alike (it
        runs the turn again; only `replying` changes that), so the write would only cost a round trip.
        """
        token = _CURRENT.set(ticket)
        try:
            await work()
        except asyncio.CancelledError:
            # shutdown cut the turn short: leave the entry; this process at its next start (or another one,
            # once the lease lapses) resumes it
            self._held.pop(ticket.key, None)
            raise
        except StateUnavailableError as error:
            # the state store went away mid-turn: leave the entry; once its lease lapses it is run again
            self._held.pop(ticket.key, None)
            logger.warning("ledger: %s was cut short (%s); it is resumed once the state store is back", ticket.key,
                           error)  # fmt: skip
        except Exception:
            logger.exception("ledger: handling %s failed; not retrying it", ticket.key)
            await self.finish(ticket)
        else:
            await self.finish(ticket)
        finally:
            _CURRENT.reset(token)

    async def finish(self, ticket: DeliveryTicket) -> None:
        """The delivery is answered: mark it done (repeats are dropped) and delete its entry.

        Retried while the store is unreachable (the lease is renewed meanwhile), since an entry
        left behind would be resumed and answered twice.
        """
        delay = 0.05
        deadline = time.monotonic() + self.options.lease * 2
        while not ticket.lost:
            try:
                await self._settle(ticket)
                break
            except HostingError:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        self._held.pop(ticket.key, None)

    async def _settle(self, ticket: DeliveryTicket) -> None:
        """Write the done mark, then delete the entry (one atomic step where the store can)."""
        done, owned = {"status": "done"}, {"owner": ticket.owner}
        set_then_discard = getattr(self.store, "set_then_discard", None)
        if set_then_discard is not None:
            await set_then_discard(CLAIMS, ticket.key, done, discard=(LEDGER, ticket.key), match=owned,
                                   ttl=self.options.done_ttl)  # fmt: skip
            return
        await self.store.set(CLAIMS, ticket.key, done, ttl=self.options.done_ttl)
        await self.store.discard(LEDGER, ticket.key, match=owned)

    async def renew(self) -> None:
        """Extend the lease of every delivery this process is working on, but those written in the last
        sixth of a lease (each still has half a lease left at the next renewal).

        Yields to the event loop every `RENEW_BATCH` entries: a backlog of thousands of queued
        deliveries must not stall the acknowledgements of new ones.
        """
        due = time.time() + self.options.lease * 5 / 6
        for count, ticket in enumerate(list(self._held.values()), 1):
            if float(ticket.entry.get("lease_until", 0)) < due:
                with contextlib.suppress(HostingError):
                    await self._write(ticket, lease_until=time.time() + self.options.lease)
            if count % RENEW_BATCH == 0:
                await asyncio.sleep(0)

    async def recover(self) -> int:
        """Resume every delivery whose owner is gone; returns how many were taken over."""
        taken = 0
        for key in await self.store.keys(LEDGER):
            if key in self._held:
                continue
            current = await self.store.get(LEDGER, key)
            if not isinstance(current, dict) or not self._lapsed(current):
                continue
            if current.get("channel") not in self._resumers:
                continue
            ticket = await self._claim(key, current)
            if ticket is not None:
                taken += 1
                self._start(self._resume(ticket, previous_status=str(current.get("status"))))
        return taken

    def _start(self, work: Any) -> None:
        if self._spawn is not None:
            self._spawn(work)
        else:
            asyncio.get_running_loop().create_task(work)

    async def _resume(self, ticket: DeliveryTicket, *, previous_status: str) -> None:
        resumer = self._resumers[str(ticket.entry["channel"])]
        payload = ticket.entry["payload"]
        if previous_status == REPLYING or int(ticket.entry.get("attempts", 1)) > self.options.max_attempts:
            # the answer may be partly out (or the delivery keeps killing its handler): apologise once, at most
            try:
                if await self._write(ticket, status=REPLYING):
                    await self.finish(ticket)
                    await resumer.interrupted(payload)
            except Exception:
                logger.exception("ledger: could not send the interruption notice for %s", ticket.key)
            return
        await self.handle(ticket, lambda: resumer.resume(payload))

    async def start(self, spawn: Callable[[Any], Any]) -> None:
        """Resume what earlier lives left, then keep leases and recovery going until `stop`."""
        self._spawn = spawn
        try:
            await self.recover()
        except HostingError as error:
            logger.warning("ledger: could not look for unfinished deliveries at start: %s", error)
        self._keeper = asyncio.get_running_loop().create_task(self._keep(), name="turn-ledger")

    async def _keep(self) -> None:
        interval = self.options.recovery_interval or self.options.lease / 2
        renew_every = self.options.lease / 3
        next_recovery = time.monotonic() + interval
        while True:
            await asyncio.sleep(min(renew_every, interval))
            try:
                if not getattr(self.store, "process_local", False):
                    # a process-local store's leases are read by no other process, and this one knows
                    # what it holds: rewriting every queued delivery's entry would be work for nothing
                    await self.renew()
                if time.monotonic() >= next_recovery:
                    next_recovery = time.monotonic() + interval
                    await self.recover()
            except HostingError as error:
                logger.debug("ledger: upkeep failed: %s", error)
            except Exception:
                logger.exception("ledger: upkeep failed")

    async def stop(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
