"""Resolving an isolation key to an `AgentSession`, and keeping it between turns.

A durable store keeps a session as a small record (its state without the
messages, plus where the messages are) and its messages in append-only lists:
a turn appends only its new messages, and a copy (a fork) shares its source's
lists, diverging into a list of its own at its first append. Each process keeps
the sessions it used last live, so a turn reads only what other processes
appended since. In memory, sessions stay live objects while warm and are frozen
to JSON when idle (`ParkedSession`).
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from agent_framework import AgentSession, InMemoryHistoryProvider, Message

from ._marks import WatchedProperties, marks_of, watch
from ._parked import DEFAULT_WARM_SESSIONS, ParkedSession, WarmSessions
from ._state import StateStore

logger = logging.getLogger("agent_framework.hosting")

SESSIONS = "sessions"
ALIASES = "aliases"
HISTORY = "history"
RECORD_VERSION = 2
DEFAULT_LIVE_SESSIONS = 1000

# A run of a session's messages: [list key, position of the list's first item, end position].
Segment = list[Any]
#: A stored session as plain JSON, for a record that points into history rather than copying it (see `reference`).
SessionReference = Any
DEFAULT_SOURCE = InMemoryHistoryProvider.DEFAULT_SOURCE_ID


@dataclass
class _Live:
    """A session as this process last loaded or saved it.

    `marks` are the compaction marks stored with `loaded`, which still has them while
    `WatchedProperties.changes` is `seen`.
    """

    session: AgentSession
    logs: dict[str, list[Segment]] = field(default_factory=dict)
    loaded: dict[str, list[Message]] = field(default_factory=dict)
    marks: dict[str, list[Any]] = field(default_factory=dict)
    seen: int = -1


def _message_lists(session: AgentSession) -> Iterator[tuple[str, list[Message]]]:
    """The history providers' message lists in the session's state, by provider."""
    for source, value in session.state.items():
        if isinstance(value, dict) and isinstance(value.get("messages"), list):
            yield source, value["messages"]


@contextmanager
def _messages_hidden(session: AgentSession) -> Iterator[None]:
    """Empty the message lists for a moment, so `to_dict()` costs the same at any length."""
    hidden = list(_message_lists(session))
    for source, _ in hidden:
        session.state[source]["messages"] = []
    try:
        yield
    finally:
        for source, messages in hidden:
            session.state[source]["messages"] = messages


def _list_ttl(ttl: float | None) -> float | None:
    """History lists outlive their session record a little, so a live record never points at expired messages."""
    return None if ttl is None else ttl * 1.1 + 1.0


def _end(segments: list[Segment]) -> int:
    return int(segments[-1][2]) if segments else 0


def _extends(new: list[Segment], old: list[Segment]) -> bool:
    """Whether `new` holds `old`'s messages and maybe more after them."""
    if not old or len(new) < len(old) or new[: len(old) - 1] != old[:-1]:
        return False
    last, same = old[-1], new[len(old) - 1]
    return bool(same[0] == last[0] and same[1] == last[1] and same[2] >= last[2])


def _plain(logs: dict[str, Any]) -> dict[str, Any]:
    """A stored session (messages hidden, no id) holding nothing but the message lists `logs` names."""
    state: dict[str, Any] = {source: {"messages": []} for source in logs}
    return {"type": "session", "service_session_id": None, "state": state}


def _reference(record: dict[str, Any]) -> SessionReference:
    """A session record without its id, its defaults left out: the segments alone for a plain default history."""
    logs, session = record["logs"], dict(record["session"])
    session.pop("session_id", None)
    if session == _plain(logs):
        return logs[DEFAULT_SOURCE] if list(logs) == [DEFAULT_SOURCE] else {"logs": logs}
    return {"session": session, "logs": logs}


def _record(reference: SessionReference, session_id: str) -> dict[str, Any]:
    """The session record `reference` stands for, as the session `session_id`."""
    logs = {DEFAULT_SOURCE: reference} if isinstance(reference, list) else reference["logs"]
    session = reference.get("session") if isinstance(reference, dict) else None
    if session is None:
        session = _plain(logs)
    return {"v": RECORD_VERSION, "session": {**session, "session_id": session_id}, "logs": logs}


