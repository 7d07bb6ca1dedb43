"""Stored responses point into their conversation's history: a chain's storage grows linearly, forks share prefixes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import openai
import pytest


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
    text = "a message of some length " * 20
    for number in range(1, 121):
        response = served.client.responses.create(model="m", input=f"{number}: {text}", previous_response_id=previous)
        assert response.output_text.startswith(f"echo {number}: {number}: ")
        previous = response.id
        if number in (60, 120):
            sizes[number] = stored_bytes(tmp_path)
    assert sizes[120][2] == 1  # one history list for the whole chain
    assert sizes[120][0] < 2.2 * sizes[60][0]  # linear, not quadratic
    assert sizes[120][1] < 8_000  # no record holds a copy of the conversation


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
