"""Failures: a failing agent in both modes, and bad input that gets a 4xx JSON error and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from agent_framework_hosting import ChannelRequest, HostedRunResult

LEAKS = ("offline model failure", "Traceback", "RuntimeError", "testing.py", "boom-internal")


def assert_generic_error(error: dict[str, Any], code: str = "server_error") -> None:
    assert set(error) == {"code", "message"}
    assert error["code"] == code
    assert not any(leak in error["message"] for leak in LEAKS)


def test_a_failing_agent_gets_a_generic_500_json_error(serve: Any) -> None:
    response = serve().client.post(
        "/invocations", json={"message": "please [fail]", "session_id": "f"}, headers={"x-agent-invocation-id": "inv-f"}
    )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-agent-invocation-id"] == "inv-f"
    assert_generic_error(response.json()["error"])
    assert "inv-f" in response.json()["error"]["message"]


def test_a_failing_streamed_agent_ends_with_an_error_event_then_done(serve: Any, sse: Any) -> None:
    response = serve().client.post("/invocations", json={"message": "one two three [fail]", "stream": True})
    assert response.status_code == 200
    frames = sse(response.text)
    assert [f.event for f in frames[-2:]] == ["error", "message"]
    assert frames[-1].data == "[DONE]"
    assert_generic_error(frames[-2].json()["error"])
    deltas = frames[:-2]
    assert deltas and all(set(f.json()) == {"delta"} for f in deltas)
    assert not any("response" in f.json() for f in deltas)
    assert not any(leak in response.text for leak in LEAKS)


def test_a_session_keeps_working_after_a_failed_turn(serve: Any) -> None:
    client = serve().client
    assert client.post("/invocations", json={"message": "[fail]", "session_id": "again"}).status_code == 500
    client.post("/invocations", json={"message": "x [fail]", "session_id": "again", "stream": True})
    response = client.post("/invocations", json={"message": "fine", "session_id": "again"})
    assert response.status_code == 200
    assert response.json()["response"].endswith(": fine")


def test_a_failing_response_hook_is_a_generic_error_in_both_modes(serve: Any, sse: Any) -> None:
    def hook(result: HostedRunResult[Any], *, request: ChannelRequest, channel_name: str) -> HostedRunResult[Any]:
        raise ValueError("boom-internal")

    client = serve(response_hook=hook).client
    plain = client.post("/invocations", json={"message": "hi"})
    assert plain.status_code == 500
    assert_generic_error(plain.json()["error"])
    frames = sse(client.post("/invocations", json={"message": "hi", "stream": True}).text)
    assert frames[-2].event == "error" and frames[-1].data == "[DONE]"
    assert_generic_error(frames[-2].json()["error"])


BAD_BODIES: list[tuple[str, bytes, str]] = [
    ("invalid json", b'{"message": ', "invalid_json"),
    ("empty body", b"", "invalid_json"),
    ("not utf-8", b'{"message": "\xff"}', "invalid_json"),
    ("an array", b'["hi"]', "invalid_request"),
    ("a string", b'"hi"', "invalid_request"),
    ("missing message", b'{"session_id": "s"}', "invalid_request"),
    ("null message", b'{"message": null}', "invalid_request"),
    ("number message", b'{"message": 42}', "invalid_request"),
    ("object message", b'{"message": {"text": "hi"}}', "invalid_request"),
    ("empty message", b'{"message": ""}', "invalid_request"),
    ("string stream", b'{"message": "hi", "stream": "yes"}', "invalid_request"),
    ("number session id", b'{"message": "hi", "session_id": 7}', "invalid_request"),
    ("session id with a slash", b'{"message": "hi", "session_id": "a/b"}', "invalid_request"),
    ("session id too long", b'{"message": "hi", "session_id": "' + b"s" * 257 + b'"}', "invalid_request"),
]


@pytest.mark.parametrize(("body", "code"), [(b, c) for _, b, c in BAD_BODIES], ids=[name for name, _, _ in BAD_BODIES])
def test_bad_bodies_get_a_400_json_error_and_never_reach_the_agent(serve: Any, body: bytes, code: str) -> None:
    hosted = serve()
    response = hosted.client.post("/invocations", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert hosted.model.calls == []


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/invocations?agent_session_id=has%20space", {}),
        ("/invocations?agent_session_id=" + "q" * 257, {}),
        ("/invocations?agent_session_id=other", {}),
        ("/invocations", {"x-agent-invocation-id": "no spaces allowed"}),
    ],
)
def test_bad_ids_in_the_query_or_headers_get_a_400(serve: Any, url: str, headers: dict[str, str]) -> None:
    hosted = serve()
    response = hosted.client.post(url, json={"message": "hi", "session_id": "body-id"}, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert response.headers["x-agent-invocation-id"]
    assert hosted.model.calls == []


def test_a_refused_turn_leaves_its_session_untouched(serve: Any) -> None:
    client = serve().client
    client.post("/invocations", json={"message": 5, "session_id": "clean"})
    client.post("/invocations", content=b'{"message": "x", "session_id": "clean", "stream": 1}')
    assert (
        client.post("/invocations", json={"message": "first", "session_id": "clean"}).json()["response"]
        == "echo 1: first"
    )


def test_an_oversized_body_is_refused_with_a_json_error(serve: Any) -> None:
    hosted = serve(max_body_bytes=1000)
    body = {"message": "x" * 2000}
    response = hosted.client.post("/invocations", json=body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert hosted.model.calls == []


def test_an_oversized_body_without_a_length_is_refused_while_reading(serve: Any) -> None:
    hosted = serve(max_body_bytes=1000)

    def chunks() -> Iterator[bytes]:
        yield b'{"message": "'
        for _ in range(50):
            yield b"y" * 100
        yield b'"}'

    response = hosted.client.post("/invocations", content=chunks())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert hosted.model.calls == []


def test_a_body_at_the_limit_is_accepted(serve: Any) -> None:
    hosted = serve(max_body_bytes=100)
    body = b'{"message": "' + b"z" * (100 - 15) + b'"}'
    assert len(body) == 100
    assert hosted.client.post("/invocations", content=body).status_code == 200
