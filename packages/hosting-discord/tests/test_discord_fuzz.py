"""Whatever a correctly signed body holds, the endpoint answers 2xx/4xx JSON, never a 5xx."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from discord_testkit import FakeDiscord, Signer, ask, make_channel, make_host, post
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
loose = st.one_of(json_values, st.text(max_size=10), st.integers())
options = st.lists(
    st.fixed_dictionaries({"name": st.sampled_from(["prompt", "input", "x"]) | loose, "type": loose, "value": loose})
    | loose,
    max_size=3,
)
interactions = st.fixed_dictionaries(
    {
        "type": st.sampled_from([0, 1, 2, 3, 4, 5, 6, -1, "2", None, True, 2.0]),
        "id": st.text(max_size=12) | loose,
        "token": st.text(max_size=12) | loose,
        "channel_id": st.text(max_size=12) | loose,
    },
    optional={
        "data": st.fixed_dictionaries(
            {"name": st.sampled_from(["ask", "reset", "unknown", ""]) | loose}, optional={"options": options}
        )
        | loose,
        "member": st.fixed_dictionaries({"user": st.fixed_dictionaries({"id": st.text(max_size=6) | loose}) | loose})
        | loose,
        "user": st.fixed_dictionaries({"id": st.text(max_size=6) | loose}) | loose,
        "guild_id": loose,
        "channel": loose,
    },
)
FIELDS = ["id", "token", "type", "channel_id", "guild_id", "member", "data", "locale", "application_id"]


def _mutated(prompt: str, name: str, drop: set[str], replace: dict[str, Any]) -> bytes:
    payload = ask(prompt)
    payload["data"]["name"] = name
    for field in drop:
        payload.pop(field, None)
    payload.update(replace)
    return json.dumps(payload).encode()


near_valid = st.builds(
    _mutated,
    st.text(max_size=30),
    st.sampled_from(["ask", "reset", "other"]),
    st.sets(st.sampled_from(FIELDS), max_size=1),
    st.dictionaries(st.sampled_from(FIELDS), loose, max_size=1),
)
bodies = st.one_of(
    near_valid,
    near_valid,
    interactions.map(lambda payload: json.dumps(payload).encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=64),
)


def test_arbitrary_signed_bodies_never_yield_a_5xx(
    signer: Signer, discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    statuses: set[int] = set()
    with caplog.at_level(logging.ERROR), TestClient(make_host(make_channel(signer, discord)).app) as client:

        @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(body=bodies)
        @example(body=json.dumps(ask("seeded among the fuzz", user_id="666666666666666666")).encode())
        def check(body: bytes) -> None:
            response = post(client, signer, body)
            assert response.status_code < 500, (body, response.text)
            assert isinstance(response.json(), dict)
            statuses.add(response.status_code)

        check()
        sanity = ask("still fine", user_id="777777777777777777")
        assert post(client, signer, sanity).json() == {"type": 5}
        answers = {"echo 1: seeded among the fuzz", "echo 1: still fine"}
        discord.wait_for(lambda calls: answers <= {c.json.get("content") for c in calls if c.json}, timeout=30.0)
    assert 400 in statuses and 200 in statuses
    assert not [r for r in caplog.records if "background task" in r.getMessage()]


header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=140)


def test_arbitrary_signature_headers_are_401_never_a_5xx(signer: Signer) -> None:
    with TestClient(make_host(make_channel(signer, None)).app) as client:

        @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(body=st.binary(max_size=64), signature=header_text, timestamp=header_text)
        def check(body: bytes, signature: str, timestamp: str) -> None:
            headers = {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": timestamp}
            assert client.post("/discord/interactions", content=body, headers=headers).status_code == 401

        check()
