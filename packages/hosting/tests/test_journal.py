"""The folder's turn ledger in one journal file: durable before each step returns, shared by processes, bounded."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from agent_framework_hosting import DeliveryOptions, FileStateStore, TurnLedger
from agent_framework_hosting import _journal as journal_module
from agent_framework_hosting._claims import CLAIMS
from agent_framework_hosting._journal import Journal
from agent_framework_hosting._ledger import LEDGER


class Syncs:
    """Records, for every flush of the journal, how long the file was when the flush started."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sizes: list[int] = []
        real = journal_module._datasync

        def recording(fd: int) -> None:
            self.sizes.append(os.fstat(fd).st_size)
            real(fd)

        monkeypatch.setattr(journal_module, "_datasync", recording)


def run_python(code: str, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True, timeout=timeout
    )


async def test_each_write_returns_only_after_a_flush_covered_its_line(tmp_path: Path, monkeypatch) -> None:
    syncs = Syncs(monkeypatch)
    store = FileStateStore(tmp_path)
    journal = tmp_path / "ledger.journal"
    assert await store.add(LEDGER, "chat:1", {"owner": "a", "status": "accepted"})
    assert syncs.sizes and max(syncs.sizes) >= journal.stat().st_size
    assert await store.replace(LEDGER, "chat:1", {"owner": "a", "status": "replying"}, match={"owner": "a"})
    assert max(syncs.sizes) >= journal.stat().st_size
    assert await store.discard(LEDGER, "chat:1", match={"owner": "a"})
    assert max(syncs.sizes) >= journal.stat().st_size
    assert not await store.replace(LEDGER, "chat:1", {"owner": "b"}, match={"owner": "a"})


async def test_an_accepted_delivery_is_visible_to_another_process_before_accept_returns(tmp_path: Path) -> None:
    ledger = TurnLedger(FileStateStore(tmp_path), DeliveryOptions(lease=30.0))
    ticket = await ledger.accept("chat", "7", {"text": "hi"})
    assert ticket is not None
    reader = """
        import asyncio, json, sys
        from agent_framework_hosting import FileStateStore
        print(json.dumps(asyncio.run(FileStateStore(sys.argv[1]).get("ledger", "chat:7"))))
    """
    seen = json.loads(run_python(reader, str(tmp_path)).stdout)
    assert seen["payload"] == {"text": "hi"} and seen["status"] == "accepted" and seen["owner"] == ticket.owner
    await ledger.handle(ticket, _nothing)
    assert json.loads(run_python(reader, str(tmp_path)).stdout) is None
    assert await FileStateStore(tmp_path).get(CLAIMS, "chat:7") == {"status": "done"}


async def test_concurrent_writes_share_flushes(tmp_path: Path, monkeypatch) -> None:
    syncs = Syncs(monkeypatch)
    store = FileStateStore(tmp_path)
    added = await asyncio.gather(*(store.add(LEDGER, f"chat:{n}", {"n": n}) for n in range(50)))
    assert all(added)
    assert len(syncs.sizes) < 25
    assert sorted(await FileStateStore(tmp_path).keys(LEDGER)) == sorted(f"chat:{n}" for n in range(50))


def test_a_line_written_by_a_process_killed_before_its_flush_is_flushed_by_the_next_reader(
    tmp_path: Path, monkeypatch
) -> None:
    dying = """
        import asyncio, os, sys
        from agent_framework_hosting import FileStateStore
        from agent_framework_hosting import _journal
        _journal._datasync = lambda fd: os._exit(137)  # killed between the append and the flush
        asyncio.run(FileStateStore(sys.argv[1]).add("ledger", "chat:9", {"text": "unacknowledged"}))
        print("acknowledged")
    """
    died = run_python(dying, str(tmp_path))
    assert died.returncode == 137 and "acknowledged" not in died.stdout
    syncs = Syncs(monkeypatch)
    # the line is in the page cache: the next process sees it, and flushes it before it acts on it
    assert asyncio.run(FileStateStore(tmp_path).get(LEDGER, "chat:9")) == {"text": "unacknowledged"}
    assert syncs.sizes and syncs.sizes[-1] >= (tmp_path / "ledger.journal").stat().st_size


async def test_a_torn_last_line_is_cut_off_and_the_journal_stays_usable(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    assert await store.add(LEDGER, "chat:1", {"n": 1})
    journal = tmp_path / "ledger.journal"
    whole = journal.stat().st_size
    journal.write_bytes(journal.read_bytes() + b'{"k":"chat:2","v":{"n"')  # a writer died mid-line
    fresh = FileStateStore(tmp_path)
    assert await fresh.keys(LEDGER) == ["chat:1"]
    assert journal.stat().st_size == whole
    assert await fresh.add(LEDGER, "chat:2", {"n": 2})
    assert await FileStateStore(tmp_path).get(LEDGER, "chat:2") == {"n": 2}


async def test_the_journal_stays_bounded_and_other_stores_follow_its_compaction(tmp_path: Path) -> None:
    path = tmp_path / "ledger.journal"
    writer, follower = Journal(path, min_compact=4096), Journal(path, min_compact=4096)
    await writer.set("kept", {"payload": "x" * 50})
    assert await follower.get("kept") == {"payload": "x" * 50}
    largest = 0
    for n in range(1500):
        assert await writer.add(f"chat:{n}", {"payload": "y" * 50})
        assert await writer.discard(f"chat:{n}")
        largest = max(largest, path.stat().st_size)
    for _ in range(100):  # the flusher compacts after its flush: wait for it, bounded
        if path.stat().st_size < 8_000:
            break
        await asyncio.sleep(0.05)
    assert largest < 16_000 and path.stat().st_size < 8_000
    assert await follower.keys() == ["kept"]
    assert await follower.add("late", 1)
    assert sorted(await writer.keys()) == ["kept", "late"]
    assert sorted(await Journal(path).keys()) == ["kept", "late"]


def test_processes_sharing_the_folder_add_each_key_exactly_once(tmp_path: Path) -> None:
    racer = """
        import asyncio, sys
        from agent_framework_hosting import FileStateStore

        async def main():
            store = FileStateStore(sys.argv[1])
            won = await asyncio.gather(*(store.add("ledger", f"k{n}", {"by": sys.argv[2]}) for n in range(150)))
            print(" ".join(f"k{n}" for n, ok in enumerate(won) if ok))

        asyncio.run(main())
    """
    code = textwrap.dedent(racer)
    racers = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path), name], stdout=subprocess.PIPE, text=True)
        for name in ("a", "b", "c")
    ]
    won = [set(racer.communicate(timeout=30)[0].split()) for racer in racers]
    assert all(racer.returncode == 0 for racer in racers)
    assert set().union(*won) == {f"k{n}" for n in range(150)}
    assert sum(len(each) for each in won) == 150
    stored = asyncio.run(FileStateStore(tmp_path).keys(LEDGER))
    assert len(stored) == 150


