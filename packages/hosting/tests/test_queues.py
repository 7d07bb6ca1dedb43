"""ConversationQueues: one conversation's jobs in order, conversations in parallel, nothing kept when idle."""

from __future__ import annotations

import asyncio
import logging

import pytest
from agent_framework_hosting.queues import ConversationQueues


def spawner(tasks: list[asyncio.Task[None]]):  # type: ignore[no-untyped-def]
    def spawn(work):  # type: ignore[no-untyped-def]
        task = asyncio.get_running_loop().create_task(work)
        tasks.append(task)
        return task

    return spawn


async def test_jobs_of_one_key_run_in_order_and_keys_run_in_parallel() -> None:
    tasks: list[asyncio.Task[None]] = []
    queues = ConversationQueues(spawner(tasks))
    log: list[str] = []
    release_a = asyncio.Event()

    def job(name: str, wait: asyncio.Event | None = None):  # type: ignore[no-untyped-def]
        async def run() -> None:
            log.append(f"start {name}")
            if wait is not None:
                await wait.wait()
            log.append(f"end {name}")

        return run

    queues.submit("a", job("a1", release_a))
    queues.submit("a", job("a2"))
    queues.submit("b", job("b1"))
    await asyncio.sleep(0.05)
    assert log == ["start a1", "start b1", "end b1"]
    assert queues.busy() == 1
    release_a.set()
    await asyncio.gather(*tasks)
    assert log == ["start a1", "start b1", "end b1", "end a1", "start a2", "end a2"]
    assert queues.busy() == 0


async def test_a_failing_job_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    tasks: list[asyncio.Task[None]] = []
    queues = ConversationQueues(spawner(tasks), label="test")
    ran: list[str] = []

    async def boom() -> None:
        raise RuntimeError("boom")

    async def fine() -> None:
        ran.append("fine")

    with caplog.at_level(logging.ERROR):
        queues.submit("k", boom)
        queues.submit("k", fine)
        queues.submit(None, fine)
        await asyncio.gather(*tasks)
    assert ran == ["fine", "fine"]
    assert "test: a queued job failed" in caplog.text


async def test_cancelling_a_worker_reports_the_jobs_it_drops(caplog: pytest.LogCaptureFixture) -> None:
    tasks: list[asyncio.Task[None]] = []
    queues = ConversationQueues(spawner(tasks), label="test")

    async def forever() -> None:
        await asyncio.Event().wait()

    queues.submit("k", forever)
    queues.submit("k", forever)
    queues.submit("k", forever)
    await asyncio.sleep(0.01)
    tasks[0].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert "dropping 2 queued job(s) for k" in caplog.text
    assert queues.busy() == 0
