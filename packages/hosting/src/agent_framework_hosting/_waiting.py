"""Delivered messages waiting for a conversation's running turn, so `host.deliver` never waits behind it.

A delivery appends to the history at once when the conversation is idle. While a
turn runs, the message goes to a short list in the state store instead (its own
small lock, never the turn's) and is merged into the history under the turn lock:
by a merge that waits for the running turn to end, or by the next turn to load the
session, whichever comes first. Entries leave the list only after the session that
holds them is saved, and a merge skips messages the history already has (by their
id), so a crash between the two loses nothing and adds nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent_framework import Message

from ._history import append_messages, proactive_id, proactive_ids
from ._state import StateStore

WAITING = "delivered-waiting"
LOCK_WAIT = 5.0


class WaitingDeliveries:
    """Per conversation: delivered messages not yet in its history (in delivery order)."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        # A store that keeps objects lives in this process only: what waits there was added here, so a
        # turn need not read the store to know nothing waits.
        self._local_only = state.keeps_objects
        self._added: set[str] = set()

    async def add(self, key: str, messages: Sequence[Message]) -> None:
        async with self.state.lock(f"{WAITING}:{key}", wait=LOCK_WAIT):
            waiting = await self.state.get(WAITING, key) or []
            added = [{"id": proactive_id(message), "message": message.to_dict()} for message in messages]
            await self.state.set(WAITING, key, [*waiting, *added])
            self._added.add(key)

    async def merge(self, key: str, target: Any, session: Any) -> list[str]:
        """Append the waiting messages the session lacks to its history (the caller holds the turn lock).

        Returns the delivery ids to `settle` once the session is saved.
        """
        if self._local_only and key not in self._added:
            return []
        waiting = await self.state.get(WAITING, key)
        if not waiting:
            return []
        present = proactive_ids(target, session)
        fresh = [Message.from_dict(item["message"]) for item in waiting if item["id"] not in present]
        append_messages(target, session, fresh)
        return [item["id"] for item in waiting]

    async def settle(self, key: str, ids: Sequence[str]) -> None:
        """Drop the merged messages `ids` from the list (the session that holds them is saved)."""
        merged = set(ids)
        async with self.state.lock(f"{WAITING}:{key}", wait=LOCK_WAIT):
            waiting = await self.state.get(WAITING, key) or []
            left = [item for item in waiting if item["id"] not in merged]
            if left:
                await self.state.set(WAITING, key, left)
            else:
                await self.state.delete(WAITING, key)
                self._added.discard(key)
