"""The running-turn record: a turn that never got going is not reported as running."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from agent_framework_hosting._control import RUNNING, RunningTurns


class StallingStore:
    """A shared store whose writes never finish (a stalled server); discards go through."""

    shared = True

    def __init__(self) -> None:
        self.writing = asyncio.Event()
        self.discarded: list[tuple[str, str]] = []

    async def set(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> None:
        self.writing.set()
        await asyncio.Event().wait()

    async def discard(self, namespace: str, key: str, *, match: Mapping[str, str]) -> bool:
        self.discarded.append((namespace, key))
        return True

    async def get(self, namespace: str, key: str) -> Any:
        return None


async def test_a_turn_cancelled_while_recording_itself_is_not_left_running() -> None:
    store = StallingStore()
    turns = RunningTurns(store)  # type: ignore[arg-type]
    entering = asyncio.ensure_future(turns.running("chat:1").__aenter__())
    await asyncio.wait_for(store.writing.wait(), timeout=5)
    entering.cancel()
    with pytest.raises(asyncio.CancelledError):
        await entering
    assert "chat:1" not in turns
    assert store.discarded == [(RUNNING, "chat:1")], "whatever the stalled write may still store is cleared"
    await turns.aclose()
