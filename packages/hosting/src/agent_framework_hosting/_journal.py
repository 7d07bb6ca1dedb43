"""One namespace of a state folder kept in an append-only journal file, so concurrent writes share an fsync.

Each line is a JSON record: ``{"k": key, "v": value, "x": expires_at}`` sets a key, ``{"k": key}``
deletes it. Every process keeps the map in memory and, holding the journal's `flock`, reads what
the others appended before it compares or writes, so compare-and-set holds across processes.

Group commit: an operation returns only once an fsync covered every line it wrote or read. One
thread flushes while the others wait for it; each line written before a flush starts rides along.
A process killed between its append and the fsync loses nothing it acknowledged (it never
acknowledged it), and whoever reads that line next flushes it before acting on it.

When the file has grown past twice its live lines (and `min_compact` bytes), the live records are
written to a new file, fsynced and renamed over the journal; the other processes see the new inode
and reload. Everything in the old file was flushed into the new one, so a wait on it is over.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MIN_COMPACT = 1 << 20
_datasync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)
Matcher = Callable[[Any], bool]


def _fsync_folder(folder: Path) -> None:
    """Make a file's creation or rename in `folder` durable."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms whose folders cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _line(key: str, value: Any = None, expires: float | None = None, *, delete: bool = False) -> bytes:
    record: dict[str, Any] = {"k": key} if delete else {"k": key, "v": value, "x": expires}
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


