"""Long-polling mode: lifecycle, offsets confirmed only after handling, dedupe across restarts, the lease."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import httpx
from agent_framework_hosting.testing import OfflineChatClient, eventually

sys.path.insert(0, os.path.dirname(__file__))
from telegram_fake import FakeBotApi, message_update, serve_bot  # noqa: E402


async def test_polling_deletes_the_webhook_then_answers_updates(fake: FakeBotApi) -> None:
    fake.push_update(message_update(1, "hi", chat_id=1))
    fake.push_update(message_update(2, "hey", chat_id=2))
    with serve_bot(fake) as bot:
        await eventually(lambda: fake.sent_texts(1) and fake.sent_texts(2), message="both replies")
        assert [c.method for c in fake.calls].index("deleteWebhook") < [c.method for c in fake.calls].index(
            "getUpdates"
        )
        assert fake.of("deleteWebhook") == [{"drop_pending_updates": False}]
        first_poll = fake.of("getUpdates")[0]
        assert first_poll["allowed_updates"] == ["message", "edited_message", "callback_query"]
        assert "offset" not in first_poll
        async with httpx.AsyncClient() as http:
            assert (await http.post(bot.url + "/telegram/webhook", json={"update_id": 9})).status_code == 404
    assert fake.of("setWebhook") == []


async def test_the_loop_stops_with_the_host_and_confirms_what_it_handled(fake: FakeBotApi) -> None:
    fake.push_update(message_update(10, "hi"))
    with serve_bot(fake):
        await eventually(lambda: fake.sent_texts(42), message="the reply")
    polls = len(fake.of("getUpdates"))
    assert fake.offsets[-1] == 11
    assert fake.pending_ids() == []
    await asyncio.sleep(0.5)
    assert len(fake.of("getUpdates")) == polls


async def test_an_update_is_confirmed_only_after_it_was_handled(fake: FakeBotApi) -> None:
    client = OfflineChatClient(chunk_delay=0.15)
    slow = " ".join(["slow"] * 20)  # ~3 s of streaming
    fake.push_update(message_update(1, slow, chat_id=1))
    fake.push_update(message_update(2, "fast", chat_id=2))

    def shown(chat_id: int) -> str:
        messages = fake.current(chat_id)
        return messages[0]["visible"] if messages else ""

    with serve_bot(fake, client=client, stream=True, stream_edit_min_interval=0):
        await eventually(lambda: shown(2) == "echo 1: fast", message="the fast chat's reply")
        assert shown(1) != f"echo 1: {slow}"  # chats run in parallel: the fast one did not wait
        await eventually(lambda: 1 in fake.offsets, message="a poll while update 1 runs")
        offsets_while_busy = list(fake.offsets)
        assert shown(1) != f"echo 1: {slow}"
        await eventually(lambda: shown(1) == f"echo 1: {slow}", message="the slow chat's reply")
        await eventually(lambda: 3 in fake.offsets, message="the offset after both")
    assert all(offset in (None, 1) for offset in offsets_while_busy)
    assert len(client.calls) == 2  # re-fetched update 1 was not run again


async def test_one_chats_updates_run_in_order(fake: FakeBotApi) -> None:
    for update_id, text in enumerate(["a", "b", "c"], start=1):
        fake.push_update(message_update(update_id, text))
    with serve_bot(fake, client=OfflineChatClient(chunk_delay=0.02), stream=True, stream_edit_min_interval=0):
        await eventually(
            lambda: len(fake.current(42)) == 3 and fake.current(42)[-1]["visible"] == "echo 3: c", message="replies"
        )
        assert [m["visible"] for m in fake.current(42)] == ["echo 1: a", "echo 2: b", "echo 3: c"]


async def test_a_redelivered_update_after_a_restart_does_not_run_twice(fake: FakeBotApi, tmp_path) -> None:  # type: ignore[no-untyped-def]
    update = message_update(50, "once")
    fake.push_update(update)
    with serve_bot(fake, host_kwargs={"state_dir": tmp_path}) as first:
        await eventually(lambda: fake.sent_texts(42), message="the reply")
        assert len(first.client.calls) == 1
    fake.push_update(update)  # Telegram delivers it again (e.g. the confirmation was lost in a crash)
    fake.push_update(message_update(51, "next"))
    with serve_bot(fake, host_kwargs={"state_dir": tmp_path}) as second:
        await eventually(lambda: len(fake.sent_texts(42)) == 2, message="the next reply")
        await asyncio.sleep(0.2)
        assert fake.sent_texts(42) == ["echo 1: once", "echo 2: next"]
        assert len(second.client.calls) == 1


async def test_getupdates_errors_back_off_instead_of_spinning(fake: FakeBotApi) -> None:
    fake.fail("getUpdates", "5xx", times=2)
    fake.push_update(message_update(1, "hi"))
    with serve_bot(fake):
        started = time.monotonic()
        await eventually(lambda: fake.sent_texts(42), message="the reply")
        assert time.monotonic() - started >= 2.5  # waited 1 s, then 2 s
        assert len(fake.of("getUpdates")) >= 3


class SwitchLease:
    def __init__(self) -> None:
        self.leader = False
        self.asked = 0
        self.released = False

    async def acquire(self) -> bool:
        self.asked += 1
        return self.leader

    async def release(self) -> None:
        self.released = True


async def test_a_process_without_the_lease_does_not_poll(fake: FakeBotApi) -> None:
    from agent_framework_hosting_telegram import PollingLease

    lease = SwitchLease()
    assert isinstance(lease, PollingLease)
    fake.push_update(message_update(1, "hi"))
    with serve_bot(fake, polling_lease=lease):
        await eventually(lambda: lease.asked >= 1, message="the lease check")
        await asyncio.sleep(0.3)
        assert fake.of("getUpdates") == []
        lease.leader = True
        await eventually(lambda: fake.sent_texts(42), message="the reply once leader")
    assert lease.released
