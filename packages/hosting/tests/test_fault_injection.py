"""Fault injection: the host process dies at each step of an ack-first turn; nothing is lost or answered twice.

The process exits without any cleanup (as under SIGKILL) right after the step;
the platform redelivers what was never acknowledged, and a restarted process
on the same state folder finishes the rest. For every step: the message is
answered, no answer is sent twice, at most one "interrupted" notice, and the
conversation goes on.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from agent_framework_hosting import INTERRUPTED_NOTICE
from agent_framework_hosting.testing import ServerProcess, eventually, running_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

sys.path.insert(0, os.path.dirname(__file__))
from fault_host import HERE, STEPS  # noqa: E402

pytestmark = pytest.mark.slow


def host(state: Path, fault: str = "none") -> ServerProcess:
    process = ServerProcess([sys.executable, HERE, "--port", "{port}", "--state", str(state), "--fault", fault])
    process.wait_ready(timeout=30)
    return process


def platform() -> tuple[Starlette, list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    async def send(request: Request) -> JSONResponse:
        received.append(await request.json())
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/send", send, methods=["POST"])]), received


async def deliver(url: str, body: dict[str, str]) -> dict[str, Any] | None:
    """Post an update as a platform would; None when the host died before acknowledging it."""
    async with httpx.AsyncClient(timeout=15) as client:
        try:
            response = await client.post(url + "/hook", json=body)
        except httpx.TransportError:
            return None
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("fault", STEPS)
async def test_a_process_dying_at_any_step_loses_nothing_and_answers_once(fault: str, tmp_path: Path) -> None:
    app, received = platform()
    with running_server(app) as platform_url:
        body = {"update_id": "u1", "text": "hello", "key": "k", "reply_url": platform_url + "/send"}
        first = host(tmp_path, fault)
        try:
            acknowledged = await deliver(first.url, body)
            await asyncio.to_thread(first.process.wait, 15)
            assert "dying at " + fault in first.output()
        finally:
            first.kill()
        assert (acknowledged is None) == (fault == "claim")
        second = host(tmp_path)
        try:
            if acknowledged is None:  # never acknowledged: the platform delivers it again
                assert await deliver(second.url, body) is not None
            try:
                await eventually(lambda: any(r["update_id"] == "u1" for r in received), timeout=15)
            except AssertionError:
                raise AssertionError("no answer; the restarted host said:\n" + second.output()) from None
            await asyncio.sleep(1.0)
            assert await deliver(second.url, body) == {"duplicate": True}
            assert await deliver(second.url, {**body, "update_id": "u2", "text": "again"}) == {"duplicate": False}
            await eventually(lambda: any(r["update_id"] == "u2" for r in received), timeout=15, message="u2")
            await asyncio.sleep(0.5)
        finally:
            second.stop()
    texts = [reply["text"] for reply in received if reply["update_id"] == "u1"]
    answers = [text for text in texts if text != INTERRUPTED_NOTICE]
    assert len(answers) <= 1 and texts.count(INTERRUPTED_NOTICE) <= 1 and texts, texts
    if fault == "send":  # the answer was out before the process died: the resume may only apologise
        assert answers == ["echo 1: hello"]
    else:
        assert texts == ["echo 1: hello"]
    follow_up = [reply["text"] for reply in received if reply["update_id"] == "u2"]
    assert follow_up == ["echo 2: again"]
