"""A host killed between storing a turn's messages and its stored response's record loses nothing it answered,
and what it never answered leaves no trace a later response can see."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from agent_framework_hosting.testing import RedisServer, ServerProcess, redis_server_binary

sys.path.insert(0, os.path.dirname(__file__))
from state_helpers import host_at  # noqa: E402

pytestmark = pytest.mark.slow

HOST = str(Path(__file__).with_name("fault_responses_host.py"))


@pytest.fixture(params=["folder", "redis"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "folder":
        yield str(tmp_path / "state")
    else:
        with RedisServer(redis_server_binary()) as redis:
            yield f"{redis.url}?prefix=f{uuid.uuid4().hex[:8]}:"


def host(location: str, die_at: int = 0) -> ServerProcess:
    process = ServerProcess([sys.executable, HOST, "--port", "{port}", "--state", location, "--die-at", str(die_at)])
    process.wait_ready(timeout=30)
    return process


def create(url: str, **body: object) -> httpx.Response:
    return httpx.post(url + "/v1/responses", json={"model": "m", **body}, timeout=20)


def text(reply: httpx.Response) -> str:
    assert reply.status_code == 200, reply.text
    return str(reply.json()["output"][0]["content"][0]["text"])


async def stored_records(location: str) -> list[str]:
    async with host_at(location) as reader:
        return sorted(await reader.state.keys("responses"))


def test_a_kill_before_the_record_is_kept_leaves_the_chain_as_it_was_answered(location: str) -> None:
    dying = host(location, die_at=3)  # lives through two records; the third kills it
    try:
        first = create(dying.url, input="one")
        second = create(dying.url, input="two", previous_response_id=first.json()["id"])
        assert text(second) == "echo 2: two"
        with pytest.raises(httpx.TransportError):  # a continuation of the second, killed before its record
            create(dying.url, input="lost", previous_response_id=second.json()["id"])
        assert dying.process.wait(timeout=10) == 9
    finally:
        dying.kill()
    answered = sorted([first.json()["id"], second.json()["id"]])
    assert asyncio.run(stored_records(location)) == answered  # no record of what was never answered

    restarted = host(location)
    try:
        # The killed turn's messages were stored past the end of the second response's history: no one sees them.
        onwards = create(restarted.url, input="three", previous_response_id=second.json()["id"])
        assert text(onwards) == "echo 3: three"
        again = create(restarted.url, input="again", previous_response_id=first.json()["id"])
        assert text(again) == "echo 2: again"
        items = httpx.get(f"{restarted.url}/v1/responses/{onwards.json()['id']}/input_items", timeout=20).json()
        assert [item["content"][0]["text"] for item in items["data"]] == ["three"]
        assert text(httpx.get(f"{restarted.url}/v1/responses/{second.json()['id']}", timeout=20)) == "echo 2: two"
    finally:
        restarted.stop()


def test_a_kill_before_a_new_responses_record_is_kept_answers_nothing_and_the_next_request_runs(
    location: str,
) -> None:
    dying = host(location, die_at=1)
    try:
        with pytest.raises(httpx.TransportError):
            create(dying.url, input="lost")
        assert dying.process.wait(timeout=10) == 9
    finally:
        dying.kill()
    assert asyncio.run(stored_records(location)) == []
    restarted = host(location)
    try:
        assert text(create(restarted.url, input="fresh")) == "echo 1: fresh"
    finally:
        restarted.stop()
