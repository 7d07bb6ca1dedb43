"""Deep nesting and lone surrogates are a 400 in Foundry's error shape; the agent never runs; no traceback."""

from __future__ import annotations

from typing import Any

import pytest
from agent_framework_hosting.testing import hostile_bodies, watch_logs

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