async def test_ledger_entries_kept_as_files_by_earlier_versions_are_adopted(tmp_path: Path) -> None:
    old = tmp_path / "ledger"
    old.mkdir()
    (old / "chat%3A3.json").write_text(json.dumps({"key": "chat:3", "expires_at": None, "value": {"owner": "o"}}))
    store = FileStateStore(tmp_path)
    assert await store.keys(LEDGER) == ["chat:3"]
    assert await store.get(LEDGER, "chat:3") == {"owner": "o"}
    assert list(old.glob("*.json")) == []
    assert await FileStateStore(tmp_path).discard(LEDGER, "chat:3", match={"owner": "o"})


async def test_records_with_a_ttl_expire(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    await store.set(LEDGER, "brief", 1, ttl=0.05)
    assert await store.get(LEDGER, "brief") == 1
    await asyncio.sleep(0.1)
    assert await store.get(LEDGER, "brief") is None
    assert await store.add(LEDGER, "brief", 2)


async def _nothing() -> None:
    return None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_uses_its_own_lock_and_flusher(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    assert asyncio.run(store.add(LEDGER, "parent", 1))
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        ok = False
        try:
            ok = asyncio.run(store.add(LEDGER, "child", 2)) and asyncio.run(store.get(LEDGER, "parent")) == 1
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert asyncio.run(store.get(LEDGER, "child")) == 2


@pytest.mark.parametrize("loss", ["missing", "cut short"])
async def test_a_done_mark_the_disk_lost_is_restored_from_the_journal(tmp_path: Path, loss: str) -> None:
    ledger = TurnLedger(FileStateStore(tmp_path), DeliveryOptions(lease=30.0))
    ticket = await ledger.accept("chat", "7", {"text": "hi"})
    assert ticket is not None
    await ledger.handle(ticket, _nothing)
    done = tmp_path / "idempotency" / "chat%3A7.json"
    # the done mark is written without an fsync of its own; a power cut may take it (the journal vouches for it)
    done.unlink() if loss == "missing" else done.write_bytes(b"")
    restarted = TurnLedger(FileStateStore(tmp_path), DeliveryOptions(lease=30.0))
    assert await restarted.accept("chat", "7", {"text": "hi"}) is None
    assert json.loads(done.read_bytes())["value"] == {"status": "done"}
    assert await FileStateStore(tmp_path).keys(LEDGER) == []


async def test_compaction_fsyncs_the_done_marks_and_then_forgets_them(tmp_path: Path, monkeypatch) -> None:
    synced: list[Path] = []
    real = journal_module._sync_file
    monkeypatch.setattr(journal_module, "_sync_file", lambda path: (synced.append(path), real(path)))
    store = FileStateStore(tmp_path)
    store._journals[LEDGER].min_compact = 4096  # type: ignore[attr-defined]
    ledger = TurnLedger(store, DeliveryOptions(lease=30.0))
    for n in range(60):
        ticket = await ledger.accept("chat", str(n), {"text": "x" * 40})
        assert ticket is not None
        await ledger.handle(ticket, _nothing)
    await asyncio.sleep(0.2)  # the flusher compacts after its flush
    names = {path.name for path in synced}
    assert {"chat%3A0.json", "chat%3A1.json"} <= names
    journal = (tmp_path / "ledger.journal").read_bytes()
    assert len(journal) < 4096
    vouched = [line for line in journal.splitlines() if b'"f":' in line]
    assert len(vouched) < 60 and not any(b"chat%3A0.json" in line for line in vouched)


async def test_a_failed_flush_fails_its_writers_and_later_writes_are_flushed(tmp_path: Path, monkeypatch) -> None:
    real, failures = journal_module._datasync, [OSError(5, "I/O error")]

    def failing_once(fd: int) -> None:
        if failures:
            raise failures.pop()
        real(fd)

    monkeypatch.setattr(journal_module, "_datasync", failing_once)
    store = FileStateStore(tmp_path)
    with pytest.raises(OSError):
        await store.add(LEDGER, "chat:1", {"n": 1})
    # its line is in the file all the same: a reader waits for a flush that covers it, which now succeeds
    assert await asyncio.wait_for(store.get(LEDGER, "chat:1"), 5) == {"n": 1}
    assert await asyncio.wait_for(store.add(LEDGER, "chat:2", {"n": 2}), 5)
    assert sorted(await asyncio.wait_for(FileStateStore(tmp_path).keys(LEDGER), 5)) == ["chat:1", "chat:2"]
