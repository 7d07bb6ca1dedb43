"""Whatever a correctly signed body holds, every Slack endpoint answers 2xx/4xx, never a 5xx."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_fake import FakeSlack, Signer, envelope, mention, message
from slack_kit import COMMANDS, EVENTS, INTERACTIONS, make_channel, make_host, post_event
from starlette.testclient import TestClient

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
EVENT_FIELDS = ["type", "user", "channel", "ts", "thread_ts", "text", "subtype", "bot_id", "files", "channel_type"]
ENVELOPE_FIELDS = ["type", "event_id", "team_id", "event", "authorizations", "challenge"]


def _mutated_event(text: str, kind: str, drop: set[str], replace: dict[str, Any], outer: dict[str, Any]) -> bytes:
    event = mention(text, channel="C1") if kind == "mention" else message(text, channel="D1" if kind == "dm" else "C1")
    for name in drop:
        event.pop(name, None)
    event.update(replace)
    payload = envelope(event)
    payload.update(outer)
    return json.dumps(payload).encode()


near_valid = st.builds(
    _mutated_event,
    st.text(max_size=40),
    st.sampled_from(["mention", "dm", "channel"]),
    st.sets(st.sampled_from(EVENT_FIELDS), max_size=2),
    st.dictionaries(st.sampled_from(EVENT_FIELDS), json_values, max_size=2),
    st.dictionaries(st.sampled_from(ENVELOPE_FIELDS), json_values, max_size=1),
)
event_bodies = st.one_of(
    near_valid, near_valid, json_values.map(lambda value: json.dumps(value).encode()), st.binary(max_size=64)
)
form_fields = st.dictionaries(
    st.sampled_from(["team_id", "channel_id", "user_id", "command", "text", "response_url", "payload", "x"]),
    st.text(max_size=30) | st.sampled_from(["/reset", "/nope", "D1", "C1", "T1", "U1", '{"type":"block_actions"}']),
    max_size=6,
)
form_bodies = st.one_of(form_fields.map(lambda form: urlencode(form).encode()), st.binary(max_size=64))


def test_arbitrary_signed_bodies_never_yield_a_5xx(
    slack: FakeSlack, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    statuses: set[int] = set()
    with caplog.at_level(logging.ERROR), TestClient(make_host(make_channel(slack, stream=False)).app) as client:

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(body=event_bodies)
        def events(body: bytes) -> None:
            response = post_event(client, signer, body)
            assert response.status_code < 500, (body, response.text)
            statuses.add(response.status_code)

        @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(body=form_bodies, path=st.sampled_from([COMMANDS, INTERACTIONS]))
        def forms(body: bytes, path: str) -> None:
            headers = {**signer.headers(body), "Content-Type": "application/x-www-form-urlencoded"}
            response = client.post(path, content=body, headers=headers)
            assert response.status_code < 500, (path, body, response.text)
            statuses.add(response.status_code)

        events()
        forms()
        post_event(client, signer, envelope(message("still fine", channel="D9", user="U0SANE")))
        slack.wait_for(lambda fake: fake.texts("D9", None) == ["echo 1: still fine"], timeout=30, what="a sane answer")
    assert 200 in statuses and 400 in statuses
    assert len(slack.of("chat.postMessage")) >= 3, "the fuzzing should have reached the agent several times"
    assert not [r for r in caplog.records if "background task" in r.getMessage()]


header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=100)


def test_arbitrary_signature_headers_are_401_never_a_5xx(slack: FakeSlack) -> None:
    with TestClient(make_host(make_channel(slack)).app) as client:

        @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(body=st.binary(max_size=64), signature=header_text, timestamp=header_text)
        def check(body: bytes, signature: str, timestamp: str) -> None:
            headers = {"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": timestamp}
            assert client.post(EVENTS, content=body, headers=headers).status_code == 401

        check()
