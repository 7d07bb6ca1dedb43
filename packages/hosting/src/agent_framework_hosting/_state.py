"""Host state storage: one small async interface, with memory and disk backends."""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import logging
import os
import secrets
import threading
import time
import uuid
from array import array
from collections import OrderedDict
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote, unquote

from ._errors import SessionBusyError
from ._filelock import blocking_file_lock, file_lock
from ._files import replace_file, temp_beside
from ._journal import Journal

logger = logging.getLogger("agent_framework.hosting")

DEFAULT_MAX_ENTRIES = 10_000
LIST_PREFIX = "\0list:"
EVICTION_WARNING_INTERVAL = 300.0
LOCKS_FOLDER = ".locks"
#: The fencing counter all of a folder's locks share (lock files themselves are removed once let go).
FENCES = ".fences"
JOURNALED = ("ledger",)  # the turn ledger: three small writes per turn, each to be durable before it returns
_fences = itertools.count(1)


class Lease:
    """A held lock: a random owner `token` and a `fence` number that grows with every acquisition."""

    __slots__ = ("name", "fence", "lost", "_token")

    def __init__(self, name: str, token: str | None = None, fence: int | None = None, lost: bool = False) -> None:
        self.name = name
        self.fence = next(_fences) if fence is None else fence
        self.lost = lost
        self._token = token

    @property
    def token(self) -> str:
        """Made when first read: a process-local lock (one per turn) rarely needs its token."""
        if self._token is None:
            self._token = secrets.token_hex(16)
        return self._token

    def __repr__(self) -> str:
        return f"Lease(name={self.name!r}, fence={self.fence}, lost={self.lost})"


def matches(value: Any, match: Mapping[str, str]) -> bool:
    """Whether `value` is a mapping whose fields, as strings, equal every item of `match`."""
    if not isinstance(value, Mapping):
        return False
    return all(name in value and _as_text(value[name]) == expected for name, expected in match.items())


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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

    async def delete(self, namespace: str, key: str) -> bool:
        """Delete the value or list at `key`; return whether there was one."""
        ...

    async def append(
        self, namespace: str, key: str, items: Sequence[Any], *, at: int, ttl: float | None = None
    ) -> bool:
        """Append `items` to the list at `key` if it holds exactly `at` items; False (nothing written) otherwise.

        `ttl` extends the list's life as `touch` does (a new list lives exactly `ttl`).
        """
        ...

    async def items(self, namespace: str, key: str, start: int = 0, stop: int | None = None) -> list[Any]:
        """Items `start` to `stop` (exclusive) of the list at `key`; an absent list is empty."""
        ...

    async def touch(self, namespace: str, key: str, *, ttl: float | None) -> None:
        """Keep the list at `key` at least `ttl` more seconds (None: until deleted); never shortens its life."""
        ...

    async def replace(
        self, namespace: str, key: str, value: Any, *, match: Mapping[str, str], ttl: float | None = None
    ) -> bool:
        """Compare-and-set: store `value` only when the current value's fields equal `match`; return whether stored.

        With `ttl` None the record keeps its current expiry.
        """
        ...

    async def discard(self, namespace: str, key: str, *, match: Mapping[str, str]) -> bool:
        """Compare-and-delete: delete `key` only when its value's fields equal `match`."""
        ...

    async def keys(self, namespace: str) -> list[str]:
        """Every live key of `namespace` (for small namespaces: the turn ledger, the outbox)."""
        ...

    def lock(self, name: str, *, wait: float | None = None) -> AbstractAsyncContextManager[Any]:
        """Hold `name` exclusively (yields a lease with `token` and `fence`); `SessionBusyError` after `wait` s."""
        ...

    async def aclose(self) -> None: ...


