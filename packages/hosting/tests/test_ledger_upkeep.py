"""The ledger's lease upkeep: renewing what is due, without stalling the event loop under a backlog."""

from __future__ import annotations

import asyncio
import time

from agent_framework_hosting import DeliveryOptions, MemoryStateStore, TurnLedger
from agent_framework_hosting._ledger import LEDGER, RENEW_BATCH, REPLYING


async def accepted(ledger: TurnLedger, count: int) -> list[str]:
    keys = []
    for number in range(count):
        ticket = await ledger.accept("chat", str(number), {"text": "hi"})
        assert ticket is not None
        keys.append(ticket.key)
    return keys


async def lease_of(store: MemoryStateStore, key: str) -> float:
    entry = await store.get(LEDGER, key)
    return float(entry["lease_until"])


async def test_renewal_skips_only_leases_written_in_the_last_sixth_of_a_lease() -> None:
    store = MemoryStateStore(pinned=[LEDGER])
    ledger = TurnLedger(store, DeliveryOptions(lease=30.0))
    old, fresh = await accepted(ledger, 2)
    aged = {**ledger._held[old].entry, "lease_until": time.time() + 5.0}  # 25 s of 30 gone
    await store.set(LEDGER, old, aged)
    ledger._held[old].entry = aged
    fresh_lease = await lease_of(store, fresh)
    await ledger.renew()
    assert await lease_of(store, old) > time.time() + 29.0
    assert await lease_of(store, fresh) == fresh_lease


async def test_marking_progress_extends_the_lease() -> None:
    store = MemoryStateStore(pinned=[LEDGER])
    ledger = TurnLedger(store, DeliveryOptions(lease=30.0))
    (key,) = await accepted(ledger, 1)
    ticket = ledger._held[key]
    aged = {**ticket.entry, "lease_until": time.time() + 1.0}
    await store.set(LEDGER, key, aged)
    ticket.entry = aged
    await ticket.mark(REPLYING)
    entry = await store.get(LEDGER, key)
    assert entry["status"] == REPLYING and entry["lease_until"] > time.time() + 29.0


async def test_renewing_a_backlog_lets_other_work_run_between_batches() -> None:
    store = MemoryStateStore(pinned=[LEDGER])
    ledger = TurnLedger(store, DeliveryOptions(lease=30.0))
    keys = await accepted(ledger, RENEW_BATCH * 4)
    for key in keys:  # every lease is due
        ledger._held[key].entry = {**ledger._held[key].entry, "lease_until": 0.0}
    ticks = 0

    async def other_work() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    before = ticks
    await ledger.renew()
    during = ticks - before
    other.cancel()
    assert during >= 3  # the memory store never suspends, so only the batches' yields let it in
    assert min([await lease_of(store, key) for key in keys]) > time.time() + 29.0


async def test_handling_writes_no_running_mark_and_settles_the_entry() -> None:
    store = MemoryStateStore(pinned=[LEDGER, "idempotency"])
    ledger = TurnLedger(store, DeliveryOptions(lease=30.0))
    (key,) = await accepted(ledger, 1)
    seen: list[str] = []

    async def work() -> None:
        seen.append((await store.get(LEDGER, key))["status"])

    await ledger.handle(ledger._held[key], work)
    assert seen == ["accepted"]
    assert await store.get(LEDGER, key) is None
    assert await ledger.accept("chat", "0", {"text": "hi"}) is None  # answered: a repeat is dropped


async def test_a_repeat_of_a_delivery_held_here_is_a_duplicate_even_once_its_lease_lapsed() -> None:
    store = MemoryStateStore(pinned=[LEDGER, "idempotency"])
    ledger = TurnLedger(store, DeliveryOptions(lease=30.0))
    (key,) = await accepted(ledger, 1)
    lapsed = {**ledger._held[key].entry, "lease_until": 0.0}  # queued behind a long turn, never renewed
    await store.set(LEDGER, key, lapsed)
    ledger._held[key].entry = lapsed
    assert await ledger.accept("chat", "0", {"text": "hi"}) is None
    assert (await store.get(LEDGER, key))["owner"] == lapsed["owner"]


async def test_leases_in_a_process_local_store_are_not_rewritten_by_the_upkeep() -> None:
    store = MemoryStateStore(pinned=[LEDGER])
    ledger = TurnLedger(store, DeliveryOptions(lease=0.3))
    (key,) = await accepted(ledger, 1)
    entry = await store.get(LEDGER, key)
    await ledger.start(lambda work: asyncio.get_running_loop().create_task(work))
    try:
        await asyncio.sleep(0.5)  # past a renewal period and a whole lease
        assert await store.get(LEDGER, key) is entry
        assert key in ledger._held
    finally:
        await ledger.stop()
