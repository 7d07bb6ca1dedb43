"""`host.reset_session(key)` as the seed shows it (synchronous), and its awaitable form, on every state backend."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import JsonChannel, OfflineChatClient
from starlette.testclient import TestClient

sys.path.insert(0, os.path.dirname(__file__))
from redis_server import state_url  # noqa: E402

HostFactory = Callable[[], AgentFrameworkHost]


@pytest.fixture(params=["memory", "folder", "redis"])
def hosts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HostFactory]:
    """Builds hosts sharing one state location (memory: the same host each time)."""
    if request.param == "memory":
        shared = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[JsonChannel()])
        yield lambda: shared
        return
    location: Any = tmp_path if request.param == "folder" else state_url(request.getfixturevalue("redis"))

    def make() -> AgentFrameworkHost:
        return AgentFrameworkHost(
            Agent(client=OfflineChatClient(), name="echo"), channels=[JsonChannel()], state_dir=location
        )

    yield make


def say(client: TestClient, text: str, key: str = "alice") -> str:
    response = client.post("/json", json={"text": text, "key": key})
    assert response.status_code == 200, response.text
    return str(response.json()["text"])


def test_a_synchronous_reset_from_another_thread_takes_effect_on_the_serving_host(hosts: HostFactory) -> None:
    host = hosts()
    with TestClient(host.app) as client:  # the host's loop runs in the client's portal thread
        assert say(client, "one") == "echo 1: one"
        new_id = host.reset_session("alice")
        assert isinstance(new_id, str) and new_id.startswith("alice#")
        assert say(client, "two") == "echo 1: two"
        assert say(client, "three", key="bob") == "echo 1: three"


def test_a_synchronous_reset_while_the_host_is_stopped_takes_effect_when_it_serves(hosts: HostFactory) -> None:
    host = hosts()
    with TestClient(host.app) as client:
        assert say(client, "one") == "echo 1: one"
    hosts().reset_session("alice")  # an admin script: no event loop anywhere
    with TestClient(hosts().app) as client:
        assert say(client, "two") == "echo 1: two"


def test_a_reset_from_a_worker_thread_of_a_sync_handler_takes_effect(hosts: HostFactory) -> None:
    host = hosts()
    results: list[object] = []
    with TestClient(host.app) as client:
        say(client, "one")
        worker = threading.Thread(target=lambda: results.append(host.reset_session("alice")))
        worker.start()
        worker.join(10)
        assert results and str(results[0]).startswith("alice#")
        assert say(client, "two") == "echo 1: two"


def test_the_awaitable_form_on_the_hosts_loop(hosts: HostFactory) -> None:
    host = hosts()
    with TestClient(host.app) as client:
        say(client, "one")
        new_id = client.portal.call(host.reset_session_async, "alice")
        assert new_id.startswith("alice#")
        assert say(client, "two") == "echo 1: two"


def test_the_awaitable_form_on_another_loop_runs_on_the_hosts_loop(hosts: HostFactory) -> None:
    host = hosts()
    with TestClient(host.app) as client:
        say(client, "one")
        asyncio.run(host.reset_session_async("alice"))
        assert say(client, "two") == "echo 1: two"


async def test_the_blocking_form_refuses_async_code_and_names_the_awaitable_one() -> None:
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[])
    with pytest.raises(RuntimeError, match=r"await host\.reset_session_async\(key\)"):
        host.reset_session("alice")
    assert (await host.reset_session_async("alice")).startswith("alice#")


def test_a_reset_that_cannot_take_effect_raises() -> None:
    class Stateless:
        name = "stateless"

        async def run(self, messages: Any = None, **kwargs: Any) -> Any:
            raise AssertionError("not called")

    host = AgentFrameworkHost(Stateless(), channels=[])
    with pytest.raises(RuntimeError, match="keeps no sessions"):
        host.reset_session("alice")
    with pytest.raises(RuntimeError, match="keeps no sessions"):
        asyncio.run(host.reset_session_async("alice"))
    session_host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[])
    for bad in ("", None):
        with pytest.raises(ValueError, match="non-empty isolation key"):
            session_host.reset_session(bad)  # type: ignore[arg-type]
