"""The live-edit loop every streaming chat channel uses: never holds back the stream, paced, coalesced, final flush."""

from __future__ import annotations

import time

import anyio
import pytest
from agent_framework_hosting.streaming import STOP, LiveEdit


class Platform:
    """A fake platform: records every call (text, start, end); each call takes `delay` seconds."""

    def __init__(self, delay: float = 0.0, answers: list[float | None] | None = None) -> None:
        self.delay = delay
        self.calls: list[tuple[str, float, float]] = []
        self.answers = list(answers or [])
        self.in_flight = 0
        self.most_in_flight = 0

    async def show(self, text: str) -> float | None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        start = time.monotonic()
        try:
            await anyio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        self.calls.append((text, start, time.monotonic()))
        return self.answers.pop(0) if self.answers else None

    @property
    def texts(self) -> list[str]:
        return [text for text, _, _ in self.calls]


async def test_adding_never_waits_for_a_slow_platform_and_pending_text_is_coalesced() -> None:
    platform = Platform(delay=0.3)
    async with LiveEdit(platform.show, min_interval=0.0) as live:
        started = time.monotonic()
        for i in range(50):
            live.add(f"w{i} ")
            await anyio.sleep(0.01)
        added_in = time.monotonic() - started
    assert added_in < 0.3 * 3, "add() waited for the platform"
    assert 1 <= len(platform.calls) <= 4, platform.texts
    assert platform.most_in_flight == 1
    assert all(later.startswith(earlier) for earlier, later in zip(platform.texts, platform.texts[1:], strict=False))


async def test_calls_keep_the_platforms_minimum_interval_and_only_for_new_text() -> None:
    platform = Platform()
    async with LiveEdit(platform.show, min_interval=0.1) as live:
        for i in range(30):
            live.add(f"w{i} ")
            await anyio.sleep(0.01)
        await anyio.sleep(0.25)
    gaps = [later[1] - earlier[2] for earlier, later in zip(platform.calls, platform.calls[1:], strict=False)]
    assert len(platform.calls) >= 3
    assert all(gap >= 0.09 for gap in gaps), gaps
    assert platform.texts[-1] == "".join(f"w{i} " for i in range(30)), "the last text was not shown once idle"
    assert len(set(platform.texts)) == len(platform.texts)


async def test_leaving_the_block_waits_for_the_call_in_flight_and_shows_nothing_more() -> None:
    platform = Platform(delay=0.2)
    async with LiveEdit(platform.show, min_interval=0.0) as live:
        live.add("first")
        await anyio.sleep(0.05)
        live.add(" second")
    left = time.monotonic()
    assert platform.texts == ["first"]
    assert platform.calls[0][2] <= left, "an interim edit landed after the block ended"
    await anyio.sleep(0.1)
    assert platform.texts == ["first"]


async def test_flush_shows_the_final_text_at_the_platforms_pace() -> None:
    platform = Platform()
    async with LiveEdit(platform.show, min_interval=0.2) as live:
        live.add("partial")
        await anyio.sleep(0.05)
        live.add(" and the rest")
    assert await live.flush() is True
    assert platform.texts == ["partial", "partial and the rest"]
    assert platform.calls[1][1] - platform.calls[0][2] >= 0.19
    assert await live.flush() is True and len(platform.calls) == 2, "nothing new: no call"


async def test_a_text_longer_than_the_limit_ends_live_updates_and_flush_leaves_it_to_the_channel() -> None:
    platform = Platform()
    async with LiveEdit(platform.show, min_interval=0.0, limit=10) as live:
        live.add("short ")
        await anyio.sleep(0.05)
        live.add("and now too long")
        await anyio.sleep(0.05)
        assert live.stopped
    assert platform.texts == ["short "]
    assert await live.flush() is False
    assert live.text == "short and now too long"


async def test_a_hold_from_the_platform_delays_the_next_call_and_stop_ends_updates() -> None:
    platform = Platform(answers=[0.3, STOP])
    async with LiveEdit(platform.show, min_interval=0.0) as live:
        live.add("a")
        await anyio.sleep(0.05)
        live.add("b")
        await anyio.sleep(0.5)
        live.add("c")
        await anyio.sleep(0.05)
    assert platform.texts == ["a", "ab"]
    assert platform.calls[1][1] - platform.calls[0][2] >= 0.29
    assert live.stopped and await live.flush() is False


async def test_a_failing_call_is_logged_and_the_next_update_tries_again(caplog: pytest.LogCaptureFixture) -> None:
    texts: list[str] = []

    async def show(text: str) -> None:
        texts.append(text)
        if len(texts) == 1:
            raise RuntimeError("platform said no")

    async with LiveEdit(show, min_interval=0.0) as live:
        live.add("one")
        await anyio.sleep(0.05)
        live.add(" two")
        await anyio.sleep(0.05)
    assert texts == ["one", "one two"]
    assert "a live update failed" in caplog.text


async def test_cancelling_the_consumer_cancels_the_call_in_flight() -> None:
    platform = Platform(delay=5.0)
    with anyio.move_on_after(0.2):
        async with LiveEdit(platform.show, min_interval=0.0) as live:
            live.add("x")
            await anyio.sleep(10)
    assert platform.calls == [] and platform.in_flight == 0
