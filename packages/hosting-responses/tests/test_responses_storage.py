"""Stored responses point into their conversation's history: a chain's storage grows linearly, forks share prefixes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import (
    OfflineChatClient,
    PostgresServer,
    RedisServer,
    postgres_bin_dir,
    redis_server_binary,
)
from agent_framework_hosting_responses import ResponsesChannel

sys.path.insert(0, os.path.dirname(__file__))
from state_helpers import host_at  # noqa: E402


def stored_bytes(folder: Path) -> tuple[int, int, int]:
    """(all bytes, the largest file besides history lists, history list files) under a state folder."""
    files = [path for path in folder.rglob("*") if path.is_file() and not path.name.startswith(".")]
    lists = [path for path in files if path.suffix == ".jsonl"]
    records = [path.stat().st_size for path in files if path.suffix != ".jsonl"]
    return sum(path.stat().st_size for path in files), max(records), len(lists)


def test_a_long_chain_stores_each_message_once(serve: Any, tmp_path: Path) -> None:
    served = serve(state_dir=tmp_path)
    previous = None
    sizes: dict[int, tuple[int, int, int]] = {}
    text = ("a message of some length " * 4)[:95]  # short inputs: what each record costs beside them shows most
    for number in range(1, 121):
        response = served.client.responses.create(model="m", input=f"{number}: {text}", previous_response_id=previous)
        assert response.output_text.startswith(f"echo {number}: {number}: ")
        previous = response.id
        if number in (60, 120):
            sizes[number] = stored_bytes(tmp_path)
    assert sizes[120][2] == 1  # one history list for the whole chain
    assert sizes[120][0] < 2.2 * sizes[60][0]  # linear, not quadratic
    assert sizes[120][1] < 8_000  # no record holds a copy of the conversation
    history = sum(path.stat().st_size for path in tmp_path.rglob("*.jsonl"))
    # Records point into the messages and no response keeps a session (or a lock file) of its own: everything
    # stored is under 1.8x the history.
    assert sizes[120][0] < 1.8 * history
    assert not list(tmp_path.rglob("sessions/*.json"))


def chain_of(client: openai.OpenAI, inputs: list[str]) -> list[Any]:
    """Responses created one after another, each continuing the one before."""
    chain: list[Any] = []
    for text in inputs:
        previous = chain[-1].id if chain else None
        chain.append(client.responses.create(model="m", input=text, previous_response_id=previous))
    return chain


def test_forks_share_their_common_prefix_and_see_only_their_own_branch(serve: Any, tmp_path: Path) -> None:
    served = serve(state_dir=tmp_path)
    chain = [response.id for response in chain_of(served.client, [f"main {number}" for number in range(1, 6)])]
    fork = served.client.responses.create(model="m", input="fork a", previous_response_id=chain[1])
    assert fork.output_text == "echo 3: fork a"
    other = served.client.responses.create(model="m", input="fork b", previous_response_id=chain[1])
    assert other.output_text == "echo 3: fork b"
    after_fork = served.client.responses.create(model="m", input="fork a2", previous_response_id=fork.id)
    assert after_fork.output_text == "echo 4: fork a2"
    tip = served.client.responses.create(model="m", input="main 6", previous_response_id=chain[-1])
    assert tip.output_text == "echo 6: main 6"
    _, _, lists = stored_bytes(tmp_path)
    assert lists == 3  # the main line, and one list per fork holding only the fork's own messages


def test_a_stored_response_expires_with_its_context_after_response_ttl(serve: Any, tmp_path: Path) -> None:
    served = serve(state_dir=tmp_path, response_ttl=1.0)
    first = served.client.responses.create(model="m", input="remember me")
    assert served.client.responses.retrieve(first.id).id == first.id
    time.sleep(1.3)
    with pytest.raises(openai.NotFoundError):
        served.client.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError):
        served.client.responses.create(model="m", input="and now?", previous_response_id=first.id)


@pytest.fixture(scope="module")
def state_location(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh folder, Redis or PostgreSQL state location (real servers on loopback), by the test's parameter."""
    kind = request.param
    if kind == "folder":
        yield str(tmp_path_factory.mktemp("state"))
    elif kind == "redis":
        with RedisServer(redis_server_binary()) as redis:
            yield f"{redis.url}?prefix=s{uuid.uuid4().hex[:8]}:"
    else:
        with PostgresServer(postgres_bin_dir()) as postgres:
            yield f"{postgres.url}?schema=s{uuid.uuid4().hex[:10]}"


