"""The pure parts: invocation bodies in, ChannelRequests out; answers and errors rendered to the wire."""

from __future__ import annotations

import json
from typing import Any

import pytest
from agent_framework_hosting import (
    ChannelIdentity,
    ChannelSession,
    IsolationKeys,
    SessionBusyError,
    StateUnavailableError,
)
from agent_framework_hosting.http import BadRequest
from agent_framework_hosting_invocations._parse import (
    invocation_id_from,
    is_valid_id,
    isolation_key_for,
    parse_invocation,
    to_channel_request,
)
from agent_framework_hosting_invocations._render import answer_headers, failure, sse_data, sse_delta, sse_error
from hypothesis import given, settings
from hypothesis import strategies as st

ID_CHARS = "abcXYZ019-_.:"
ids = st.text(alphabet=ID_CHARS, min_size=1, max_size=20)


def parse(payload: Any, **kwargs: Any) -> Any:
    return parse_invocation(payload, invocation_id="inv-1", **kwargs)


def test_message_and_session_id_become_an_invoke_request() -> None:
    invocation = parse({"message": "hi", "session_id": "s-1", "extra": "ignored"})
    request = to_channel_request(invocation, channel="invocations")
    assert request.channel == "invocations"
    assert request.operation == "invoke"
    assert request.input == "hi"
    assert request.session == ChannelSession("invocations:s-1")
    assert request.isolation_key == "invocations:s-1"
    assert request.attributes == {"invocation_id": "inv-1", "session_id": "s-1"}
    assert request.stream is False
    assert request.identity is None


def test_without_a_session_id_the_turn_has_no_isolation_key() -> None:
    request = to_channel_request(parse({"message": "hi"}), channel="invocations")
    assert request.session is None
    assert request.isolation_key is None
    assert "session_id" not in request.attributes


@pytest.mark.parametrize("value", [None, ""])
def test_null_or_empty_session_id_means_no_session(value: Any) -> None:
    invocation = parse({"message": "hi", "session_id": value})
    assert invocation.session_id is None
    assert invocation.isolation_key is None


def test_query_agent_session_id_names_the_session_when_the_body_does_not() -> None:
    invocation = parse({"message": "hi"}, query_session_id="q-1")
    assert invocation.session_id == "q-1"
    assert invocation.isolation_key == "invocations:q-1"


def test_body_and_query_may_name_the_same_session() -> None:
    assert parse({"message": "hi", "session_id": "s"}, query_session_id="s").session_id == "s"


def test_body_and_query_naming_different_sessions_is_refused() -> None:
    with pytest.raises(BadRequest, match="different sessions"):
        parse({"message": "hi", "session_id": "a"}, query_session_id="b")


@pytest.mark.parametrize("session_id", ["a b", "a/b", "ü", "x" * 257, "semi;colon", "new\nline"])
def test_session_ids_outside_foundrys_id_rule_are_refused(session_id: str) -> None:
    with pytest.raises(BadRequest):
        parse({"message": "hi", "session_id": session_id})
    with pytest.raises(BadRequest):
        parse({"message": "hi"}, query_session_id=session_id)


@pytest.mark.parametrize("session_id", [5, 1.5, True, ["s"], {"id": "s"}])
def test_session_id_that_is_not_a_string_is_refused(session_id: Any) -> None:
    with pytest.raises(BadRequest, match="session_id"):
        parse({"message": "hi", "session_id": session_id})


def test_a_256_character_id_is_the_longest_accepted() -> None:
    assert parse({"message": "hi", "session_id": "a" * 256}).session_id == "a" * 256
    assert is_valid_id("a" * 256) and not is_valid_id("a" * 257)


@pytest.mark.parametrize("payload", [[], "hi", 3, None, True])
def test_a_body_that_is_not_an_object_is_refused(payload: Any) -> None:
    with pytest.raises(BadRequest, match="object"):
        parse(payload)


@pytest.mark.parametrize(
    "payload", [{}, {"message": None}, {"message": 5}, {"message": ""}, {"message": ["hi"]}, {"text": "hi"}]
)
def test_agent_targets_need_a_non_empty_text_message(payload: Any) -> None:
    with pytest.raises(BadRequest, match="message"):
        parse(payload)


@pytest.mark.parametrize("message", ["text", 0, 2.5, True, [1, "two"], {"nested": {"list": [None]}}])
def test_workflow_targets_take_any_json_message(message: Any) -> None:
    assert parse({"message": message}, text_only=False).message == message


@pytest.mark.parametrize("payload", [{}, {"message": None}])
def test_workflow_targets_still_need_a_message(payload: Any) -> None:
    with pytest.raises(BadRequest, match="message"):
        parse(payload, text_only=False)


@pytest.mark.parametrize(("stream", "expected"), [(True, True), (False, False), (None, False)])
def test_stream_is_a_boolean_flag(stream: Any, expected: bool) -> None:
    assert parse({"message": "hi", "stream": stream}).stream is expected


@pytest.mark.parametrize("stream", ["true", "false", 1, 0, [], {}])
def test_stream_that_is_not_a_boolean_is_refused(stream: Any) -> None:
    with pytest.raises(BadRequest, match="stream"):
        parse({"message": "hi", "stream": stream})


