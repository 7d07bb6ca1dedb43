"""One namespace of a state folder kept in an append-only journal file, so concurrent writes share an fsync.

Each line is a JSON record: ``{"k": key, "v": value, "x": expires_at}`` sets a key, ``{"k": key}``
deletes it. A line may also vouch for a file its writer wrote without an fsync (``"f"``: its path in
the journal's folder, ``"b"``: its content): the journal is what makes that file durable, by
rewriting it on the first load after a crash if it was lost, and by fsyncing it when it compacts.
Every process keeps the map in memory and, holding the journal's `flock`, reads what the others
appended before it compares or writes, so compare-and-set holds across processes.

Group commit: an operation returns only once an fsync covered every line it wrote or read. One
flusher thread per journal syncs the file while new lines queue up behind it; each flush settles
every waiter it covers. A process killed between its append and the flush loses nothing it
acknowledged (it never acknowledged it), and whoever reads that line next flushes it before acting.

When the file has grown past twice its live lines (and `min_compact` bytes), the flusher writes the
live records to a new file, fsyncs it and renames it over the journal; the other processes see the
new inode and reload. Everything in the old file is in the durable new one, so waits on it are over.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ._files import fsync_folder, replace_file

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MIN_COMPACT = 1 << 20
FLUSHER_IDLE = 2.0
FLUSHERS = 2  # a second flush may start while one is under way, so a new line never waits for two in a row
_datasync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)
T = TypeVar("T")
Matcher = Callable[[Any], bool]
Adopt = Callable[[], Iterable[tuple[Path, str, Any, float | None]]]
File = tuple[str, str]  # a file's path (relative to the journal's folder) and its content
_Waiter = tuple[int, int, asyncio.AbstractEventLoop, "asyncio.Future[None]"]


def _line(
    key: str | None, value: Any = None, expires: float | None = None, *, delete: bool = False, file: File | None = None
) -> bytes:
    record: dict[str, Any] = {} if key is None else {"k": key} if delete else {"k": key, "v": value, "x": expires}
    if file is not None:
        record.update(f=file[0], b=file[1])
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


def _expires(ttl: float | None) -> float | None:
    return None if ttl is None else time.time() + ttl


def _sync_file(path: Path) -> None:
    """Fsync `path` if it is there (one deleted since was deleted on purpose)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_files(folder: Path, names: frozenset[str]) -> None:
    for name in names:
        _sync_file(folder / name)
    for parent in {(folder / name).parent for name in names}:
        fsync_folder(parent)


