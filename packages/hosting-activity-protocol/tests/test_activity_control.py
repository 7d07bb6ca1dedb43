"""Conversation control over the Activity Protocol: /stop cancels the conversation's running turn."""

from __future__ import annotations

import time
from typing import Any

from agent_framework_hosting.testing import OfflineChatClient


def test_stop_cancels_the_running_turn_and_says_so(deploy: Any, mint: Any, make_activity: Any, wait_for: Any) -> None:
    chat = OfflineChatClient(response_delay=10.0)
    deployment = deploy(chat=chat)
    deployment.post(make_activity("a long question", channel_id="webchat"), token=mint())
    wait_for(lambda: chat.calls, message="the turn reached the model")
    started = time.monotonic()
    deployment.post(make_activity("/stop", channel_id="webchat"), token=mint())
    replies = wait_for(deployment.fake.messages, message="the stop notice")
    assert [reply["text"] for reply in replies] == ["Stopped."]
    assert time.monotonic() - started < 5
    chat.response_delay = 0.0
    deployment.post(make_activity("next", channel_id="webchat"), token=mint())
    wait_for(lambda: len(deployment.fake.messages()) == 2, message="the next answer")
    assert [m["text"] for m in deployment.fake.messages()] == ["Stopped.", "echo 2: next"]


def test_stop_with_nothing_running_says_so(deploy: Any, mint: Any, make_activity: Any, wait_for: Any) -> None:
    deployment = deploy()
    deployment.post(make_activity("/stop", channel_id="webchat"), token=mint())
    assert [m["text"] for m in wait_for(deployment.fake.messages, message="the notice")] == ["Nothing to stop."]


def test_stop_ends_a_teams_stream_early_keeping_what_was_streamed(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    long = " ".join(f"w{i}" for i in range(40))
    deployment = deploy(chat=OfflineChatClient(reply=lambda messages: long, chunk_delay=0.1))
    deployment.post(make_activity("tell me everything"), token=mint())
    wait_for(lambda: any(a.body["type"] == "typing" for a in deployment.fake.recorded()), message="streaming began")
    time.sleep(0.5)
    deployment.post(make_activity("/stop"), token=mint())
    final = wait_for(
        lambda: [m for m in deployment.fake.messages() if m.get("text") and m["text"].startswith("w0")],
        message="the final streamed message",
    )
    wait_for(lambda: any(m["text"] == "Stopped." for m in deployment.fake.messages()), message="the notice")
    assert len(final[-1]["text"]) < len(long)