@pytest.mark.parametrize(
    ("session_id", "keys", "expected"),
    [
        (None, IsolationKeys(chat_key="c1"), "invocations/chat:c1"),
        (None, IsolationKeys(user_key="u1"), "invocations/user:u1"),
        (None, IsolationKeys("u1", "c1"), "invocations/user:u1/chat:c1"),
        ("s1", IsolationKeys("u1", "c1"), "invocations/user:u1/session:s1"),
        ("s1", IsolationKeys(chat_key="c1"), "invocations:s1"),
        ("s1", None, "invocations:s1"),
        (None, None, None),
        (None, IsolationKeys(), None),
    ],
)
def test_isolation_key_combines_session_and_platform_keys(
    session_id: str | None, keys: IsolationKeys | None, expected: str | None
) -> None:
    assert isolation_key_for(session_id, keys) == expected


@settings(max_examples=100, deadline=None)
@given(
    st.tuples(st.none() | ids, st.none() | ids, st.none() | ids),
    st.tuples(st.none() | ids, st.none() | ids, st.none() | ids),
)
def test_different_sessions_never_share_an_isolation_key(a: tuple[Any, ...], b: tuple[Any, ...]) -> None:
    def key(parts: tuple[Any, ...]) -> str | None:
        session, user, chat = parts
        return isolation_key_for(session, IsolationKeys(user, chat))

    def meaning(parts: tuple[Any, ...]) -> tuple[Any, ...]:
        session, user, chat = parts
        return (session, user) if session is not None else (None, user, chat)

    if key(a) is not None and meaning(a) != meaning(b):
        assert key(a) != key(b)


def test_platform_keys_name_the_sender_and_the_conversation() -> None:
    invocation = parse({"message": "hi"}, isolation=IsolationKeys("user-1", "chat-1"))
    request = to_channel_request(invocation, channel="foundry")
    assert request.isolation_key == "invocations/user:user-1/chat:chat-1"
    assert request.identity == ChannelIdentity("foundry", "user-1", {"chat_isolation_key": "chat-1"})


@pytest.mark.parametrize(
    "keys", [IsolationKeys("bad key", None), IsolationKeys(None, "x" * 300), IsolationKeys("u", "c/1")]
)
def test_platform_keys_outside_the_id_rule_are_refused(keys: IsolationKeys) -> None:
    with pytest.raises(BadRequest, match="isolation-key"):
        parse({"message": "hi"}, isolation=keys)


def test_invocation_id_is_echoed_when_valid_and_generated_when_absent() -> None:
    assert invocation_id_from("inv:42") == "inv:42"
    generated = {invocation_id_from(None) for _ in range(20)} | {invocation_id_from("")}
    assert len(generated) == 21
    assert all(is_valid_id(value) for value in generated)
    with pytest.raises(BadRequest, match="x-agent-invocation-id"):
        invocation_id_from("not valid!")


def test_answer_headers_carry_the_session_only_when_there_is_one() -> None:
    assert answer_headers("i", "s") == {"x-agent-invocation-id": "i", "x-agent-session-id": "s"}
    assert answer_headers("i", None) == {"x-agent-invocation-id": "i"}


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_a_delta_frame_is_one_line_and_gives_back_the_exact_text(text: str) -> None:
    frame = sse_delta(text)
    assert frame.startswith(b"data: ") and frame.endswith(b"\n\n")
    line = frame[len(b"data: ") : -2]
    assert b"\n" not in line and b"\r" not in line
    assert line.isascii()
    assert json.loads(line) == {"delta": text}


def test_an_error_frame_is_a_named_event_with_code_and_message() -> None:
    assert (
        sse_error("server_error", "failed")
        == b'event: error\ndata: {"error":{"code":"server_error","message":"failed"}}\n\n'
    )
    assert sse_data({"response": "ok", "session_id": None}) == b'data: {"response":"ok","session_id":null}\n\n'


def test_an_unexpected_failure_becomes_a_generic_500_naming_the_invocation() -> None:
    status, code, message = failure(RuntimeError("password=hunter2 at /srv/app.py"), invocation_id="inv-9")
    assert (status, code) == (500, "server_error")
    assert "hunter2" not in message and "app.py" not in message
    assert "inv-9" in message


def test_host_errors_keep_their_status_but_not_their_internal_text() -> None:
    assert failure(SessionBusyError("'turn:invocations/user:secret-user' is busy"), invocation_id="i")[:2] == (
        409,
        "session_busy",
    )
    assert "secret-user" not in failure(SessionBusyError("'turn:secret-user' is busy"), invocation_id="i")[2]
    assert failure(StateUnavailableError("redis://admin:pw@db:6379 down"), invocation_id="i")[:2] == (
        503,
        "state_unavailable",
    )
    assert "pw@" not in failure(StateUnavailableError("redis://admin:pw@db:6379 down"), invocation_id="i")[2]


def test_client_errors_keep_their_own_message() -> None:
    assert failure(BadRequest("'message' is required"), invocation_id="i") == (
        400,
        "invalid_request",
        "'message' is required",
    )
