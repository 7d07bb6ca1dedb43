"""The durable outbox: replies a platform would not take, kept and retried, then dead letters.

An item lives in the ``outbox`` namespace under its idempotency key (so the
same reply is never queued twice) with the channel, a JSON destination and
payload the channel's `Resender` understands, the attempt count and when to try
next (never before the platform's ``Retry-After``). A sender takes an item by
compare-and-set on its ``owner`` with a lease, so two processes never send the
same item at once. After `DeliveryOptions.outbox_attempts` failures, or a
permanent refusal (a 4xx other than 429), it moves to ``dead_letters``, where
an operator lists, retries (back into the outbox) or drops it:
``agent-framework-host dead-letters list|retry|drop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from typing import Any, Protocol

from ._errors import HostingError, PlatformError
from ._ledger import DeliveryOptions
from ._metrics import record_dead_letter
from ._state import StateStore

logger = logging.getLogger("agent_framework.hosting")

OUTBOX = "outbox"
DEAD_LETTERS = "dead_letters"
FREE = "-"


class DeliveryFailed(PlatformError):
    """A channel could not deliver a reply; `retry_after` (seconds) from the platform, `permanent` for a refusal."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Resender(Protocol):
    """What a channel gives the outbox to send a kept reply again; raises `DeliveryFailed` on failure.

    It may record progress (e.g. parts already sent) in `payload` before raising; that is kept.
    """

    async def resend(self, destination: Any, payload: Any) -> None: ...


class Outbox:
    """Keeps undeliverable replies and retries them in the background."""

    def __init__(self, store: StateStore, options: DeliveryOptions | None = None) -> None:
        self.store = store
        self.options = options or DeliveryOptions()
        self._resenders: dict[str, Resender] = {}
        self._worker: asyncio.Task[None] | None = None

    def register(self, channel: str, resender: Resender) -> None:
        self._resenders[channel] = resender

    async def keep(
        self, channel: str, destination: Any, payload: Any, *, key: str, error: BaseException | None = None
    ) -> bool:
        """Queue a reply that failed to go out; False when `key` is queued already."""
        now = time.time()
        item = {
            "id": key,
            "channel": channel,
            "destination": destination,
            "payload": payload,
            "attempts": 1,
            "created_at": now,
            "next_at": now + self._delay(1, error),
            "last_error": str(error) if error is not None else None,
            "owner": FREE,
            "lease_until": 0,
        }
        if isinstance(error, DeliveryFailed) and error.permanent:
            await self._bury(item)
            return True
        stored = await self.store.add(OUTBOX, key, item)
        if stored:
            logger.warning("outbox: kept a reply for %s to retry (%s)", channel, item["last_error"])
        return stored

    def _delay(self, attempts: int, error: BaseException | None) -> float:
        backoff = float(min(self.options.outbox_backoff * 2 ** (attempts - 1), self.options.outbox_max_delay))
        retry_after = getattr(error, "retry_after", None)
        return max(backoff, float(retry_after)) if isinstance(retry_after, (int, float)) else backoff

    async def _bury(self, item: dict[str, Any]) -> None:
        letter = {**item, "owner": FREE, "dead_at": time.time()}
        await self.store.set(DEAD_LETTERS, item["id"], letter)
        await self.store.delete(OUTBOX, item["id"])
        record_dead_letter(str(item["channel"]))
        logger.error("outbox: gave up on a reply for %s after %d attempt(s): %s", item["channel"], item["attempts"],
                     item["last_error"])  # fmt: skip

    async def flush(self) -> int:
        """Try every item that is due and free; returns how many were delivered."""
        delivered = 0
        for key in await self.store.keys(OUTBOX):
            item = await self.store.get(OUTBOX, key)
            now = time.time()
            if not isinstance(item, dict) or item.get("channel") not in self._resenders:
                continue
            if float(item.get("next_at", 0)) > now or float(item.get("lease_until", 0)) > now:
                continue
            mine = {**item, "owner": secrets.token_hex(8), "lease_until": now + self.options.lease}
            if not await self.store.replace(OUTBOX, key, mine, match={"owner": str(item.get("owner", FREE))}):
                continue  # another process took it
            delivered += await self._attempt(mine)
        return delivered

    async def _attempt(self, item: dict[str, Any]) -> int:
        key = item["id"]
        try:
            await self._resenders[item["channel"]].resend(item["destination"], item["payload"])
        except Exception as error:
            attempts = int(item["attempts"]) + 1
            failed = {**item, "attempts": attempts, "last_error": str(error), "owner": FREE, "lease_until": 0,
                      "next_at": time.time() + self._delay(attempts, error)}  # fmt: skip
            if attempts >= self.options.outbox_attempts or (isinstance(error, DeliveryFailed) and error.permanent):
                await self._bury(failed)
            else:
                await self.store.replace(OUTBOX, key, failed, match={"owner": item["owner"]})
            return 0
        await self.store.discard(OUTBOX, key, match={"owner": item["owner"]})
        logger.info("outbox: delivered a kept reply for %s after %d attempt(s)", item["channel"], item["attempts"])
        return 1

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="outbox")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.options.outbox_interval)
            try:
                await self.flush()
            except HostingError as error:
                logger.debug("outbox: flush failed: %s", error)
            except Exception:
                logger.exception("outbox: flush failed")

    async def stop(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker


class DeadLetters:
    """Replies the outbox gave up on, for an operator: list, retry (back into the outbox) or drop.

    Works on the state store alone (no channel needed): a retried letter is sent by a running host.
    """

    def __init__(self, store: StateStore) -> None:
        self.store = store

    async def list(self) -> list[dict[str, Any]]:
        letters = [await self.store.get(DEAD_LETTERS, key) for key in await self.store.keys(DEAD_LETTERS)]
        found = [letter for letter in letters if isinstance(letter, dict)]
        return sorted(found, key=lambda letter: float(letter.get("dead_at", 0)))

    async def retry(self, letter_id: str) -> bool:
        letter = await self.store.get(DEAD_LETTERS, letter_id)
        if not isinstance(letter, dict):
            return False
        item = {**letter, "attempts": 0, "next_at": 0, "owner": FREE, "lease_until": 0}
        item.pop("dead_at", None)
        await self.store.set(OUTBOX, letter_id, item)
        await self.store.delete(DEAD_LETTERS, letter_id)
        return True

    async def drop(self, letter_id: str) -> bool:
        return await self.store.delete(DEAD_LETTERS, letter_id)