def create(http: httpx.Client, **body: Any) -> bytes:
    reply = http.post("/v1/responses", json={"model": "m", **body})
    assert reply.status_code == 200, reply.text
    return reply.content


def streamed(http: httpx.Client, **body: Any) -> bytes:
    """The response a stored streamed create ends with (its `response.completed` event), as JSON."""
    with http.stream("POST", "/v1/responses", json={"model": "m", "stream": True, **body}) as reply:
        lines = [line for line in reply.iter_lines() if line.startswith("data: ")]
    last = json.loads(lines[-1][len("data: ") :])
    assert last["type"] == "response.completed"
    return json.dumps(last["response"], ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize("state_location", ["folder", "redis", "postgresql"], indirect=True)
def test_a_stored_response_reads_back_byte_for_byte_after_a_restart(serve: Any, state_location: str) -> None:
    before = serve(state_dir=state_location)
    made: dict[str, bytes] = {}
    with httpx.Client(base_url=before.url, timeout=20) as http:
        first = create(http, input='hello 👋 «quoted» "text"\nline two')
        first_id = json.loads(first)["id"]
        made[first_id] = first
        second = create(
            http,
            input=[
                {
                    "role": "user",
                    "content": [{"type": "input_text", "text": "part one"}, {"type": "input_text", "text": "two"}],
                },
                {"role": "assistant", "content": "an assistant turn the client wrote"},
                {"role": "user", "content": "and a question"},
            ],
            previous_response_id=first_id,
            instructions="be brief",
            temperature=0.5,
            metadata={"topic": "storage", "a": "keys in the order sent"},
            user="someone",
        )
        made[json.loads(second)["id"]] = second
        third = streamed(http, input="streamed", previous_response_id=json.loads(second)["id"])
        made[json.loads(third)["id"]] = third
        conversation = http.post("/v1/conversations", json={}).json()["id"]
        in_conversation = create(
            http, input="in a conversation", conversation=conversation, metadata={"zeta": "1", "alpha": "2"}
        )
        made[json.loads(in_conversation)["id"]] = in_conversation
        items = {response_id: http.get(f"/v1/responses/{response_id}/input_items").content for response_id in made}
        for response_id, body in made.items():
            assert http.get(f"/v1/responses/{response_id}").content == body

    after = serve(state_dir=state_location)
    with httpx.Client(base_url=after.url, timeout=20) as http:
        for response_id, body in made.items():
            assert http.get(f"/v1/responses/{response_id}").content == body
            assert http.get(f"/v1/responses/{response_id}/input_items").content == items[response_id]
            assert http.get(f"/v1/responses/{response_id}/input_items?order=asc&limit=1").status_code == 200
        # A chain and a fork continue after the restart from the history the records point at.
        second_id = json.loads(second)["id"]
        onwards = json.loads(create(http, input="after the restart", previous_response_id=json.loads(third)["id"]))
        assert onwards["output"][0]["content"][0]["text"] == "echo 5: after the restart"
        fork = json.loads(create(http, input="a fork", previous_response_id=second_id))
        assert fork["output"][0]["content"][0]["text"] == "echo 4: a fork"
    listed = json.loads(items[json.loads(second)["id"]])["data"]
    assert [item["role"] for item in listed] == ["user", "assistant", "user"][::-1]
    assert listed[-1]["content"] == [{"type": "input_text", "text": "part one"}, {"type": "input_text", "text": "two"}]


def test_a_stored_record_refers_to_its_messages_instead_of_copying_them(serve: Any, tmp_path: Path) -> None:
    served = serve(state_dir=tmp_path)
    text = "a sentence that should be stored exactly once, in the history"
    response = served.client.responses.create(model="m", input=text)
    assert response.output_text == f"echo 1: {text}"
    files = list(tmp_path.rglob("responses/*.json"))
    assert [path.name for path in files] == [f"{response.id}.json"]
    records = [path.read_text() for path in files]
    assert text not in records[0]  # neither the input nor the echoed answer is copied into the record
    history = "".join(path.read_text() for path in tmp_path.rglob("*.jsonl"))
    assert history.count(text) == 2  # the input, and the answer that echoes it


@pytest.mark.parametrize("state_location", ["folder", "redis", "postgresql"], indirect=True)
def test_deleting_a_response_leaves_the_rest_of_its_chain_working(serve: Any, state_location: str) -> None:
    served = serve(state_dir=state_location)
    chain = chain_of(served.client, [f"turn {number}" for number in range(1, 4)])
    items = served.client.responses.input_items.list(chain[2].id).model_dump_json()
    assert served.client.responses.delete(chain[1].id) is None
    with pytest.raises(openai.NotFoundError):
        served.client.responses.retrieve(chain[1].id)
    with pytest.raises(openai.NotFoundError):
        served.client.responses.create(model="m", input="from the deleted one", previous_response_id=chain[1].id)
    for kept in (chain[0], chain[2]):
        assert served.client.responses.retrieve(kept.id).output_text == kept.output_text
    assert served.client.responses.input_items.list(chain[2].id).model_dump_json() == items
    onwards = served.client.responses.create(model="m", input="turn 4", previous_response_id=chain[2].id)
    assert onwards.output_text == "echo 4: turn 4"
    fork = served.client.responses.create(model="m", input="a fork", previous_response_id=chain[0].id)
    assert fork.output_text == "echo 2: a fork"


async def _erase_history(state_location: str, response_ids: list[str]) -> None:
    """Delete the history lists the responses' records point at, as an expiry, an eviction or `--purge` would."""
    async with host_at(state_location) as host:
        for response_id in response_ids:
            record = await host.state.get("responses", response_id)
            record = json.loads(record) if isinstance(record, str) else record
            reference = record["s"]
            segments = reference if isinstance(reference, list) else [s for v in reference["logs"].values() for s in v]
            for log, _, _ in segments:
                await host.state.delete("history", log)


@pytest.mark.parametrize("state_location", ["folder", "redis", "postgresql"], indirect=True)
def test_a_record_whose_history_was_erased_is_gone_but_can_still_be_deleted(serve: Any, state_location: str) -> None:
    served = serve(state_dir=state_location)
    first = served.client.responses.create(model="m", input="soon forgotten")
    second = served.client.responses.create(model="m", input="and this", previous_response_id=first.id)
    asyncio.run(_erase_history(state_location, [second.id]))
    restarted = serve(state_dir=state_location)
    # The process that still holds the conversation live and a restarted one alike: gone, not continued without it.
    for host in (served, restarted):
        with pytest.raises(openai.NotFoundError):
            host.client.responses.retrieve(second.id)
        with pytest.raises(openai.NotFoundError, match="no longer stored"):
            host.client.responses.create(model="m", input="and now?", previous_response_id=second.id)
    assert served.client.responses.delete(second.id) is None  # what was left of it goes
    with pytest.raises(openai.NotFoundError):
        served.client.responses.delete(second.id)
    with pytest.raises(openai.NotFoundError):
        served.client.responses.retrieve(first.id)  # it shared the erased list


def test_records_kept_forever_keep_their_history_past_the_session_ttl(serve: Any, tmp_path: Path) -> None:
    served = serve(state_dir=tmp_path, session_ttl=0.5, response_ttl=None)
    first = served.client.responses.create(model="m", input="remember me")
    second = served.client.responses.create(model="m", input="two", previous_response_id=first.id)
    time.sleep(2.0)  # past the session ttl and its history lists' (1.1 x ttl + 1)
    assert served.client.responses.retrieve(second.id).output_text == "echo 2: two"
    onwards = served.client.responses.create(model="m", input="and now?", previous_response_id=second.id)
    assert onwards.output_text == "echo 3: and now?"
    restarted = serve(state_dir=tmp_path, session_ttl=0.5, response_ttl=None)
    for response in (first, second, onwards):
        assert restarted.client.responses.retrieve(response.id).output_text == response.output_text
    assert restarted.client.responses.create(model="m", input="fork", previous_response_id=first.id).output_text == (
        "echo 2: fork"
    )


@pytest.mark.parametrize("state_location", ["folder", "redis", "postgresql"], indirect=True)
def test_concurrent_forks_of_one_response_through_two_hosts_each_keep_their_own_branch(
    serve: Any, state_location: str
) -> None:
    hosts = [serve(state_dir=state_location, chat=OfflineChatClient(response_delay=0.05)) for _ in range(2)]
    root = hosts[0].client.responses.create(model="m", input="root")
    two = hosts[0].client.responses.create(model="m", input="two", previous_response_id=root.id)
    with ThreadPoolExecutor(8) as pool:
        forks = list(
            pool.map(
                lambda number: hosts[number % 2].client.responses.create(
                    model="m", input=f"fork {number}", previous_response_id=two.id
                ),
                range(8),
            )
        )
    assert sorted(fork.output_text for fork in forks) == sorted(f"echo 3: fork {number}" for number in range(8))
    for number, fork in enumerate(forks):
        other = hosts[(number + 1) % 2].client
        assert other.responses.retrieve(fork.id).output_text == fork.output_text
        items = other.responses.input_items.list(fork.id).data
        assert [item.content[0].text for item in items] == [f"fork {number}"]  # type: ignore[union-attr]
        onwards = other.responses.create(model="m", input=f"after {number}", previous_response_id=fork.id)
        assert onwards.output_text == f"echo 4: after {number}"
    assert hosts[1].client.responses.retrieve(two.id).output_text == "echo 2: two"


def test_a_whole_record_saved_from_an_expanded_one_still_reads_and_continues(serve: Any, tmp_path: Path) -> None:
    served = serve(state_dir=tmp_path)
    first = served.client.responses.create(model="m", input="one")
    second = served.client.responses.create(model="m", input="two", previous_response_id=first.id)

    async def save_whole() -> None:  # as a late cancel does: the expanded record, changed, saved back whole
        channel = ResponsesChannel()
        host = AgentFrameworkHost(
            Agent(client=OfflineChatClient(), name="echo"), channels=[channel], state_dir=tmp_path
        )
        try:
            host.app  # noqa: B018 - building the app adds the channel to the host
            records = channel.runner.records
            whole = await records.response(second.id)
            assert whole is not None and whole["reference"] is not None
            whole["response"]["status"] = "cancelled"
            await records.save_response(whole)
        finally:
            await host.state.aclose()

    asyncio.run(save_whole())
    assert json.loads(next(tmp_path.rglob(f"responses/{second.id}.json")).read_bytes())["value"].get("v") is None
    for host in (served, serve(state_dir=tmp_path)):
        back = host.client.responses.retrieve(second.id)
        assert (back.status, back.output_text) == ("cancelled", "echo 2: two")
        assert [item.content[0].text for item in host.client.responses.input_items.list(second.id).data] == ["two"]  # type: ignore[union-attr]
        onwards = host.client.responses.create(model="m", input="three", previous_response_id=second.id)
        assert onwards.output_text == "echo 3: three"


def test_a_session_left_behind_by_a_crash_before_detaching_changes_nothing(serve: Any, tmp_path: Path) -> None:
    served = serve(state_dir=tmp_path)
    response = served.client.responses.create(model="m", input="one")

    async def leave_session() -> None:  # the response's own session record, as a crash before `detach` leaves it
        async with host_at(tmp_path) as host:
            record = await host.state.get("responses", response.id)
            assert await host.context.attach_session(record["s"], f"response:{response.id}")

    asyncio.run(leave_session())
    assert len(list(tmp_path.rglob("sessions/*.json"))) == 1
    restarted = serve(state_dir=tmp_path)
    assert restarted.client.responses.retrieve(response.id).output_text == "echo 1: one"
    onwards = restarted.client.responses.create(model="m", input="two", previous_response_id=response.id)
    assert onwards.output_text == "echo 2: two"
    assert restarted.client.responses.delete(response.id) is None
    assert not list(tmp_path.rglob("sessions/*.json"))  # the spare went with it
    assert restarted.client.responses.retrieve(onwards.id).output_text == "echo 2: two"


async def stored_session(state_location: str, response_id: str) -> Any:
    """The session record stored under a response's own key, read by a host of its own."""
    async with host_at(state_location) as host:
        return await host.state.get("sessions", f"response:{response_id}")


def failed_stream(http: httpx.Client, **body: Any) -> str:
    """A stored streamed create whose agent fails; the id of the failed response."""
    with http.stream("POST", "/v1/responses", json={"model": "m", "stream": True, **body}) as reply:
        events = [json.loads(line[len("data: ") :]) for line in reply.iter_lines() if line.startswith("data: ")]
    assert events[-1]["type"] == "response.failed"
    return str(events[-1]["response"]["id"])


@pytest.mark.parametrize("state_location", ["folder", "redis", "postgresql"], indirect=True)
def test_new_and_continued_responses_write_no_session_record_and_a_failed_one_keeps_its_context(
    serve: Any, state_location: str
) -> None:
    served = serve(state_dir=state_location)
    done = served.client.responses.create(model="m", input="one")
    assert asyncio.run(stored_session(state_location, done.id)) is None  # the record points into history instead
    with httpx.Client(base_url=served.url, timeout=20) as http:
        failed = failed_stream(http, input="please [fail]")
        assert http.get(f"/v1/responses/{failed}").json()["status"] == "failed"
    assert asyncio.run(stored_session(state_location, failed)) is not None  # no pointer: its snapshot is a record
    for previous in (done.id, failed):
        onwards = served.client.responses.create(model="m", input="two", previous_response_id=previous)
        assert onwards.output_text == ("echo 2: two" if previous == done.id else "echo 1: two")
        assert asyncio.run(stored_session(state_location, onwards.id)) is None