class KeyedLocks:
    """In-process exclusive locks by name, dropped once nobody holds or waits."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def hold(self, name: str, *, wait: float | None = None) -> AbstractAsyncContextManager[Lease]:
        return _Hold(self._locks, name, wait)

    def __len__(self) -> int:
        return len(self._locks)


class _Hold:
    """`KeyedLocks.hold`: a plain object rather than a generator, as every turn takes one (it costs a third)."""

    __slots__ = ("_locks", "_name", "_wait", "_lock")

    def __init__(self, locks: dict[str, tuple[asyncio.Lock, int]], name: str, wait: float | None) -> None:
        self._locks = locks
        self._name = name
        self._wait = wait

    async def __aenter__(self) -> Lease:
        name, locks = self._name, self._locks
        lock, users = locks.get(name, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        locks[name] = (lock, users + 1)
        self._lock = lock
        try:
            if self._wait is None or not lock.locked():
                await lock.acquire()
            else:
                try:
                    await asyncio.wait_for(lock.acquire(), self._wait)
                except asyncio.TimeoutError:
                    raise SessionBusyError(f"{name!r} is busy with another turn") from None
        except BaseException:
            self._leave()
            raise
        return Lease(name)

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock.release()
        self._leave()

    def _leave(self) -> None:
        current, users = self._locks[self._name]
        if users <= 1:
            del self._locks[self._name]
        else:
            self._locks[self._name] = (current, users - 1)


class MemoryStateStore:
    """Process-local state; each namespace is an LRU of at most `max_entries` keys.

    `pinned` namespaces are never cut short: they hold work in flight (ledger entries, claims,
    the outbox), and forgetting one would lose a message or answer it twice. Their expired
    entries are swept whenever such a namespace has doubled since its last sweep.
    """

    keeps_objects = True
    process_local = True
    """No other process reads this store (the ledger need not renew its leases)."""

    def __init__(self, *, max_entries: int = DEFAULT_MAX_ENTRIES, pinned: Collection[str] = ()) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.pinned = frozenset(pinned)
        self._sweep_at: dict[str, int] = {}
        self._spaces: dict[str, OrderedDict[str, tuple[Any, float | None]]] = {}
        self._locks = KeyedLocks()
        self.evicted = 0
        self._warned_at: float | None = None

    def _space(self, namespace: str) -> OrderedDict[str, tuple[Any, float | None]]:
        space = self._spaces.get(namespace)
        if space is None:  # not setdefault: that builds a new OrderedDict on every call
            space = self._spaces[namespace] = OrderedDict()
        return space

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

    def peek(self, namespace: str, key: str) -> Any | None:
        """The value held under `key` (expired or not), without making it recently used; synchronous."""
        space = self._spaces.get(namespace)
        entry = None if space is None else space.get(key)
        return None if entry is None else entry[0]

    async def set(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> None:
        self._put(namespace, key, value, ttl)

    def _put(self, namespace: str, key: str, value: Any, ttl: float | None) -> None:
        space = self._space(namespace)
        space[key] = (value, None if ttl is None else time.monotonic() + ttl)
        space.move_to_end(key)
        if namespace in self.pinned:
            if len(space) > self._sweep_at.get(namespace, self.max_entries):
                self._sweep(namespace, space)
            return
        while len(space) > self.max_entries:
            space.popitem(last=False)
            self._evicted(namespace)

    def _sweep(self, namespace: str, space: OrderedDict[str, tuple[Any, float | None]]) -> None:
        now = time.monotonic()
        for stale in [key for key, (_, expires) in space.items() if expires is not None and expires <= now]:
            del space[stale]
        self._sweep_at[namespace] = max(self.max_entries, 2 * len(space))

    def _evicted(self, namespace: str) -> None:
        self.evicted += 1
        now = time.monotonic()
        if self._warned_at is None or now - self._warned_at >= EVICTION_WARNING_INTERVAL:
            self._warned_at = now
            logger.warning(
                "memory state is full: forgetting the least recently used %s (cap %d per kind, %d forgotten so far); "
                "raise max_sessions or use a state_dir",
                namespace,
                self.max_entries,
                self.evicted,
            )

    async def add(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> bool:
        if self._live(namespace, key) is not None:
            return False
        self._put(namespace, key, value, ttl)
        return True

    async def add_and_get(
        self, namespace: str, key: str, value: Any, *, read: tuple[str, str], ttl: float | None = None
    ) -> tuple[bool, Any | None]:
        """`add`, then read the value at `read` (namespace, key): the ledger's accept in one call."""
        if self._live(namespace, key) is not None:
            return False, None
        self._put(namespace, key, value, ttl)
        found = self._live(*read)
        return True, None if found is None else found[0]

    async def delete(self, namespace: str, key: str) -> bool:
        value = self._space(namespace).pop(key, None)
        items = self._space(LIST_PREFIX + namespace).pop(key, None)
        return value is not None or items is not None

    async def append(
        self, namespace: str, key: str, items: Sequence[Any], *, at: int, ttl: float | None = None
    ) -> bool:
        entry = self._live(LIST_PREFIX + namespace, key)
        current: list[Any] = [] if entry is None else entry[0]
        if len(current) != at:
            return False
        expires = None if ttl is None else time.monotonic() + ttl
        if entry is not None and expires is not None:
            expires = None if entry[1] is None else max(entry[1], expires)
        await self.set(LIST_PREFIX + namespace, key, [*current, *items])
        self._space(LIST_PREFIX + namespace)[key] = ([*current, *items], expires)
        return True

    async def items(self, namespace: str, key: str, start: int = 0, stop: int | None = None) -> list[Any]:
        entry = self._live(LIST_PREFIX + namespace, key)
        return [] if entry is None else list(entry[0][start:stop])

    async def touch(self, namespace: str, key: str, *, ttl: float | None) -> None:
        entry = self._live(LIST_PREFIX + namespace, key)
        if entry is not None:
            expires = None if ttl is None or entry[1] is None else max(entry[1], time.monotonic() + ttl)
            self._space(LIST_PREFIX + namespace)[key] = (entry[0], expires)

    async def ping(self) -> None:
        """Memory is always there."""

    async def replace(
        self, namespace: str, key: str, value: Any, *, match: Mapping[str, str], ttl: float | None = None
    ) -> bool:
        entry = self._live(namespace, key)
        if entry is None or not matches(entry[0], match):
            return False
        expires = entry[1] if ttl is None else time.monotonic() + ttl
        self._space(namespace)[key] = (value, expires)
        return True

    async def discard(self, namespace: str, key: str, *, match: Mapping[str, str]) -> bool:
        entry = self._live(namespace, key)
        if entry is None or not matches(entry[0], match):
            return False
        return await self.delete(namespace, key)

    async def keys(self, namespace: str) -> list[str]:
        now = time.monotonic()
        return [key for key, (_, expires) in self._space(namespace).items() if expires is None or expires > now]

    def lock(self, name: str, *, wait: float | None = None) -> AbstractAsyncContextManager[Lease]:
        return self._locks.hold(name, wait=wait)

    def __len__(self) -> int:
        return sum(len(space) for space in self._spaces.values())

    async def aclose(self) -> None:
        return None


