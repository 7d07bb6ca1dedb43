"""Resolving an isolation key to an `AgentSession`, and keeping it between turns."""

from __future__ import annotations

import json
import uuid
from typing import Any

from agent_framework import AgentSession

from ._state import StateStore

SESSIONS = "sessions"
ALIASES = "aliases"


class SessionManager:
    """Maps isolation keys to session ids (through reset aliases) and sessions to the store."""

    def __init__(self, target: Any, store: StateStore, *, ttl: float | None = None) -> None:
        self._target = target
        self._store = store
        self._ttl = ttl

    @property
    def supported(self) -> bool:
        return callable(getattr(self._target, "create_session", None))

    async def session_id(self, isolation_key: str) -> str:
        alias = await self._store.get(ALIASES, isolation_key)
        return alias if isinstance(alias, str) and alias else isolation_key

    async def load(self, isolation_key: str) -> AgentSession:
        session_id = await self.session_id(isolation_key)
        stored = await self._store.get(SESSIONS, session_id)
        if stored is None:
            session: AgentSession = self._target.create_session(session_id=session_id)
            if self._store.keeps_objects:
                await self._store.set(SESSIONS, session_id, session, ttl=self._ttl)
            return session
        if self._store.keeps_objects:
            return stored  # type: ignore[no-any-return]
        return AgentSession.from_dict(stored)

    async def save(self, session: AgentSession) -> None:
        value: Any = session if self._store.keeps_objects else session.to_dict()
        await self._store.set(SESSIONS, session.session_id, value, ttl=self._ttl)

    async def copy(self, source_key: str, target_key: str) -> bool:
        """Give `target_key` a copy of the session `source_key` uses; False when the source has none."""
        source_id, target_id = await self.session_id(source_key), await self.session_id(target_key)
        stored = await self._store.get(SESSIONS, source_id)
        if stored is None:
            return False
        if source_id == target_id:
            return True
        data = stored.to_dict() if isinstance(stored, AgentSession) else json.loads(json.dumps(stored))
        data["session_id"] = target_id
        value: Any = AgentSession.from_dict(data) if self._store.keeps_objects else data
        await self._store.set(SESSIONS, target_id, value, ttl=self._ttl)
        return True

    async def delete(self, isolation_key: str) -> None:
        """Forget the session `isolation_key` currently uses."""
        await self._store.delete(SESSIONS, await self.session_id(isolation_key))

    async def reset(self, isolation_key: str) -> str:
        """Point `isolation_key` at a fresh session id; the old session stays stored."""
        new_id = f"{isolation_key}#{uuid.uuid4().hex[:8]}"
        await self._store.set(ALIASES, isolation_key, new_id)
        return new_id
