"""A store's subscriptions end when cancelled or closed, even when the driver fails while closing one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from agent_framework_hosting._remote import Listeners


class FailingOnClose:
    """A subscription that hears nothing and whose connection raises as it is closed (a broken socket)."""

    def __init__(self) -> None:
        self.made = 0

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str | None]]:
        self.made += 1
        try:
            yield self._messages()
        finally:
            raise ConnectionResetError("the connection broke while closing")

    @staticmethod
    async def _messages() -> AsyncIterator[str | None]:
        yield None
        await asyncio.Event().wait()


async def _heard(message: str | None) -> None:
    return None


@pytest.mark.parametrize("how", ["cancel", "aclose"])
async def test_a_subscription_whose_close_fails_still_ends(how: str) -> None:
    driver = FailingOnClose()
    listeners = Listeners(driver.subscribe, (OSError,))
    task = listeners.start("stops", _heard)
    await asyncio.sleep(0.05)
    if how == "cancel":
        task.cancel()
    else:
        await listeners.aclose()
    await asyncio.wait({task}, timeout=2)
    assert task.done() and task.cancelled()
    assert driver.made == 1, "it did not subscribe again"
