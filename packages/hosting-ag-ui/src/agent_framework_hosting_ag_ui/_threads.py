"""Per-thread records in the host's state: the message ids the thread has seen, and its shared state."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agent_framework_hosting import StateStore

THREADS = "ag_ui_threads"
MAX_SEEN = 2000
DEFAULT_THREAD_TTL = 30 * 24 * 3600.0


@dataclass
class ThreadRecord:
    seen: list[str] = field(default_factory=list)
    state: Any = None
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)

    def remember(self, ids: list[str]) -> None:
        known = set(self.seen)
        self.seen.extend(item for item in ids if item not in known)
        del self.seen[:-MAX_SEEN]


class Threads:
    """Thread records by thread id; values are plain JSON copies."""

    def __init__(self, state: StateStore, *, ttl: float | None = DEFAULT_THREAD_TTL) -> None:
        self.state = state
        self.ttl = ttl

    async def get(self, thread_id: str) -> ThreadRecord:
        value = await self.state.get(THREADS, thread_id)
        if not isinstance(value, dict):
            return ThreadRecord()
        value = json.loads(json.dumps(value))
        approvals = value.get("approvals")
        return ThreadRecord(
            seen=[str(item) for item in value.get("seen", [])],
            state=value.get("state"),
            approvals=approvals if isinstance(approvals, dict) else {},
        )

    async def save(self, thread_id: str, record: ThreadRecord) -> None:
        value = json.loads(json.dumps({"seen": record.seen, "state": record.state, "approvals": record.approvals}))
        await self.state.set(THREADS, thread_id, value, ttl=self.ttl)
