"""`Handoff`: one producer's items reach one consumer in order, with the producer held back at the limit."""

from __future__ import annotations

import asyncio

import pytest
from agent_framework_hosting._handoff import Handoff


async def test_items_arrive_in_order_and_a_waiting_consumer_wakes_for_the_next() -> None:
    handoff: Handoff[int] = Handoff(4)
    consumer = asyncio.ensure_future(handoff.get())
    await asyncio.sleep(0)
    assert not consumer.done()
    await handoff.put(1)
    await handoff.put(2)
    assert await asyncio.wait_for(consumer, 1) == 1
    assert len(handoff) == 1 and await handoff.get() == 2 and len(handoff) == 0


async def test_a_producer_at_the_limit_waits_until_an_item_is_taken() -> None:
    handoff: Handoff[int] = Handoff(2)
    await handoff.put(1)
    await handoff.put(2)
    producer = asyncio.ensure_future(handoff.put(3))
    await asyncio.sleep(0.01)
    assert not producer.done() and len(handoff) == 2
    assert handoff.get_nowait() == 1
    await asyncio.wait_for(producer, 1)
    assert [handoff.get_nowait(), handoff.get_nowait()] == [2, 3]
    with pytest.raises(IndexError):
        handoff.get_nowait()


async def test_a_cancelled_wait_leaves_the_handoff_usable() -> None:
    handoff: Handoff[int] = Handoff(1)
    consumer = asyncio.ensure_future(handoff.get())
    await asyncio.sleep(0)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    await handoff.put(7)
    blocked = asyncio.ensure_future(handoff.put(8))
    await asyncio.sleep(0)
    blocked.cancel()
    with pytest.raises(asyncio.CancelledError):
        await blocked
    assert await asyncio.wait_for(handoff.get(), 1) == 7 and len(handoff) == 0
