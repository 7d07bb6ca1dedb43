"""An activity that nests deep or holds a lone surrogate is a 400; nothing is sent; no traceback."""

from __future__ import annotations

from typing import Any

import pytest
from agent_framework_hosting.testing import hostile_bodies, hostile_json, watch_logs
from hypothesis import HealthCheck, given, settings

FIELDS = {"type": "message", "id": "a1", "text": "hi", "channelId": "test", "conversation": {"id": "c1"}}


@pytest.mark.parametrize("authenticated", [False, True])
def test_hostile_activities_are_400(deploy: Any, mint: Any, authenticated: bool) -> None:
    deployment = deploy(authenticated=authenticated, send_typing_action=False)
    headers = {"content-type": "application/json"}
    if authenticated:
        headers["authorization"] = f"Bearer {mint()}"
    activity = {**FIELDS, "serviceUrl": deployment.fake.service_url, "from": {"id": "u1"}, "recipient": {"id": "b"}}
    with watch_logs() as logs:
        for name, body in hostile_bodies(activity).items():
            answer = deployment.client.post(deployment.channel.path, content=body, headers=headers)
            assert answer.status_code == 400, (name, answer.text)
            assert "error" in answer.json()
    assert logs.tracebacks() == []
    assert deployment.chat.calls == []


def test_fuzzed_hostile_activities_never_get_a_5xx_nor_log_a_traceback(deploy: Any) -> None:
    deployment = deploy(authenticated=False, send_typing_action=False)
    activity = {**FIELDS, "serviceUrl": deployment.fake.service_url, "from": {"id": "u1"}, "recipient": {"id": "b"}}

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=hostile_json(activity))
    def check(body: bytes) -> None:
        with watch_logs() as logs:
            answer = deployment.client.post(
                deployment.channel.path, content=body, headers={"content-type": "application/json"}
            )
        assert answer.status_code < 500 or answer.status_code == 501, answer.text
        assert logs.tracebacks() == []

    check()
