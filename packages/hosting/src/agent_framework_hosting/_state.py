"""Host state storage: one small async interface, with memory and disk backends."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

from ._errors import SessionBusyError

DEFAULT_MAX_ENTRIES = 10_000


@runtime_checkable
class StateStore(Protocol):
    """Where the host keeps sessions, aliases, locks and idempotency keys.

    Values are JSON-compatible (a memory store may also hold live objects when
    `keeps_objects` is true). Keys live in namespaces such as ``"sessions"``.
    """

    keeps_objects: bool

    async def get(self, namespace: str, key: str) -> Any | None: ...

    async def set(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> None: ...

    async def add(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> bool:
        """Store `value` only when `key` is absent; return whether it was stored."""
        ...

    async def delete(self, namespace: str, key: str) -> bool: ...

    def lock(self, name: str, *, wait: float | None = None) -> AbstractAsyncContextManager[Any]:
        """Hold `name` exclusively; raise `SessionBusyError` after waiting `wait` seconds."""
        ...

    async def aclose(self) -> None: ...


class KeyedLocks:
    """In-process exclusive locks by name, dropped once nobody holds or waits."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, name: str, *, wait: float | None = None) -> AsyncIterator[None]:
        lock, users = self._locks.get(name, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[name] = (lock, users + 1)
        try:
            if wait is None or not lock.locked():
                await lock.acquire()
            else:
                try:
                    await asyncio.wait_for(lock.acquire(), wait)
                except asyncio.TimeoutError:
                    raise SessionBusyError(f"{name!r} is busy with another turn") from None
            try:
                yield
            finally:
                lock.release()
        finally:
            current, users = self._locks[name]
            if users <= 1:
                del self._locks[name]
            else:
                self._locks[name] = (current, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class MemoryStateStore:
    """Process-local state; each namespace is an LRU of at most `max_entries` keys."""

    keeps_objects = True

    def __init__(self, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._spaces: dict[str, OrderedDict[str, tuple[Any, float | None]]] = {}
        self._locks = KeyedLocks()

    def _space(self, namespace: str) -> OrderedDict[str, tuple[Any, float | None]]:
        return self._spaces.setdefault(namespace, OrderedDict())

    def _live(self, namespace: str, key: str) -> tuple[Any, float | None] | None:
        space = self._space(namespace)
        entry = space.get(key)
        if entry is None:
            return None
        if entry[1] is not None and entry[1] <= time.monotonic():
            del space[key]
            return None
        space.move_to_end(key)
        return entry

    async def get(self, namespace: str, key: str) -> Any | None:
        entry = self._live(namespace, key)
        return None if entry is None else entry[0]

    async def set(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> None:
        space = self._space(namespace)
        space[key] = (value, None if ttl is None else time.monotonic() + ttl)
        space.move_to_end(key)
        while len(space) > self.max_entries:
            space.popitem(last=False)

    async def add(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> bool:
        if self._live(namespace, key) is not None:
            return False
        await self.set(namespace, key, value, ttl=ttl)
        return True

    async def delete(self, namespace: str, key: str) -> bool:
        return self._space(namespace).pop(key, None) is not None

    def lock(self, name: str, *, wait: float | None = None) -> AbstractAsyncContextManager[None]:
        return self._locks.hold(name, wait=wait)

    def __len__(self) -> int:
        return sum(len(space) for space in self._spaces.values())

    async def aclose(self) -> None:
        return None


def _file_name(key: str) -> str:
    encoded = quote(key, safe="")
    if len(encoded) > 180 or encoded.startswith("."):
        import hashlib

        encoded = "~" + hashlib.sha256(key.encode()).hexdigest()
    return encoded + ".json"


class FileStateStore:
    """State in JSON files under `root`, one folder per namespace, written atomically.

    A write goes to a temporary sibling and is moved into place, so a crash
    mid-write leaves the previous value intact. Records written with a TTL are
    swept from their folder at most every `sweep_interval` seconds, so folders of
    short-lived records (idempotency keys) stay bounded. Locks are process-local:
    point several processes at a Redis store instead of one folder.
    """

    keeps_objects = False

    def __init__(self, root: str | os.PathLike[str], *, sweep_interval: float = 3600.0) -> None:
        self.root = Path(root)
        self.sweep_interval = sweep_interval
        self._locks = KeyedLocks()
        self._swept: dict[str, float] = {}
        self._sweeping: set[asyncio.Task[int]] = set()

    def _path(self, namespace: str, key: str) -> Path:
        if not key:
            raise ValueError("state keys must be non-empty strings")
        return self.root / quote(namespace, safe="") / _file_name(key)

    @staticmethod
    def _read(path: Path) -> Any | None:
        try:
            record = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        expires = record.get("expires_at")
        if expires is not None and expires <= time.time():
            path.unlink(missing_ok=True)
            return None
        return record.get("value")

    @staticmethod
    def _encode(key: str, value: Any, ttl: float | None) -> bytes:
        record = {"key": key, "expires_at": None if ttl is None else time.time() + ttl, "value": value}
        return json.dumps(record, separators=(",", ":")).encode()

    @staticmethod
    def _temp(path: Path, data: bytes) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return temp

    def _write(self, path: Path, data: bytes) -> None:
        temp = self._temp(path, data)
        try:
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)

    def _create(self, path: Path, data: bytes) -> bool:
        temp = self._temp(path, data)
        try:
            for _ in range(2):
                try:
                    os.link(temp, path)
                    return True
                except FileExistsError:
                    if self._read(path) is not None:
                        return False
            return False
        finally:
            temp.unlink(missing_ok=True)

    async def get(self, namespace: str, key: str) -> Any | None:
        return await asyncio.to_thread(self._read, self._path(namespace, key))

    async def set(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> None:
        data = self._encode(key, value, ttl)
        await asyncio.to_thread(self._write, self._path(namespace, key), data)
        self._maybe_sweep(namespace, ttl)

    async def add(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> bool:
        data = self._encode(key, value, ttl)
        created = await asyncio.to_thread(self._create, self._path(namespace, key), data)
        self._maybe_sweep(namespace, ttl)
        return created

    def _maybe_sweep(self, namespace: str, ttl: float | None) -> None:
        now = time.monotonic()
        if ttl is None or now - self._swept.get(namespace, float("-inf")) < self.sweep_interval:
            return
        self._swept[namespace] = now
        task = asyncio.get_running_loop().create_task(self.sweep(namespace))
        self._sweeping.add(task)
        task.add_done_callback(self._sweeping.discard)

    async def sweep(self, namespace: str) -> int:
        """Delete the namespace's expired records; returns how many went."""
        folder = self.root / quote(namespace, safe="")

        def _sweep() -> int:
            removed = 0
            for path in folder.glob("*.json"):
                before = path.exists()
                if self._read(path) is None and before and not path.exists():
                    removed += 1
            return removed

        return await asyncio.to_thread(_sweep)

    async def delete(self, namespace: str, key: str) -> bool:
        path = self._path(namespace, key)

        def _unlink() -> bool:
            try:
                path.unlink()
                return True
            except FileNotFoundError:
                return False

        return await asyncio.to_thread(_unlink)

    def lock(self, name: str, *, wait: float | None = None) -> AbstractAsyncContextManager[None]:
        return self._locks.hold(name, wait=wait)

    async def aclose(self) -> None:
        if self._sweeping:
            await asyncio.wait(set(self._sweeping), timeout=5)
