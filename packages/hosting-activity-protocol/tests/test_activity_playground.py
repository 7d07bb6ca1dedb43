"""Microsoft 365 Agents Playground (the Teams emulator, from npm) drives the channel, in a headless Chromium.

`./scripts/setup.sh` installs the Playground into tests/peer/node_modules; node, npm and chromium come from
scripts/system-deps.sh. The Playground runs with telemetry off and talks only to 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient, free_port, running_server, wait_for_port
from agent_framework_hosting_activity_protocol import ActivityProtocolChannel

PEER = Path(__file__).parent / "peer"
CLI = PEER / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
WAIT_MS = 30_000


@pytest.fixture
def playground(tmp_path: Path) -> Iterator[tuple[str, OfflineChatClient]]:
    """A host with an anonymous Activity Protocol channel (default settings), and the Playground pointed at it."""
    node = shutil.which("node")
    assert node, "node is missing: run scripts/system-deps.sh"
    assert CLI.is_file(), "the Agents Playground is missing: run ./scripts/setup.sh"
    chat = OfflineChatClient(chunk_delay=0.05)
    host = AgentFrameworkHost(
        Agent(client=chat, name="echo"), channels=[ActivityProtocolChannel(stream_edit_min_interval=0.1)]
    )
    with running_server(host.app) as url:
        port = free_port()
        argv = [node, str(CLI), "-e", f"{url}/activity/messages", "-c", "msteams", "-p", str(port), "--dt"]
        log = tmp_path / "playground.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(argv, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            try:
                wait_for_port(port, timeout=30)
            except TimeoutError:
                pytest.fail(f"the Playground did not start:\n{log.read_text(errors='replace')}")
            yield f"http://127.0.0.1:{port}", chat
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture
def page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    assert os.path.exists(chromium), "chromium is missing: run scripts/system-deps.sh"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            opened = browser.new_page()
            opened.set_default_timeout(WAIT_MS)
            yield opened
        finally:
            browser.close()


def say(page: Any, text: str) -> None:
    page.locator("[role=textbox]").click()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def test_the_playground_holds_a_streamed_teams_conversation(
    playground: tuple[str, OfflineChatClient], page: Any
) -> None:
    url, chat = playground
    page.goto(url + "/")
    page.wait_for_selector("text=Connected.")
    say(page, "hello from the playground")
    page.wait_for_selector("text=echo 1: hello from the playground")
    say(page, "and a second message")
    page.wait_for_selector("text=echo 2: and a second message")
    log = page.inner_text("body")
    assert "message 400" not in log and " 405 " not in log
    assert "Playground -> User Application message 202 hello from the playground" in log
    assert "User Application -> Microsoft 365 Agents Playground typing 201 Working on it" in log, "streaming started"
    assert "User Application -> Microsoft 365 Agents Playground message 20" in log, "the stream ended with a message"
    assert [m.text for m in chat.calls[-1] if m.role == "user"] == ["hello from the playground", "and a second message"]
