"""Long polling: a `getUpdates` loop that confirms an update only after it was handled."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from ._api import BotApi, TelegramApiError
from ._parse import update_id_of

logger = logging.getLogger("agent_framework.hosting.telegram")
FAILURES_BEFORE_DOWN = 3
Submit = Callable[[dict[str, Any], Callable[[], None]], None]


@runtime_checkable
class PollingLease(Protocol):
    """Decides whether this process is the one that polls (one poller per bot token).

    `acquire` is called before every `getUpdates`; return False to stand by (the
    poller asks again a second later; `acquire` may also wait itself). A
    Redis-backed lease (SET NX with an expiry, renewed here) lets several
    processes share one bot with exactly one of them polling.
    """

    async def acquire(self) -> bool: ...

    async def release(self) -> None: ...


class AlwaysLeader:
    """The default lease: this process always polls."""

    async def acquire(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class Poller:
    """Fetches updates and hands each to `submit` with a callback to call once it is handled.

    Telegram confirms every update below the ``offset`` of the next request, so
    the offset sent is the lowest update still being handled (or one past the
    newest when none is). While updates are in flight it asks again at most
    every `busy_interval` seconds, skipping the ones it already has.
    """

    def __init__(
        self,
        api: BotApi,
        submit: Submit,
        *,
        timeout: int,
        allowed_updates: Sequence[str],
        lease: PollingLease,
        busy_interval: float = 1.0,
        standby_interval: float = 1.0,
        max_in_flight: int = 100,
        on_health: Callable[[str | None], None] | None = None,
    ) -> None:
        self.api = api
        self.submit = submit
        self.timeout = timeout
        self.allowed_updates = list(allowed_updates)
        self.lease = lease
        self.busy_interval = busy_interval
        self.standby_interval = standby_interval
        self.max_in_flight = max_in_flight
        self.on_health = on_health
        self._failures = 0
        self._in_flight: set[int] = set()
        self._handled: set[int] = set()
        self._next: int | None = None
        self._confirmed: int | None = None
        self._changed = asyncio.Event()

    @property
    def offset(self) -> int | None:
        """The offset that confirms exactly the updates handled so far."""
        return min(self._in_flight) if self._in_flight else self._next

    async def run(self) -> None:
        backoff = 1.0
        while True:
            if not await self._is_leader():
                await asyncio.sleep(self.standby_interval)
                continue
            if self._in_flight:
                await self._wait_for_progress(
                    None if len(self._in_flight) >= self.max_in_flight else self.busy_interval
                )
                if len(self._in_flight) >= self.max_in_flight:
                    continue
            try:
                updates = await self._fetch(0 if self._in_flight else self.timeout)
            except TelegramApiError as error:
                delay = error.retry_after or backoff
                logger.warning("telegram: getUpdates failed (%s); retrying in %.1fs", error, delay)
                self._failed(error)
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            self._recovered()
            self._accept(updates)

    def _failed(self, error: TelegramApiError) -> None:
        """Readiness turns 503 at once for a rejected token, else after a few failures in a row."""
        self._failures += 1
        if self.on_health is not None and (error.error_code in (401, 404) or self._failures >= FAILURES_BEFORE_DOWN):
            self.on_health(f"polling failed {self._failures} time(s) in a row: {error}")

    def _recovered(self) -> None:
        if self._failures and self.on_health is not None:
            self.on_health(None)
        self._failures = 0

    async def confirm(self) -> None:
        """Tell Telegram about updates handled since the last request (at shutdown)."""
        offset = self.offset
        if offset is None or offset == self._confirmed:
            return
        with contextlib.suppress(TelegramApiError):
            await self.api.call("getUpdates", {"offset": offset, "limit": 1, "timeout": 0}, attempts=1, timeout=10.0)
            self._confirmed = offset

    async def _is_leader(self) -> bool:
        try:
            return bool(await self.lease.acquire())
        except Exception:
            logger.exception("telegram: the polling lease failed; standing by")
            return False

    async def _wait_for_progress(self, timeout: float | None) -> None:
        self._changed.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    async def _fetch(self, timeout: int) -> list[Any]:
        payload: dict[str, Any] = {"timeout": timeout, "allowed_updates": self.allowed_updates, "limit": 100}
        offset = self.offset
        if offset is not None:
            payload["offset"] = offset
        result = await self.api.call("getUpdates", payload, attempts=1, timeout=timeout + 15.0)
        self._confirmed = offset
        return result if isinstance(result, list) else []

    def _accept(self, updates: list[Any]) -> None:
        for update in updates:
            update_id = update_id_of(update)
            if update_id is None or update_id in self._in_flight or update_id in self._handled:
                continue
            self._in_flight.add(update_id)
            self._next = update_id + 1 if self._next is None else max(self._next, update_id + 1)
            self.submit(update, functools.partial(self._finish, update_id))

    def _finish(self, update_id: int) -> None:
        self._in_flight.discard(update_id)
        self._handled.add(update_id)
        offset = self.offset
        if offset is not None:
            self._handled = {seen for seen in self._handled if seen >= offset}
        self._changed.set()