def _checked(key: str) -> str:
    if not key:
        raise ValueError("state keys must be non-empty strings")
    return key


def _file_name(key: str, suffix: str = ".json") -> str:
    encoded = quote(key, safe="")
    if len(encoded) > 180 or encoded.startswith("."):
        import hashlib

        encoded = "~" + hashlib.sha256(key.encode()).hexdigest()
    return encoded + suffix


def _header(expires: float) -> bytes:
    """A list file's first line: when it expires (0: never), fixed-width so it can be rewritten in place."""
    return b"#%020.3f\n" % expires


HEADER_SIZE = len(_header(0.0))


def _envelope(key: str, expires: float | None, value: Any) -> bytes:
    """A record file's JSON: its key only where the file name cannot give it back (a hashed name), its expiry
    (to the millisecond) only when it has one. Every stored response and session pays for what is left."""
    record: dict[str, Any] = {"key": key} if _file_name(key).startswith("~") else {}
    if expires is not None:
        record["expires_at"] = round(expires, 3)
    record["value"] = value
    return json.dumps(record, separators=(",", ":")).encode()


def _key_of(path: Path) -> str | None:
    """The key a record file's name gives back (None for a hashed name)."""
    name = path.name
    return None if name.startswith("~") or not name.endswith(".json") else unquote(name[: -len(".json")])


class _LineIndex:
    """Byte offsets of the item lines of append-only list files, kept per file (LRU)."""

    def __init__(self, max_files: int) -> None:
        self.max_files = max_files
        self._files: OrderedDict[Path, array[int]] = OrderedDict()

    def offsets(self, path: Path) -> array[int]:
        """Where each item line starts, plus the end of the last complete one; a torn tail is cut off.

        A file that grew behind this index's back (another process) is indexed from where it left off.
        """
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = 0
        offsets = self._files.get(path)
        if offsets is None or size < offsets[-1]:
            offsets = array("q", [HEADER_SIZE])
        else:
            self._files.move_to_end(path)
        if size > offsets[-1]:
            with open(path, "rb") as handle:
                handle.seek(offsets[-1])
                data = handle.read()
            base = offsets[-1]
            position = data.find(b"\n")
            while position >= 0:
                offsets.append(base + position + 1)
                position = data.find(b"\n", position + 1)
            if base + len(data) > offsets[-1]:
                with open(path, "r+b") as handle:
                    handle.truncate(offsets[-1])
        self.keep(path, offsets)
        return offsets

    def keep(self, path: Path, offsets: array[int]) -> None:
        self._files[path] = offsets
        self._files.move_to_end(path)
        while len(self._files) > self.max_files:
            self._files.popitem(last=False)

    def forget(self, path: Path) -> None:
        self._files.pop(path, None)


