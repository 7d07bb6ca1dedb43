"""Per-thread records in the host's state: the thread's shared state, its pending approvals and the ids it has seen.

The ids a thread has seen grow with the conversation, so they are not part of the record a run loads
and saves: they live in an append-only list in the state store, and each process keeps the set it
has read, reading only what other processes appended since. A run costs the same on the thousandth
turn as on the first.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from agent_framework_hosting import StateStore

THREADS = "ag_ui_threads"
SEEN = "ag_ui_seen"
MAX_SEEN = 2000
"""Ids kept per thread; the list is cut back to this many once it holds twice as many."""
CACHED_THREADS = 1024
DEFAULT_THREAD_TTL = 30 * 24 * 3600.0


@dataclass
class _Seen:
    """One process's copy of a thread's seen list: its ids, how many the list held, and its generation."""

    ids: set[str]
    count: int
    generation: int


@dataclass
class ThreadRecord:
    state: Any = None
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)
    known: _Seen = field(default_factory=lambda: _Seen(set(), 0, 0))
    added: dict[str, None] = field(default_factory=dict)
    """Ids first seen in this run, in order; written when the record is saved."""

    def has_seen(self, item: str) -> bool:
        return item in self.added or item in self.known.ids

    def remember(self, ids: Iterable[str]) -> None:
        for item in ids:
            if item not in self.known.ids:
                self.added[item] = None


class Threads:
    """Thread records by thread id. Callers hold the thread's lock from `get` to `save`."""

    def __init__(self, state: StateStore, *, ttl: float | None = DEFAULT_THREAD_TTL) -> None:
        self.state = state
        self.ttl = ttl
        self._cache: OrderedDict[str, _Seen] = OrderedDict()

    async def get(self, thread_id: str) -> ThreadRecord:
        value = await self.state.get(THREADS, thread_id)
        if not isinstance(value, dict):
            value = {}
        approvals = value.get("approvals")
        record = ThreadRecord(
            state=_copy(value.get("state")),
            approvals=_copy(approvals) if isinstance(approvals, dict) else {},
        )
        seen = value.get("seen")
        if isinstance(seen, list):  # written before the ids had a list of their own
            record.remember(str(item) for item in seen)
        else:
            record.known = await self._known(thread_id, seen if isinstance(seen, dict) else {})
        return record

    async def approvals(self, thread_id: str) -> dict[str, Any]:
        """The approvals the thread waits for (read without its lock: a check before a run starts)."""
        value = await self.state.get(THREADS, thread_id)
        approvals = value.get("approvals") if isinstance(value, dict) else None
        return dict(approvals) if isinstance(approvals, dict) else {}

    async def _known(self, thread_id: str, stored: dict[str, Any]) -> _Seen:
        """The ids the list holds, read in full only when this process has no copy of this generation."""
        count, generation = _int(stored.get("count")), _int(stored.get("generation"))
        cached = self._cache.get(thread_id)
        if cached is None or cached.generation != generation or cached.count > count:
            items = await self.state.items(SEEN, thread_id, 0, count) if count else []
            cached = _Seen({str(item) for item in items}, count, generation)
        elif cached.count < count:
            cached.ids.update(str(item) for item in await self.state.items(SEEN, thread_id, cached.count, count))
            cached.count = count
        self._keep(thread_id, cached)
        return cached

    async def save(self, thread_id: str, record: ThreadRecord) -> None:
        known = record.known
        added = list(record.added)
        if added:
            known = await self._append(thread_id, known, added)
            record.known, record.added = known, {}
        value = {
            "state": record.state,
            "approvals": record.approvals,
            "seen": {"count": known.count, "generation": known.generation},
        }
        await self.state.set(THREADS, thread_id, _copy(value), ttl=self.ttl)

    async def _append(self, thread_id: str, known: _Seen, added: list[str]) -> _Seen:
        if known.count + len(added) > 2 * MAX_SEEN:
            return await self._cut(thread_id, known, added)
        if not await self.state.append(SEEN, thread_id, added, at=known.count, ttl=self.ttl):
            # The list is not as the record says (a run that stopped between its two writes, or an
            # expired list): read it as it is and append after it.
            items = [str(item) for item in await self.state.items(SEEN, thread_id)]
            known = _Seen({*known.ids, *items}, len(items), known.generation)
            if not await self.state.append(SEEN, thread_id, added, at=len(items), ttl=self.ttl):
                raise RuntimeError(f"the seen ids of AG-UI thread {thread_id!r} changed while its lock was held")
        known.ids.update(added)
        known.count += len(added)
        self._keep(thread_id, known)
        return known

    async def _cut(self, thread_id: str, known: _Seen, added: list[str]) -> _Seen:
        """Start a new generation of the list holding the last `MAX_SEEN` ids (once every `MAX_SEEN` ids)."""
        items = [str(item) for item in await self.state.items(SEEN, thread_id)]
        kept = list(dict.fromkeys([*items, *added]))[-MAX_SEEN:]
        await self.state.delete(SEEN, thread_id)
        await self.state.append(SEEN, thread_id, kept, at=0, ttl=self.ttl)
        fresh = _Seen(set(kept), len(kept), known.generation + 1)
        self._keep(thread_id, fresh)
        return fresh

    def _keep(self, thread_id: str, seen: _Seen) -> None:
        self._cache[thread_id] = seen
        self._cache.move_to_end(thread_id)
        while len(self._cache) > CACHED_THREADS:
            self._cache.popitem(last=False)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _copy(value: Any) -> Any:
    """A plain JSON copy: what the run changes is never the object a memory store holds."""
    return json.loads(json.dumps(value))
