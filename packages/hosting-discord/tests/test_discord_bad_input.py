"""A validly signed body that nests deep or holds a lone surrogate is a 400; nothing is sent; no traceback."""

from __future__ import annotations

import pytest
from agent_framework_hosting.testing import hostile_bodies, hostile_json, watch_logs
from discord_testkit import FakeDiscord, Signer, ask, make_channel, make_host, post
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

VALID = ask("hello")


@pytest.mark.parametrize("name", sorted(hostile_bodies(VALID)))
def test_signed_hostile_bodies_are_400(signer: Signer, discord: FakeDiscord, name: str) -> None:
    with TestClient(make_host(make_channel(signer, discord)).app) as client, watch_logs() as logs:
        answer = post(client, signer, hostile_bodies(VALID)[name])
        assert answer.status_code == 400, answer.text
        assert "error" in answer.json()
    assert logs.tracebacks() == []
    assert discord.calls == []


def test_fuzzed_signed_hostile_bodies_never_get_a_5xx_nor_log_a_traceback(signer: Signer, discord: FakeDiscord) -> None:
    with TestClient(make_host(make_channel(signer, discord)).app) as client:

        @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(body=hostile_json(VALID))
        def check(body: bytes) -> None:
            with watch_logs() as logs:
                answer = post(client, signer, body)
            assert answer.status_code < 500, answer.text
            assert logs.tracebacks() == []

        check()
