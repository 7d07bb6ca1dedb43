"""A state folder whose disk refuses writes: the write fails, nothing half-written is left, and no value changes.

The disk is "full" through `RLIMIT_FSIZE` lowered to 0 for the duration of the write: every write that
would grow a file then fails with EFBIG, as it fails with ENOSPC on a full disk (Python ignores SIGXFSZ).
"""

from __future__ import annotations

import contextlib
import resource
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_framework_hosting import FileStateStore
from agent_framework_hosting._ledger import LEDGER


@contextlib.contextmanager
def disk_full() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def leftovers(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.name.endswith(".tmp")]


async def test_a_record_write_that_fails_keeps_the_old_value_and_leaves_no_temp_file(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    await store.set("sessions", "chat:1", {"turns": 1})
    with disk_full(), pytest.raises(OSError):
        await store.set("sessions", "chat:1", {"turns": 2, "padding": "x" * 100})
    assert await store.get("sessions", "chat:1") == {"turns": 1}
    assert leftovers(tmp_path) == []
    await store.set("sessions", "chat:1", {"turns": 2})
    assert await store.get("sessions", "chat:1") == {"turns": 2}


async def test_a_ledger_entry_the_journal_could_not_append_was_never_accepted(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    assert await store.add(LEDGER, "telegram:1", {"state": "accepted"})
    with disk_full(), pytest.raises(OSError):
        await store.add(LEDGER, "telegram:2", {"state": "accepted", "padding": "x" * 100})
    assert await store.get(LEDGER, "telegram:2") is None
    assert await FileStateStore(tmp_path).get(LEDGER, "telegram:2") is None
    assert await store.add(LEDGER, "telegram:2", {"state": "accepted"}), "the delivery is accepted once room returns"
    assert sorted(await FileStateStore(tmp_path).keys(LEDGER)) == ["telegram:1", "telegram:2"]