def _record_of(live: _Live) -> dict[str, Any]:
    """The session record of a session as this process last saved it (the session, its messages by list)."""
    with _messages_hidden(live.session):
        data = live.session.to_dict()
    return {"v": RECORD_VERSION, "session": data, "logs": live.logs}


def _resolve(ttl: float | None, default: float | None) -> float | None:
    """A caller's ttl for the store: None takes `default` (the session ttl); `math.inf` keeps until deleted."""
    if ttl is None:
        return default
    return None if math.isinf(ttl) else ttl


def is_record(value: Any) -> bool:
    """Whether a stored session value is a record (rather than a whole `AgentSession.to_dict()`)."""
    return isinstance(value, dict) and value.get("v") == RECORD_VERSION and "logs" in value


class SessionManager:
    """Maps isolation keys to session ids (through reset aliases) and sessions to the store."""

    def __init__(
        self,
        target: Any,
        store: StateStore,
        *,
        ttl: float | None = None,
        live: int = DEFAULT_LIVE_SESSIONS,
        warm: int = DEFAULT_WARM_SESSIONS,
    ) -> None:
        self._target = target
        self._store = store
        self.ttl = ttl
        self._live_limit = live
        self._live: OrderedDict[str, _Live] = OrderedDict()
        peek = getattr(store, "peek", None)
        kept = (lambda session_id, parked: peek(SESSIONS, session_id) is parked) if callable(peek) else None
        self._warm = WarmSessions(warm, kept)
        pinned = SESSIONS in getattr(store, "pinned", ())  # a pinned namespace is never cut short
        self._cap: float = math.inf if pinned else getattr(store, "max_entries", math.inf)

    @property
    def supported(self) -> bool:
        return callable(getattr(self._target, "create_session", None))

    async def session_id(self, isolation_key: str) -> str:
        alias = await self._store.get(ALIASES, isolation_key)
        return alias if isinstance(alias, str) and alias else isolation_key

    async def load(self, isolation_key: str, *, ttl: float | None = None) -> AgentSession:
        """The session `isolation_key` uses (a new one when none is stored); `ttl` overrides the session ttl."""
        session_id = await self.session_id(isolation_key)
        stored = await self._store.get(SESSIONS, session_id)
        if stored is None:
            return self.new(session_id)
        if self._store.keeps_objects:
            return self._unpark(session_id, stored)
        return await self._restore(session_id, stored, self._live.get(session_id))

    def new(self, session_id: str) -> AgentSession:
        """A new session under `session_id`, which nothing is stored under (it is stored by `save`)."""
        session: AgentSession = self._target.create_session(session_id=session_id)
        if not self._store.keeps_objects:
            self._remember(_Live(session))
        # In memory a new session is kept by `save` at the end of its turn (parking it here too was work twice).
        return session

    def _unpark(self, session_id: str, stored: Any) -> AgentSession:
        if not isinstance(stored, ParkedSession):
            return stored  # type: ignore[no-any-return]
        self._warm.touch(session_id, stored)
        return stored.thaw()

    async def _park(self, session: AgentSession, ttl: float | None) -> None:
        """Keep a memory-mode session: live while warm, frozen to JSON once other sessions push it out."""
        if self._warm.size >= self._cap:  # the store forgets a session before it could go cold: none is frozen
            await self._store.set(SESSIONS, session.session_id, session, ttl=ttl)
            return
        parked = self._warm.get(session.session_id)
        if parked is None or not parked.holds(session):
            parked = ParkedSession(session)
        await self._store.set(SESSIONS, session.session_id, parked, ttl=ttl)
        self._warm.touch(session.session_id, parked)

    async def stored(self, session_id: str) -> AgentSession | None:
        """The session stored under `session_id`, read afresh (no turn lock: for inspection)."""
        stored = await self._store.get(SESSIONS, session_id)
        if stored is None:
            return None
        if self._store.keeps_objects:
            return stored.thaw() if isinstance(stored, ParkedSession) else stored
        return await self._restore(session_id, stored, None, remember=False)

    async def _restore(
        self, session_id: str, stored: Any, live: _Live | None, *, remember: bool = True
    ) -> AgentSession:
        if not is_record(stored):
            session = AgentSession.from_dict(stored)
            if remember:
                self._remember(_Live(session))
            return session
        session = AgentSession.from_dict(stored["session"])
        entry = _Live(session, seen=WatchedProperties.changes)
        for source, segments in stored["logs"].items():
            known = live.logs.get(source, []) if live is not None else []
            loaded = live.loaded.get(source) if live is not None else None
            messages, complete, reused = await self._read(segments, known, loaded)
            session.state.setdefault(source, {})["messages"] = messages
            if complete:
                entry.logs[source], entry.loaded[source] = segments, messages
                held = live.marks.get(source) if live is not None and reused else None
                entry.marks[source] = (held or [])[:reused] + marks_of(messages[reused:])
                if live is not None and reused:
                    entry.seen = min(entry.seen, live.seen)
            else:
                logger.warning("session %s lost part of its history; the rest is kept", session_id)
        if remember:
            self._remember(entry)
        return session

    async def _read(
        self, segments: list[Segment], known: list[Segment], loaded: list[Message] | None
    ) -> tuple[list[Message], bool, int]:
        """The messages `segments` name, whether all were found, and how many came from what this process held."""
        messages: list[Message] = []
        start = 0
        if loaded is not None and _extends(segments, known) and len(loaded) == _end(known):
            messages, start = list(loaded), len(loaded)
        complete = True
        for log, first, end in segments:
            if end <= start:
                continue
            begin = max(first, start)
            raw = await self._store.items(HISTORY, log, begin - first, end - first)
            complete = complete and len(raw) == end - begin
            fresh = [Message.from_dict(item) for item in raw]
            watch(fresh)
            messages.extend(fresh)
        return messages, complete, start

    def _remember(self, entry: _Live, session_id: str | None = None) -> None:
        session_id = session_id or entry.session.session_id
        self._live[session_id] = entry
        self._live.move_to_end(session_id)
        while len(self._live) > self._live_limit:
            self._live.popitem(last=False)

    async def save(self, session: AgentSession, *, ttl: float | None = None, record: bool = True) -> None:
        """Store the session's new messages and its record; `ttl` overrides the session ttl.

        `record=False` stores only the messages (see `ChannelSession.recorded`); memory keeps the session either way.
        """
        ttl = _resolve(ttl, self.ttl)
        if self._store.keeps_objects:
            await self._park(session, ttl)
            return
        live = self._live.get(session.session_id)
        if live is None or live.session is not session:
            live = _Live(session)
        lists = list(_message_lists(session))
        # A store that can batch (PostgreSQL) commits the new messages and the record together. One list's messages
        # alone need none: their append is atomic as it is (refreshing older segments' expiry needs no atomicity),
        # and a transaction around it cost more than the append.
        batch = getattr(self._store, "batch", None) if record or len(lists) > 1 else None
        seen = WatchedProperties.changes
        try:
            async with batch() if callable(batch) else nullcontext():
                entry = _Live(session, seen=seen)
                for source, messages in lists:
                    known = (live.logs.get(source, []), live.loaded.get(source), live.marks.get(source))
                    stored_at = await self._append(messages, *known, live.seen == seen, ttl)
                    entry.logs[source], entry.marks[source] = stored_at
                    entry.loaded[source] = messages
                if record:
                    await self._store.set(SESSIONS, session.session_id, _record_of(entry), ttl=ttl)
        except BaseException:
            self._live.pop(session.session_id, None)
            raise
        self._remember(entry)

    async def record(self, session_id: str, *, ttl: float | None = None) -> bool:
        """Store the record of a session last saved here without one (`save(record=False)`).

        False when this process no longer holds it live; memory keeps every session, so there it is True.
        """
        if self._store.keeps_objects:
            return True
        live = self._live.get(session_id)
        if live is None:
            return False
        await self._store.set(SESSIONS, session_id, _record_of(live), ttl=_resolve(ttl, self.ttl))
        return True

    async def _append(
        self,
        messages: list[Message],
        segments: list[Segment],
        loaded: list[Message] | None,
        held: list[Any] | None,
        unmarked: bool,
        ttl: float | None,
    ) -> tuple[list[Segment], list[Any]]:
        """Store the messages past those already stored; returns the segments that now hold them all, and
        their marks. `unmarked`: no compaction mark changed since `held` (the stored marks) was taken."""
        segments = [list(segment) for segment in segments]
        count = _end(segments)
        unchanged = (
            loaded is not None
            and held is not None
            and len(loaded) == count == len(held)
            and len(messages) >= count
            and messages[:count] == loaded  # a `Message` equals only itself: identity, checked in C without a call each
            and (unmarked or marks_of(messages[:count]) == held)
        )
        if not unchanged or held is None:
            # The history was rewritten or re-marked (compacted, say), or never stored here: a new list.
            segments, count, held = [], 0, []
        new = messages[count:]
        watch(new)
        marks = held + marks_of(new)
        for log, _, _ in segments[:-1]:
            await self._store.touch(HISTORY, log, ttl=_list_ttl(ttl))
        added = [message.to_dict() for message in new]
        if not added:
            if segments:
                await self._store.touch(HISTORY, segments[-1][0], ttl=_list_ttl(ttl))
            return segments, marks
        if segments:
            log, first, end = segments[-1]
            if await self._store.append(HISTORY, log, added, at=end - first, ttl=_list_ttl(ttl)):
                segments[-1][2] = end + len(added)
                return segments, marks
        # Another session sharing this list appended first (a fork): continue in a list of our own. Its name is
        # random and short (not the session id): every record pointing into the list, and in PostgreSQL every
        # message's row, repeats it.
        log = uuid.uuid4().hex[:16]
        if not await self._store.append(HISTORY, log, added, at=0, ttl=_list_ttl(ttl)):
            raise RuntimeError(f"history list {log!r} unexpectedly exists")
        segments.append([log, count, count + len(added)])
        return segments, marks

    async def copy(self, source_key: str, target_key: str, *, ttl: float | None = None) -> bool:
        """Give `target_key` a copy of the session `source_key` uses; False when the source has none.

        Durable stores share the source's stored messages; the copy's own messages go to its own list.
        `ttl` overrides the session ttl for the copy.
        """
        source_id, target_id = await self.session_id(source_key), await self.session_id(target_key)
        stored = await self._store.get(SESSIONS, source_id)
        if stored is None:
            return False
        if source_id == target_id:
            return True
        await self._seed(source_id, target_id, stored, _resolve(ttl, self.ttl))
        return True

    async def reference(self, session: AgentSession) -> SessionReference | None:
        """A small JSON reference to `session` as stored (its messages by list and position).

        From what this process saved last when it holds the session live (no I/O), else read from the store.
        None in memory (nothing is stored apart from the session) or when no session record is stored.
        """
        if self._store.keeps_objects:
            return None
        live = self._live.get(session.session_id)
        if live is not None and live.session is session and set(live.logs) == {s for s, _ in _message_lists(session)}:
            return _reference(_record_of(live))
        stored = await self._store.get(SESSIONS, session.session_id)
        return _reference(stored) if stored is not None and is_record(stored) else None

    async def detach(self, session: AgentSession) -> bool:
        """Delete `session`'s record but keep its messages (a `reference` still reads them).

        This process keeps its live copy, so a session `attach`ed from the reference reads nothing again.
        """
        return await self._store.delete(SESSIONS, session.session_id)

    async def attach(
        self, reference: SessionReference, target_key: str, *, ttl: float | None = None, origin: str | None = None
    ) -> bool:
        """Start `target_key` from a session `reference` (a fork sharing its stored messages).

        False (and nothing stored) when part of the messages it points at is no longer stored (expired,
        evicted, erased): checked with one read of each list's last referenced message, even where this
        process holds them live. `origin`: the key the reference was taken from, whose live copy this
        process may still hold.
        """
        record = _record(reference, "")
        if not await self._readable(record):
            return False
        # The origin's live copy is looked up by its key as its session id (no alias read): a miss only costs a read.
        target_id = await self.session_id(target_key)
        record["session"]["session_id"] = target_id
        await self._seed(origin or "", target_id, record, _resolve(ttl, self.ttl))
        return True

    async def fork(
        self, reference: SessionReference, session_id: str, *, origin: str | None = None
    ) -> AgentSession | None:
        """A new session `session_id` continuing the conversation a `reference` points at, in a store that writes.

        Held in this process only: its first `save` stores it, appending to the lists the reference names.
        None when part of their messages is no longer stored (checked as `attach` does); `origin` as `attach`'s.
        """
        record = _record(reference, session_id)
        if not await self._readable(record):
            return None
        return await self._restore(session_id, record, self._live.get(origin) if origin else None)

    async def _readable(self, record: dict[str, Any]) -> bool:
        """Whether the last message of each list segment a record names is still stored: one read a segment."""
        for segments in record["logs"].values():
            for log, first, end in segments:
                if end > first and not await self._store.items(HISTORY, log, end - first - 1, end - first):
                    return False
        return True

    async def referred(self, reference: SessionReference) -> AgentSession | None:
        """The session a `reference` stands for, read afresh; None when part of its messages has expired."""
        record = _record(reference, "")
        session = AgentSession.from_dict(record["session"])
        for source, segments in record["logs"].items():
            messages, complete, _ = await self._read(segments, [], None)
            if not complete:
                return None
            session.state.setdefault(source, {})["messages"] = messages
        return session

    async def _seed(self, source_id: str, target_id: str, stored: Any, ttl: float | None) -> None:
        """Store `stored` (the source's stored value) as the session `target_id`."""
        self._live.pop(target_id, None)
        self._warm.drop(target_id)
        if isinstance(stored, ParkedSession):
            stored = stored.thaw()
        if isinstance(stored, AgentSession):
            with _messages_hidden(stored):
                data = stored.to_dict()
            data["session_id"] = target_id
            session = AgentSession.from_dict(data)
            for source, messages in _message_lists(stored):
                session.state[source]["messages"] = list(messages)
            await self._park(session, ttl)
            return
        if not is_record(stored):
            data = json.loads(json.dumps(stored))
            data["session_id"] = target_id
            await self._store.set(SESSIONS, target_id, data, ttl=ttl)
            return
        record = {**stored, "session": {**stored["session"], "session_id": target_id}}
        for segments in stored["logs"].values():
            for log, _, _ in segments:
                await self._store.touch(HISTORY, log, ttl=_list_ttl(ttl))
        await self._store.set(SESSIONS, target_id, record, ttl=ttl)
        origin = self._live.get(source_id)
        if origin is not None and origin.logs == stored["logs"]:
            # The copy's first turn then reads nothing this process already holds.
            seeded = _Live(origin.session, dict(origin.logs), dict(origin.loaded), dict(origin.marks), origin.seen)
            self._remember(seeded, target_id)

    async def delete(self, isolation_key: str, *, purge: bool = False) -> bool:
        """Forget the session `isolation_key` currently uses; False when there was none.

        `purge` also deletes its stored messages, even where copies share them (erasing a user's data).
        """
        session_id = await self.session_id(isolation_key)
        self._live.pop(session_id, None)
        self._warm.drop(session_id)
        stored = await self._store.get(SESSIONS, session_id) if purge else None
        deleted = await self._store.delete(SESSIONS, session_id)
        if stored is not None and is_record(stored):
            for segments in stored["logs"].values():
                for log, _, _ in segments:
                    await self._store.delete(HISTORY, log)
        return deleted

    async def reset(self, isolation_key: str) -> str:
        """Point `isolation_key` at a fresh session id; the old session stays stored."""
        new_id = f"{isolation_key}#{uuid.uuid4().hex[:8]}"
        await self._store.set(ALIASES, isolation_key, new_id)
        return new_id
