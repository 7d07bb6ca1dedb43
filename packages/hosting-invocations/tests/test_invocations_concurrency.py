"""The reject policy over Invocations: a 409 in the channel's error shape while the session answers."""

from __future__ import annotations

import httpx
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient, running_server
from agent_framework_hosting_invocations import InvocationsChannel


def test_reject_answers_409_while_the_session_is_answering_and_changes_nothing() -> None:
    model = OfflineChatClient(chunk_delay=0.15)
    host = AgentFrameworkHost(Agent(client=model, name="slow"), channels=[InvocationsChannel()], concurrency="reject")
    with running_server(host.app) as base_url, httpx.Client(base_url=base_url, timeout=20) as client:
        body = {"message": "one two three four five six", "stream": True, "session_id": "s"}
        with client.stream("POST", "/invocations", json=body) as stream:
            lines = stream.iter_lines()
            next(line for line in lines if line.startswith("data: "))
            refused = client.post("/invocations", json={"message": "too soon", "session_id": "s"})
            list(lines)
        after = client.post("/invocations", json={"message": "now", "session_id": "s"})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "conversation_busy"
    assert "echo 2: now" in after.text, "the refused message never entered the session"