def _restore(path: Path, content: bytes) -> None:
    """After a crash: write a vouched-for file again, durably, when it is missing or was cut short."""
    try:
        json.loads(path.read_bytes())
        return
    except (FileNotFoundError, ValueError):
        pass
    replace_file(path, content)
    fsync_folder(path.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Journal:
    """A key-value map with compare-and-set in one append-only file, shared by processes."""

    def __init__(self, path: Path, *, min_compact: int = MIN_COMPACT, adopt: Adopt | None = None) -> None:
        self.path = path
        self.min_compact = min_compact
        self._adopt = adopt
        self._mutex = threading.Lock()  # this process's critical section: the map, the file, the appends
        self._flush = threading.Condition()  # the group commit: waiters, the flusher, what is durable
        self._values: dict[str, tuple[Any, float | None, int]] = {}  # key -> (value, expires_at, line size)
        self._live = 0
        self._pid = 0
        self._lock_fd = -1
        self._fd = -1
        self._inode: tuple[int, int] | None = None
        self._end = 0  # bytes of the current file read and applied
        self._generation = 0  # bumped whenever the file is replaced: all of the old one is durable then
        self._synced = 0
        self._flushing = 0  # flushes under way
        self._flushing_to = 0  # how far the flushes under way reach
        self._flushers = 0  # flusher threads alive
        self._compacting = False
        self._waiters: list[_Waiter] = []
        self._files: dict[str, str] = {}  # files vouched for since the last compaction

    # --- operations -------------------------------------------------------------------------------

    async def get(self, key: str) -> Any | None:
        return await self._do(lambda: self._value(key))

    async def keys(self) -> list[str]:
        return await self._do(lambda: [key for key in self._values if self._value(key) is not None])

    async def set(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        await self._do(lambda: self._append(_line(key, value, _expires(ttl))))

    async def add(self, key: str, value: Any, *, ttl: float | None = None) -> bool:
        def _add() -> bool:
            if self._value(key) is not None:
                return False
            self._append(_line(key, value, _expires(ttl)))
            return True

        return await self._do(_add)

    async def replace(self, key: str, value: Any, *, match: Matcher, ttl: float | None = None) -> bool:
        def _replace() -> bool:
            current = self._value(key)
            if current is None or not match(current):
                return False
            self._append(_line(key, value, self._values[key][1] if ttl is None else _expires(ttl)))
            return True

        return await self._do(_replace)

    async def discard(self, key: str, *, match: Matcher | None = None, file: File | None = None) -> bool:
        """Compare-and-delete; with `file`, vouch for that file (written without an fsync) in the same line."""

        def _discard() -> bool:
            current = self._value(key)
            gone = current is not None and (match is None or match(current))
            if gone or file is not None:
                self._append(_line(key if gone else None, delete=True, file=file))
            return gone

        return await self._do(_discard)

    async def _do(self, operation: Callable[[], T]) -> T:
        """Run `operation` on the map, then wait until what it wrote or read is durable.

        It runs right here on the event loop when the journal is free at once (no other thread of
        this process in it, no other process holding its flock, nothing to reload): the work is a
        few page-cache reads and one append, cheaper than a trip to a worker thread. Otherwise it
        waits for the journal in a worker thread.
        """
        done = self._try(operation)
        if done is None:
            done = await asyncio.to_thread(self._blocking, operation)
        result, seen = done
        await self._durable(*seen)
        return result

    # --- the map ----------------------------------------------------------------------------------

    def _value(self, key: str) -> Any | None:
        entry = self._values.get(key)
        if entry is None or (entry[1] is not None and entry[1] <= time.time()):
            return None
        return entry[0]

    def _apply(self, line: bytes) -> None:
        try:
            record = json.loads(line)
        except ValueError:
            return  # not a record (cannot happen short of a damaged disk): skip it
        if not isinstance(record, dict):
            return
        if isinstance(record.get("f"), str) and isinstance(record.get("b"), str):
            self._files[record["f"]] = record["b"]
        key = record.get("k")
        if not isinstance(key, str):
            return
        old = self._values.pop(key, None)
        if old is not None:
            self._live -= old[2]
        if "v" in record:
            self._values[key] = (record["v"], record.get("x"), len(line) + 1)
            self._live += len(line) + 1

    def _append(self, line: bytes) -> None:
        _write_all(self._fd, line)
        self._end += len(line)
        self._apply(line[:-1])

    # --- holding the journal ----------------------------------------------------------------------

    def _try(self, operation: Callable[[], T]) -> tuple[T, tuple[int, int]] | None:
        """`operation` under the journal's locks if both are free now and the map only needs catching up."""
        if self._pid != os.getpid() or not self._mutex.acquire(blocking=False):
            return None
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return None
            try:
                if not self._catch_up(reopen=False):
                    return None
                return operation(), (self._generation, self._end)
            finally:
                if fcntl is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()

    def _blocking(self, operation: Callable[[], T]) -> tuple[T, tuple[int, int]]:
        with self._locked():
            return operation(), (self._generation, self._end)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the journal (this process's threads, then other processes) with the map caught up (blocking)."""
        if self._pid not in (0, os.getpid()):
            self._forget_parent()
        with self._mutex:
            if self._pid != os.getpid():
                self._open_lock()  # first use, or a forked child: its own open file, so its own flock
            if fcntl is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                self._catch_up(reopen=True)
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _forget_parent(self) -> None:
        """In a forked child: the parent's threads (its flusher, its lock holders) are not here."""
        self._mutex = threading.Lock()
        self._flush = threading.Condition()
        self._waiters, self._flushing, self._flushers, self._compacting = [], 0, 0, False

    def _open_lock(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        self._pid = os.getpid()
        self._inode = None

    # --- the file ---------------------------------------------------------------------------------

    def _catch_up(self, *, reopen: bool) -> bool:
        """Apply what other processes appended and cut a torn last line; False when the file must be
        (re)loaded and `reopen` is false, since that may read a whole file."""
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            status = None
        if status is None or (status.st_dev, status.st_ino) != self._inode or status.st_size < self._end:
            if not reopen:
                return False
            self._reopen(created=status is None)
            if self._adopt is not None:
                self._adopt_files()
                self._adopt = None
            return True
        self._read_from(self._end, status.st_size)
        return True

    def _reopen(self, *, created: bool) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        if created:
            fsync_folder(self.path.parent)
        status = os.fstat(fd)
        self._swap(fd, (status.st_dev, status.st_ino), end=0, durable=False)
        self._values.clear()
        self._files.clear()
        self._live = 0
        self._read_from(0, status.st_size)
        for name, content in self._files.items():
            _restore(self.path.parent / name, content.encode())

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
            while self._flushing:  # a flush of the old file must not find its descriptor closed
                self._flush.wait()
            if self._fd >= 0:
                os.close(self._fd)
            self._fd, self._inode, self._end = fd, inode, end
            self._flushing_to = 0
            self._generation += 1
            self._synced = end if durable else 0
            self._settle_covered(None)

    def _compact(self, *, synced: frozenset[str]) -> None:
        """Rewrite the live records to a new file and move it over the journal (holding the journal);
        the files it vouched for are fsynced first (those not in `synced` yet), so the new one need not
        mention them."""
        _sync_files(self.path.parent, frozenset(self._files) - synced)
        self._files.clear()
        now = time.time()
        lines = [
            _line(key, value, expires)
            for key, (value, expires, _) in self._values.items()
            if expires is None or expires > now
        ]
        temp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        data = b"".join(lines)
        try:
            _write_all(fd, data)
            os.fsync(fd)
            os.replace(temp, self.path)
        except BaseException:
            os.close(fd)
            temp.unlink(missing_ok=True)
            raise
        fsync_folder(self.path.parent)
        status = os.fstat(fd)
        self._swap(fd, (status.st_dev, status.st_ino), end=len(data), durable=True)
        self._values.clear()
        self._live = 0
        for line in lines:
            self._apply(line[:-1])

    def _too_long(self) -> bool:
        return self._end > max(self.min_compact, 2 * self._live)

    def _adopt_files(self) -> None:
        """Move records kept as files by earlier versions into the journal (once: their files go)."""
        assert self._adopt is not None
        adopted = list(self._adopt())
        for _, key, value, expires in adopted:
            if self._value(key) is None:
                self._append(_line(key, value, expires))
        if adopted:
            _datasync(self._fd)
            for path, *_ in adopted:
                path.unlink(missing_ok=True)

    # --- group commit -----------------------------------------------------------------------------

    async def _durable(self, generation: int, end: int) -> None:
        """Return once the journal is durable up to `end` of file `generation`."""
        loop = asyncio.get_running_loop()
        with self._flush:
            if generation != self._generation or self._synced >= end:
                return
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((generation, end, loop, future))
            if self._flushers < FLUSHERS:
                self._flushers += 1
                threading.Thread(target=self._flush_loop, name=f"journal {self.path}", daemon=True).start()
            elif end > max(self._synced, self._flushing_to):
                # wake one idle flusher, only when no flush under way covers this line (waking costs the loop)
                self._flush.notify()
        await future

    def _unflushed(self) -> bool:
        """Whether someone waits for a line no flush (done or under way) covers."""
        reach = max(self._synced, self._flushing_to)
        return any(waiter[0] == self._generation and waiter[1] > reach for waiter in self._waiters)

    def _flush_loop(self) -> None:
        """A flusher thread: sync whatever is written whenever someone waits for a line no flush covers yet;
        ends when idle a while. Every flush settles every waiter it covers."""
        while True:
            with self._flush:
                idle_until = time.monotonic() + FLUSHER_IDLE
                while not self._unflushed():
                    if time.monotonic() >= idle_until:
                        self._flushers -= 1
                        return
                    self._flush.wait(idle_until - time.monotonic())
                fd, target, generation = self._fd, self._end, self._generation
                self._flushing += 1
                self._flushing_to = max(self._flushing_to, target)
            error: OSError | None = None
            try:
                _datasync(fd)  # makes every line written before it started durable, whatever else runs
            except OSError as failure:
                error = failure
            with self._flush:
                self._flushing -= 1
                if error is None and generation == self._generation:
                    self._synced = max(self._synced, target)
                if not self._flushing:
                    self._flushing_to = self._synced  # a failed flush covers nothing
                self._settle_covered(error)
                self._flush.notify_all()
            if error is None and self._too_long():
                with self._flush:
                    start, self._compacting = not self._compacting, True
                if start:
                    threading.Thread(target=self._compact_aside, name=f"compact {self.path}", daemon=True).start()

    def _compact_aside(self) -> None:
        """Compact in a thread of its own: flushes go on meanwhile, and so do writers while the
        vouched-for files are fsynced (before the journal is held)."""
        try:
            with self._mutex:
                files = frozenset(self._files)
            _sync_files(self.path.parent, files)
            with self._locked():
                if self._too_long():
                    self._compact(synced=files)
        finally:
            with self._flush:
                self._compacting = False

    def _settle_covered(self, error: OSError | None) -> None:
        """Wake the waiters the last flush (or a new file) covered; on a failed flush, all of them fail."""
        covered: list[_Waiter] = []
        waiting: list[_Waiter] = []
        for waiter in self._waiters:
            done = error is not None or waiter[0] != self._generation or waiter[1] <= self._synced
            (covered if done else waiting).append(waiter)
        self._waiters = waiting
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for _, _, loop, future in covered:
            by_loop.setdefault(loop, []).append(future)
        for loop, futures in by_loop.items():
            with contextlib.suppress(RuntimeError):  # its loop closed meanwhile: nobody waits any more
                loop.call_soon_threadsafe(_settle, futures, error)


def _settle(futures: list[asyncio.Future[None]], error: OSError | None) -> None:
    for future in futures:
        if not future.done():
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
