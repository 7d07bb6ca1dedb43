"""Stored responses point into their conversation's history: a chain's storage grows linearly, forks share prefixes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from agent_framework_hosting.testing import PostgresServer, RedisServer, postgres_bin_dir, redis_server_binary


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


def test_forks_share_their_common_prefix_and_see_only_their_own_branch(serve: Any, tmp_path: Path) -> None:
    served = serve(state_dir=tmp_path)
    chain = []
    previous = None
    for number in range(1, 6):
        response = served.client.responses.create(model="m", input=f"main {number}", previous_response_id=previous)
        chain.append(response.id)
        previous = response.id
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
    chain = []
    previous = None
    for number in range(1, 4):
        response = served.client.responses.create(model="m", input=f"turn {number}", previous_response_id=previous)
        chain.append(response)
        previous = response.id
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


def test_a_record_whose_history_was_erased_is_gone_but_can_still_be_deleted(serve: Any, tmp_path: Path) -> None:
    served = serve(state_dir=tmp_path)
    response = served.client.responses.create(model="m", input="soon forgotten")
    for path in tmp_path.rglob("*.jsonl"):
        path.unlink()  # as `sessions delete --purge` or an expired list would leave it
    with pytest.raises(openai.NotFoundError):
        served.client.responses.retrieve(response.id)
    assert served.client.responses.delete(response.id) is None  # what was left of it goes
    assert not list(tmp_path.rglob("responses/*.json"))
    with pytest.raises(openai.NotFoundError):
        served.client.responses.delete(response.id)
