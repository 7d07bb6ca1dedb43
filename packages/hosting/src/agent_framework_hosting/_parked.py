"""Memory-mode sessions: live objects while in use, compact JSON while idle, so idle conversations cost little."""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable

from agent_framework import AgentSession

logger = logging.getLogger("agent_framework.hosting")

DEFAULT_WARM_SESSIONS = 256
ALL_WARM_UP_TO = 1000


def warm_sessions(max_sessions: int) -> int:
    """How many memory-mode sessions stay live objects for a given `max_sessions`.

    Freezing costs about as much as a turn's own host work, once per conversation, and 1,000 live
    sessions take about 5 MB: up to that many, all stay live. A larger cap keeps a tenth live, so an
    idle conversation stays near 1.5 KB however many are kept.
    """
    return max_sessions if max_sessions <= ALL_WARM_UP_TO else max_sessions // 10


class ParkedSession:
    """One memory-mode session: the live `AgentSession`, or its `to_dict()` as JSON bytes once frozen."""

    __slots__ = ("_frozen", "_session")

    def __init__(self, session: AgentSession) -> None:
        self._session: AgentSession | None = session
        self._frozen: bytes | None = None

    def thaw(self) -> AgentSession:
        """The live session (rebuilt from JSON when it was frozen)."""
        if self._session is None:
            assert self._frozen is not None
            self._session = AgentSession.from_dict(json.loads(self._frozen))
            self._frozen = None
        return self._session

    def holds(self, session: AgentSession) -> bool:
        return self._session is session

    def freeze(self) -> None:
        """Keep the session as JSON only; one whose state is not JSON stays live."""
        session = self._session
        if session is None:
            return
        try:
            self._frozen = json.dumps(session.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()
        except (TypeError, ValueError):
            logger.debug("session %s holds state that is not JSON; it stays live", session.session_id)
            return
        self._session = None


class WarmSessions:
    """The parked sessions used last stay live; older ones are frozen as they drop off the end.

    `kept(session_id, parked)` says whether the store still holds `parked`: one it has already
    forgotten (its LRU is full) is dropped instead of frozen, which would be work for nothing.
    """

    def __init__(
        self, size: int = DEFAULT_WARM_SESSIONS, kept: Callable[[str, ParkedSession], bool] | None = None
    ) -> None:
        self.size = size
        self._kept = kept
        self._warm: OrderedDict[str, ParkedSession] = OrderedDict()

    def touch(self, session_id: str, parked: ParkedSession) -> None:
        self._warm[session_id] = parked
        self._warm.move_to_end(session_id)
        while len(self._warm) > self.size:
            cold_id, cold = self._warm.popitem(last=False)
            if self._kept is None or self._kept(cold_id, cold):
                cold.freeze()

    def get(self, session_id: str) -> ParkedSession | None:
        return self._warm.get(session_id)

    def drop(self, session_id: str) -> None:
        self._warm.pop(session_id, None)
