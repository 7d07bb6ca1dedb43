"""Deep nesting and lone surrogates are a 400 in Foundry's error shape; the agent never runs; no traceback."""

from __future__ import annotations

from typing import Any

import pytest
from agent_framework_hosting.testing import hostile_bodies, hostile_json, watch_logs
from hypothesis import HealthCheck, given, settings

VALID = {"message": "hi", "session_id": "s1"}


@pytest.mark.parametrize("name", sorted(hostile_bodies(VALID)))
def test_hostile_bodies_are_400(serve: Any, name: str) -> None:
    hosted = serve()
    with watch_logs() as logs:
        for stream in (False, True):
            body = hostile_bodies({**VALID, "stream": stream})[name]
            answer = hosted.client.post("/invocations", content=body, headers={"content-type": "application/json"})
            assert answer.status_code == 400, answer.text
            assert set(answer.json()["error"]) == {"code", "message"}
    assert logs.tracebacks() == []
    assert hosted.model.calls == []


def test_fuzzed_hostile_bodies_never_get_a_5xx_nor_log_a_traceback(serve: Any) -> None:
    hosted = serve()

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=hostile_json({**VALID, "stream": False}) | hostile_json({**VALID, "stream": True}))
    def check(body: bytes) -> None:
        with watch_logs() as logs:
            answer = hosted.client.post("/invocations", content=body, headers={"content-type": "application/json"})
        assert answer.status_code < 500, answer.text
        assert logs.tracebacks() == []

    check()