class FileStateStore:
    """State in JSON files under `root`, one folder per namespace, written atomically.

    A write goes to a temporary sibling and is moved into place, so a crash
    mid-write leaves the previous value intact. Records written with a TTL are
    swept from their folder at most every `sweep_interval` seconds, so folders of
    short-lived records (idempotency keys) stay bounded. Locks are `flock`s on
    files under ``.locks/`` (removed once let go), so several processes on one machine (``--workers 2``)
    may share one folder; for several machines use a Redis store.

    The `journaled` namespaces (the turn ledger) are kept in one append-only file each
    (``<namespace>.journal``, see `Journal`): concurrent writes there share one fsync.
    """

    keeps_objects = False

    def __init__(
        self, root: str | os.PathLike[str], *, sweep_interval: float = 3600.0, journaled: Collection[str] = JOURNALED
    ) -> None:
        self.root = Path(root)
        self._journals = {
            namespace: Journal(
                self.root / f"{quote(namespace, safe='')}.journal",
                adopt=functools.partial(self._adopt, self.root / quote(namespace, safe="")),
            )
            for namespace in journaled
        }
        self.sweep_interval = sweep_interval
        self._locks = KeyedLocks()
        self._swept: dict[str, float] = {}
        self._sweeping: set[asyncio.Task[int]] = set()
        self._lines = _LineIndex(DEFAULT_MAX_ENTRIES)
        self._list_guard = threading.Lock()

    def _path(self, namespace: str, key: str) -> Path:
        if not key:
            raise ValueError("state keys must be non-empty strings")
        return self.root / quote(namespace, safe="") / _file_name(key)

    @staticmethod
    def _record(path: Path) -> dict[str, Any] | None:
        """The live record at `path` (an expired one is deleted), or None."""
        try:
            record = json.loads(path.read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        if not isinstance(record, dict):
            return None
        expires = record.get("expires_at")
        if expires is not None and expires <= time.time():
            path.unlink(missing_ok=True)
            return None
        return record

    @classmethod
    def _adopt(cls, folder: Path) -> list[tuple[Path, str, Any, float | None]]:
        """The live records an earlier version kept as files in a namespace that is now journaled."""
        found = []
        for path in sorted(folder.glob("*.json")):
            record = cls._record(path)
            if record is not None:
                key = record.get("key")
                key = key if isinstance(key, str) else _key_of(path)
                if key is not None:
                    found.append((path, key, record.get("value"), record.get("expires_at")))
        return found

    @classmethod
    def _read(cls, path: Path) -> Any | None:
        record = cls._record(path)
        return None if record is None else record.get("value")

    @staticmethod
    def _encode(key: str, value: Any, ttl: float | None) -> bytes:
        return _envelope(key, None if ttl is None else time.time() + ttl, value)

    def _create(self, path: Path, data: bytes) -> bool:
        temp = temp_beside(path, data)
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
        journal = self._journals.get(namespace)
        if journal is not None:
            return await journal.get(_checked(key))
        return await asyncio.to_thread(self._read, self._path(namespace, key))

    async def set(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> None:
        journal = self._journals.get(namespace)
        if journal is not None:
            return await journal.set(_checked(key), value, ttl=ttl)
        data = self._encode(key, value, ttl)
        await asyncio.to_thread(replace_file, self._path(namespace, key), data)
        self._maybe_sweep(namespace, ttl)

    async def add(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> bool:
        journal = self._journals.get(namespace)
        if journal is not None:
            return await journal.add(_checked(key), value, ttl=ttl)
        data = self._encode(key, value, ttl)
        created = await asyncio.to_thread(self._create, self._path(namespace, key), data)
        self._maybe_sweep(namespace, ttl)
        return created

    async def add_and_get(
        self, namespace: str, key: str, value: Any, *, read: tuple[str, str], ttl: float | None = None
    ) -> tuple[bool, Any | None]:
        """`add`, then read the value at `read` (namespace, key), in one trip to the worker thread."""
        other = self._path(*read)
        journal = self._journals.get(namespace)
        if journal is not None:
            if not await journal.add(_checked(key), value, ttl=ttl):
                return False, None
            return True, await asyncio.to_thread(self._read, other)
        data, path = self._encode(key, value, ttl), self._path(namespace, key)

        def _both() -> tuple[bool, Any | None]:
            created = self._create(path, data)
            return created, self._read(other) if created else None

        created, found = await asyncio.to_thread(_both)
        self._maybe_sweep(namespace, ttl)
        return created, found

    def _list_path(self, namespace: str, key: str) -> Path:
        return self._path(namespace, key).with_suffix(".jsonl")

    @staticmethod
    def _expiry(path: Path) -> float | None:
        """When the list file expires (0: never); None when there is no whole list file."""
        try:
            with open(path, "rb") as handle:
                head = handle.read(HEADER_SIZE)
        except FileNotFoundError:
            return None
        if len(head) < HEADER_SIZE or not head.startswith(b"#"):
            return None
        try:
            return float(head[1:-1])
        except ValueError:
            return None

    @staticmethod
    def _expires_at(ttl: float | None) -> float:
        return 0.0 if ttl is None else time.time() + ttl

    def _extend(self, path: Path, current: float, ttl: float | None) -> None:
        wanted = self._expires_at(ttl)
        if current == 0.0 or (wanted != 0.0 and wanted <= current):
            return
        with open(path, "r+b") as handle:
            handle.write(_header(wanted))

    def _list_expiry(self, path: Path) -> float | None:
        """The expiry of a live list file; an expired or broken one is removed (None)."""
        expires = self._expiry(path)
        if expires is not None and (expires == 0.0 or expires > time.time()):
            return expires
        if path.exists():
            path.unlink(missing_ok=True)
        self._lines.forget(path)
        return None

    def _append(self, path: Path, items: Sequence[Any], at: int, ttl: float | None) -> bool:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Processes sharing the folder append under its lock, so the length check and the write are one step.
        with self._list_guard, blocking_file_lock(path.parent / ".lock"):
            expires = self._list_expiry(path)
            offsets = self._lines.offsets(path) if expires is not None else array("q", [HEADER_SIZE])
            if len(offsets) - 1 != at:
                return False
            data = b"".join(json.dumps(item, separators=(",", ":")).encode() + b"\n" for item in items)
            if expires is None:
                replace_file(path, _header(self._expires_at(ttl)) + data)
            else:
                with open(path, "ab") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                self._extend(path, expires, ttl)
            end = offsets[-1]
            for item in data.splitlines(keepends=True):
                end += len(item)
                offsets.append(end)
            self._lines.keep(path, offsets)
            return True

    def _slice(self, path: Path, start: int, stop: int | None) -> list[Any]:
        with self._list_guard:
            if self._list_expiry(path) is None:
                return []
            offsets = self._lines.offsets(path)
            count = len(offsets) - 1
            start, stop = max(0, start), count if stop is None else min(stop, count)
            if start >= stop:
                return []
            with open(path, "rb") as handle:
                handle.seek(offsets[start])
                data = handle.read(offsets[stop] - offsets[start])
        return [json.loads(line) for line in data.splitlines()]

    async def append(
        self, namespace: str, key: str, items: Sequence[Any], *, at: int, ttl: float | None = None
    ) -> bool:
        appended = await asyncio.to_thread(self._append, self._list_path(namespace, key), items, at, ttl)
        self._maybe_sweep(namespace, ttl)
        return appended

    async def items(self, namespace: str, key: str, start: int = 0, stop: int | None = None) -> list[Any]:
        return await asyncio.to_thread(self._slice, self._list_path(namespace, key), start, stop)

    async def touch(self, namespace: str, key: str, *, ttl: float | None) -> None:
        def _touch() -> None:
            with self._list_guard:
                path = self._list_path(namespace, key)
                expires = self._list_expiry(path)
                if expires is not None:
                    self._extend(path, expires, ttl)

        await asyncio.to_thread(_touch)
        self._maybe_sweep(namespace, ttl)

    async def ping(self) -> None:
        """Check that the state folder can be written."""

        def _probe() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".ping.{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()

        await asyncio.to_thread(_probe)

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
            for path in folder.glob("*.jsonl"):
                with self._list_guard:
                    if self._list_expiry(path) is None:
                        removed += 1
            return removed

        return await asyncio.to_thread(_sweep)

    async def delete(self, namespace: str, key: str) -> bool:
        journal = self._journals.get(namespace)
        if journal is not None:
            return await journal.discard(_checked(key))
        path = self._path(namespace, key)
        list_path = path.with_suffix(".jsonl")

        def _unlink() -> bool:
            found = False
            for each in (path, list_path):
                try:
                    each.unlink()
                    found = True
                except FileNotFoundError:
                    pass
            with self._list_guard:
                self._lines.forget(list_path)
            return found

        return await asyncio.to_thread(_unlink)

    async def replace(
        self, namespace: str, key: str, value: Any, *, match: Mapping[str, str], ttl: float | None = None
    ) -> bool:
        journal = self._journals.get(namespace)
        if journal is not None:
            return await journal.replace(_checked(key), value, match=lambda current: matches(current, match), ttl=ttl)
        path = self._path(namespace, key)

        def _encode(current: dict[str, Any] | None) -> tuple[Any, bytes]:
            expires = (current or {}).get("expires_at") if ttl is None else time.time() + ttl
            return expires, _envelope(key, expires, value)

        def _replace() -> bool:
            # The new record is written and fsynced before the folder lock is taken, so writers to one
            # namespace wait for each other only for the compare and the rename, never for a disk flush.
            expires, data = _encode(self._record(path))
            temp = temp_beside(path, data)
            try:
                with blocking_file_lock(path.parent / ".lock"):
                    current = self._record(path)
                    if current is None or not matches(current.get("value"), match):
                        return False
                    if ttl is None and current.get("expires_at") != expires:
                        replace_file(path, _encode(current)[1])  # its expiry changed meanwhile: keep the new one
                    else:
                        os.replace(temp, path)
                    return True
            finally:
                temp.unlink(missing_ok=True)

        return await asyncio.to_thread(_replace)

    def _discard(self, path: Path, match: Mapping[str, str]) -> bool:
        with blocking_file_lock(path.parent / ".lock"):
            current = self._record(path)
            if current is None or not matches(current.get("value"), match):
                return False
            path.unlink(missing_ok=True)
            return True

    async def discard(self, namespace: str, key: str, *, match: Mapping[str, str]) -> bool:
        journal = self._journals.get(namespace)
        if journal is not None:
            return await journal.discard(_checked(key), match=lambda value: matches(value, match))
        return await asyncio.to_thread(self._discard, self._path(namespace, key), match)

    async def set_then_discard(
        self,
        namespace: str,
        key: str,
        value: Any,
        *,
        discard: tuple[str, str],
        match: Mapping[str, str],
        ttl: float | None = None,
    ) -> bool:
        """`set`, then `discard(*discard, match=match)`, in one trip to the worker thread."""
        data, path, gone = self._encode(key, value, ttl), self._path(namespace, key), self._path(*discard)
        journal = self._journals.get(discard[0])

        def _both() -> bool:
            replace_file(path, data)
            return self._discard(gone, match)

        if journal is not None:
            # The done mark is written without its own fsync: the journal line that deletes the entry vouches
            # for it (restores it after a crash, fsyncs it when it compacts), so one shared flush covers both.
            await asyncio.to_thread(replace_file, path, data, sync=False)
            vouched = (path.relative_to(self.root).as_posix(), data.decode())
            discarded = await journal.discard(discard[1], match=lambda current: matches(current, match), file=vouched)
        else:
            discarded = await asyncio.to_thread(_both)
        self._maybe_sweep(namespace, ttl)
        return discarded

    async def keys(self, namespace: str) -> list[str]:
        journal = self._journals.get(namespace)
        if journal is not None:
            return await journal.keys()
        folder = self.root / quote(namespace, safe="")

        def _keys() -> list[str]:
            found: list[str] = []
            for path in sorted(folder.glob("*.json")):
                if path.name.startswith("~"):
                    record = self._record(path)
                    if record is not None and isinstance(record.get("key"), str):
                        found.append(record["key"])
                elif self._record(path) is not None:
                    found.append(unquote(path.name[: -len(".json")]))
            return found

        return await asyncio.to_thread(_keys)

    @asynccontextmanager
    async def _hold(self, name: str, wait: float | None) -> AsyncIterator[Lease]:
        deadline = None if wait is None else time.monotonic() + wait
        # In-process waiters queue on an asyncio lock; only the head of the queue polls the file lock.
        async with self._locks.hold(name, wait=wait) as lease:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            path = self.root / LOCKS_FOLDER / _file_name(name).replace(".json", ".lock")
            async with file_lock(path, name=name, fences=self.root / LOCKS_FOLDER / FENCES, wait=remaining) as fence:
                lease.fence = fence
                yield lease

    def lock(self, name: str, *, wait: float | None = None) -> AbstractAsyncContextManager[Lease]:
        return self._hold(name, wait)

    async def aclose(self) -> None:
        if self._sweeping:
            await asyncio.wait(set(self._sweeping), timeout=5)