class Journal:
    """A key-value map with compare-and-set in one append-only file; blocking (call from a worker thread)."""

    def __init__(
        self,
        path: Path,
        *,
        min_compact: int = MIN_COMPACT,
        adopt: Callable[[], Iterable[tuple[Path, str, Any, float | None]]] | None = None,
    ) -> None:
        self.path = path
        self.min_compact = min_compact
        self._adopt = adopt
        self._mutex = threading.Lock()  # this process's critical section: the map, the file, the appends
        self._flush = threading.Condition()  # the group commit: who flushes, what is durable
        self._values: dict[str, tuple[Any, float | None, int]] = {}  # key -> (value, expires_at, line size)
        self._live = 0
        self._pid = 0
        self._lock_fd = -1
        self._fd = -1
        self._inode: tuple[int, int] | None = None
        self._end = 0  # bytes of the current file read and applied
        self._generation = 0  # bumped whenever the file is replaced: all of the old one is durable then
        self._synced = 0
        self._flushing = False

    # --- operations -------------------------------------------------------------------------------

    def get(self, key: str) -> Any | None:
        with self._locked():
            value = self._value(key)
            seen = self._seen()
        self._wait(*seen)
        return value

    def keys(self) -> list[str]:
        with self._locked():
            found = [key for key in self._values if self._value(key) is not None]
            seen = self._seen()
        self._wait(*seen)
        return found

    def set(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        with self._locked():
            self._put(key, value, _expires(ttl))
            seen = self._seen()
        self._wait(*seen)

    def add(self, key: str, value: Any, *, ttl: float | None = None) -> bool:
        with self._locked():
            added = self._value(key) is None
            if added:
                self._put(key, value, _expires(ttl))
            seen = self._seen()
        self._wait(*seen)
        return added

    def replace(self, key: str, value: Any, *, match: Matcher, ttl: float | None = None) -> bool:
        with self._locked():
            current = self._values.get(key)
            stored = current is not None and self._value(key) is not None and match(current[0])
            if stored:
                assert current is not None
                self._put(key, value, current[1] if ttl is None else _expires(ttl))
            seen = self._seen()
        self._wait(*seen)
        return stored

    def discard(self, key: str, *, match: Matcher | None = None) -> bool:
        with self._locked():
            current = self._value(key)
            gone = current is not None and (match is None or match(current))
            if gone:
                self._append(_line(key, delete=True))
            seen = self._seen()
        self._wait(*seen)
        return gone

    # --- the map ----------------------------------------------------------------------------------

    def _value(self, key: str) -> Any | None:
        entry = self._values.get(key)
        if entry is None or (entry[1] is not None and entry[1] <= time.time()):
            return None
        return entry[0]

    def _put(self, key: str, value: Any, expires: float | None) -> None:
        self._append(_line(key, value, expires))

    def _apply(self, line: bytes) -> None:
        try:
            record = json.loads(line)
            key = record["k"]
        except (ValueError, KeyError, TypeError):
            return  # not a record (cannot happen short of a damaged disk): skip it
        old = self._values.pop(key, None)
        if old is not None:
            self._live -= old[2]
        if "v" in record:
            self._values[key] = (record["v"], record.get("x"), len(line) + 1)
            self._live += len(line) + 1

    def _append(self, line: bytes) -> None:
        view = memoryview(line)
        while view:
            view = view[os.write(self._fd, view) :]
        self._end += len(line)
        self._apply(line[:-1])

    # --- the file ---------------------------------------------------------------------------------

    def _seen(self) -> tuple[int, int]:
        """What a caller must see durable before it acts: (file generation, end of the lines it saw)."""
        return self._generation, self._end

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the journal (this process's threads, then other processes) with the map caught up;
        compacts it on the way out when it has grown too long."""
        with self._mutex:
            if self._pid != os.getpid():
                self._open_lock()  # first use, or a forked child: its own open file, so its own flock
            if fcntl is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                self._catch_up()
                yield
                if self._end > max(self.min_compact, 2 * self._live):
                    self._compact()
            finally:
                if fcntl is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _open_lock(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        self._pid = os.getpid()
        self._inode = None

    def _catch_up(self) -> None:
        """Read what other processes appended (reload when the file was replaced); cut a torn last line."""
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            status = None
        if status is None or (status.st_dev, status.st_ino) != self._inode:
            self._reopen(created=status is None)
            if self._adopt is not None:
                self._adopt_files()
                self._adopt = None
            return
        if status.st_size < self._end:  # pragma: no cover - only a hand-edited journal shrinks in place
            self._reopen(created=False)
            return
        self._read_from(self._end, status.st_size)

    def _reopen(self, *, created: bool) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        if created:
            _fsync_folder(self.path.parent)
        status = os.fstat(fd)
        self._swap(fd, (status.st_dev, status.st_ino), end=0, durable=False)
        self._values.clear()
        self._live = 0
        self._read_from(0, status.st_size)

    def _read_from(self, start: int, size: int) -> None:
        if size <= start:
            return
        data = os.pread(self._fd, size - start, start)
        whole = data.rfind(b"\n") + 1
        for line in data[:whole].split(b"\n")[:-1]:
            self._apply(line)
        self._end = start + whole
        if whole < len(data):
            # a writer died mid-line (it held the lock, so nobody acknowledged that line): cut it off
            os.ftruncate(self._fd, self._end)

    def _swap(self, fd: int, inode: tuple[int, int], *, end: int, durable: bool) -> None:
        """Use the file `fd` from now on; waits for a flush of the old one to finish first."""
        with self._flush:
            while self._flushing:
                self._flush.wait()
            if self._fd >= 0:
                os.close(self._fd)
            self._fd, self._inode, self._end = fd, inode, end
            self._generation += 1
            self._synced = end if durable else 0
            self._flush.notify_all()

    def _compact(self) -> None:
        """Rewrite the live records to a new file and move it over the journal."""
        now = time.time()
        lines = [
            _line(key, value, expires)
            for key, (value, expires, _) in self._values.items()
            if expires is None or expires > now
        ]
        temp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            data = b"".join(lines)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            os.replace(temp, self.path)
        except BaseException:
            os.close(fd)
            temp.unlink(missing_ok=True)
            raise
        _fsync_folder(self.path.parent)
        status = os.fstat(fd)
        self._swap(fd, (status.st_dev, status.st_ino), end=len(data), durable=True)
        self._values.clear()
        self._live = 0
        for line in lines:
            self._apply(line[:-1])

    def _adopt_files(self) -> None:
        """Move records kept as files by earlier versions into the journal (once: their files go)."""
        assert self._adopt is not None
        adopted = list(self._adopt())
        for _, key, value, expires in adopted:
            if self._value(key) is None:
                self._put(key, value, expires)
        if adopted:
            _datasync(self._fd)
            for path, *_ in adopted:
                path.unlink(missing_ok=True)

    # --- group commit -----------------------------------------------------------------------------

    def _wait(self, generation: int, end: int) -> None:
        """Return once the journal is durable up to `end` (of file `generation`): flush, or wait for a flush."""
        with self._flush:
            while generation == self._generation and self._synced < end:
                if self._flushing:
                    self._flush.wait()
                    continue
                self._flushing = True
                fd, target = self._fd, self._end
                self._flush.release()
                try:
                    _datasync(fd)
                finally:
                    self._flush.acquire()
                    self._flushing = False
                    self._flush.notify_all()
                if generation == self._generation:
                    self._synced = max(self._synced, target)


def _expires(ttl: float | None) -> float | None:
    return None if ttl is None else time.time() + ttl
