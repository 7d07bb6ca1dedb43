"""An Activity bot SIGKILLed after accepting a message: the restarted host replies to the connector, exactly once."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from agent_framework_hosting.testing import ServerProcess
from agent_framework_hosting_activity_protocol import ActivityProtocolChannel

sys.path.insert(0, os.path.dirname(__file__))
from activity_crash_host import __file__ as HOST_SCRIPT  # noqa: E402

pytestmark = pytest.mark.slow
PATH = ActivityProtocolChannel(service_url_allowed_hosts=("127.0.0.1",)).path


def host(state: Path, delay: float) -> ServerProcess:
    command = [sys.executable, os.path.abspath(HOST_SCRIPT), "--port", "{port}", "--state", str(state),
               "--delay", str(delay)]  # fmt: skip
    process = ServerProcess(command, name="activity")
    process.wait_ready(timeout=30)
    return process


def test_a_message_accepted_before_a_sigkill_is_answered_once_after_restart(
    tmp_path: Path, bot_framework: Any, make_activity: Callable[..., dict[str, Any]], wait_for: Callable[..., Any]
) -> None:
    activity = make_activity("hello")
    first = host(tmp_path, delay=3)
    try:
        response = httpx.post(first.url + PATH, json=activity, timeout=15)
        assert response.status_code in (200, 202), response.text
        time.sleep(1.0)
        assert bot_framework.messages() == []
    finally:
        first.kill()
    second = host(tmp_path, delay=0.2)
    try:
        wait_for(lambda: bot_framework.messages(), timeout=20, message="the reply")
        time.sleep(1.5)
        assert httpx.post(second.url + PATH, json=activity, timeout=15).status_code in (200, 202)
        time.sleep(0.5)
    finally:
        second.stop()
    assert [message["text"] for message in bot_framework.messages()] == ["echo 1: hello"]
