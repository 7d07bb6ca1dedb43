"""`/liveness` is always served; `/readiness` is 503 with a JSON body naming what is down; startup fails in one line."""

from __future__ import annotations

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost, ChannelContribution
from agent_framework_hosting._errors import StartupError
from agent_framework_hosting.testing import JsonChannel, OfflineChatClient, RedisServer
from starlette.testclient import TestClient


def agent() -> Agent:
    return Agent(client=OfflineChatClient(), name="echo")


def test_liveness_is_served_by_the_host_itself() -> None:
    with TestClient(AgentFrameworkHost(agent(), channels=[JsonChannel()]).app) as client:
        answer = client.get("/liveness")
        assert answer.status_code == 200 and answer.text == "ok"
        assert client.get("/readiness").text == "ok"


def test_readiness_names_a_state_store_that_stopped_answering() -> None:
    redis = RedisServer()
    redis.start()
    try:
        host = AgentFrameworkHost(agent(), channels=[JsonChannel()], state_dir=redis.url)
        with TestClient(host.app) as client:
            assert client.get("/readiness").status_code == 200
            redis.stop()
            answer = client.get("/readiness")
            assert answer.status_code == 503
            body = answer.json()
            assert body["status"] == "unavailable" and set(body["down"]) == {"state"}
            assert client.get("/liveness").status_code == 200
            redis.start()
            assert client.get("/readiness").status_code == 200
    finally:
        redis.stop()


def test_a_component_reported_down_makes_readiness_503_until_it_recovers() -> None:
    host = AgentFrameworkHost(agent(), channels=[JsonChannel()])
    with TestClient(host.app) as client:
        host.health.report("channel 'json'", "polling stopped: the token was revoked")
        answer = client.get("/readiness")
        assert answer.status_code == 503
        assert answer.json()["down"] == {"channel 'json'": "polling stopped: the token was revoked"}
        host.health.report("channel 'json'", None)
        assert client.get("/readiness").status_code == 200


class FailingChannel:
    name = "broken"
    path = "/broken"

    def contribute(self, context: object) -> ChannelContribution:
        async def start() -> None:
            raise RuntimeError("the platform refused the token\n(details on a second line)")

        return ChannelContribution(on_startup=[start])


def test_a_channel_that_fails_to_start_is_one_startup_error_naming_it() -> None:
    host = AgentFrameworkHost(agent(), channels=[JsonChannel(), FailingChannel()])
    with pytest.raises(RuntimeError, match="the platform refused the token"), TestClient(host.app):
        pass
    assert isinstance(host.startup_error, StartupError)
    assert str(host.startup_error) == (
        "channel 'broken' failed to start: RuntimeError: the platform refused the token (details on a second line)"
    )
