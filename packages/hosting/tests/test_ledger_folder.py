"""The ledger on a state folder: each step durable when it returns, in as few trips to the disk thread as it can."""

from __future__ import annotations

from pathlib import Path

from agent_framework_hosting import DeliveryOptions, FileStateStore, TurnLedger
from agent_framework_hosting._claims import CLAIMS
from agent_framework_hosting._ledger import LEDGER


async def test_add_and_get_adds_once_and_reads_the_other_key(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    await store.set(CLAIMS, "chat:1", {"status": "done"})
    assert await store.add_and_get(LEDGER, "chat:1", {"n": 1}, read=(CLAIMS, "chat:1")) == (True, {"status": "done"})
    assert await store.add_and_get(LEDGER, "chat:1", {"n": 2}, read=(CLAIMS, "chat:1")) == (False, None)
    assert await store.add_and_get(LEDGER, "chat:2", {"n": 3}, read=(CLAIMS, "chat:2")) == (True, None)
    assert await store.get(LEDGER, "chat:1") == {"n": 1}


async def test_an_accepted_delivery_is_on_disk_before_accept_returns(tmp_path: Path) -> None:
    ledger = TurnLedger(FileStateStore(tmp_path), DeliveryOptions(lease=30.0))
    ticket = await ledger.accept("chat", "7", {"text": "hi"})
    assert ticket is not None
    elsewhere = FileStateStore(tmp_path)  # what a restarted process reads
    entry = await elsewhere.get(LEDGER, "chat:7")
    assert entry["payload"] == {"text": "hi"} and entry["status"] == "accepted"
    await ledger.handle(ticket, _nothing)
    assert await elsewhere.get(LEDGER, "chat:7") is None
    assert await elsewhere.get(CLAIMS, "chat:7") == {"status": "done"}
    assert await ledger.accept("chat", "7", {"text": "hi"}) is None


async def _nothing() -> None:
    return None
