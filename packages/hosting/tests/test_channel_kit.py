"""Helpers channels share: splitting text, throttling edits, retrying platform calls, reading bodies."""

from __future__ import annotations

import time

import httpx
import pytest
from agent_framework_hosting.outbound import send_with_retry
from agent_framework_hosting.streaming import EditThrottle
from agent_framework_hosting.testing import running_server
from agent_framework_hosting.text import split_text
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def test_short_text_is_one_chunk() -> None:
    assert split_text("hello", 10) == ["hello"]
    assert split_text("", 10) == [""]


def test_long_text_splits_at_paragraphs_then_lines_then_words() -> None:
    text = "first paragraph here\n\nsecond paragraph here"
    assert split_text(text, 30) == ["first paragraph here", "second paragraph here"]
    assert split_text("alpha beta gamma delta", 11) == ["alpha beta", "gamma delta"]


def test_a_word_longer_than_the_limit_is_cut() -> None:
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab .\n"), max_size=400), st.integers(min_value=5, max_value=60))
def test_chunks_respect_the_limit_and_keep_every_word(text: str, limit: int) -> None:
    chunks = split_text(text, limit)
    assert all(len(chunk) <= limit for chunk in chunks)
    assert "".join(text.split()) == "".join("".join(chunks).split())


def test_edit_throttle_allows_one_edit_per_interval_and_only_for_new_text() -> None:
    now = [0.0]
    throttle = EditThrottle(1.0, clock=lambda: now[0])
    assert not throttle.due()
    throttle.add("hello")
    assert throttle.due()
    throttle.mark_sent()
    throttle.add(" world")
    assert not throttle.due()
    now[0] = 1.5
    assert throttle.due() and throttle.text == "hello world"
    throttle.mark_sent()
    now[0] = 5.0
    assert not throttle.due(), "nothing new to send"
    assert throttle.sent == "hello world"


@pytest.fixture
def flaky_api():
    calls: list[str] = []
    script: list[Response] = []

    async def endpoint(request: Request) -> Response:
        calls.append(request.method)
        return script.pop(0) if script else JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/call", endpoint, methods=["POST", "GET"])])
    with running_server(app) as url:
        yield url, calls, script


async def test_429_is_retried_after_the_time_the_platform_asks(flaky_api) -> None:
    url, calls, script = flaky_api
    script.append(JSONResponse({"retry_after": 0.3}, status_code=429))
    async with httpx.AsyncClient() as client:
        started = time.monotonic()
        response = await send_with_retry(
            client, "POST", f"{url}/call", retry_after=lambda r: r.json()["retry_after"], json={}
        )
    assert response.status_code == 200 and len(calls) == 2
    assert time.monotonic() - started >= 0.3


async def test_5xx_is_retried_a_bounded_number_of_times(flaky_api) -> None:
    url, calls, script = flaky_api
    script.extend(JSONResponse({}, status_code=502) for _ in range(5))
    async with httpx.AsyncClient() as client:
        response = await send_with_retry(client, "GET", f"{url}/call", attempts=3, base_delay=0.01)
    assert response.status_code == 502 and len(calls) == 3


async def test_4xx_other_than_429_is_not_retried(flaky_api) -> None:
    url, calls, script = flaky_api
    script.append(JSONResponse({}, status_code=400))
    async with httpx.AsyncClient() as client:
        response = await send_with_retry(client, "GET", f"{url}/call", base_delay=0.01)
    assert response.status_code == 400 and len(calls) == 1


async def test_connection_errors_are_retried_then_raised() -> None:
    from agent_framework_hosting.testing import free_port

    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await send_with_retry(client, "GET", f"http://127.0.0.1:{free_port()}/", attempts=2, base_delay=0.01)


async def test_secrets_in_request_urls_are_redacted_from_http_client_logs(flaky_api, caplog) -> None:
    import logging

    from agent_framework_hosting.outbound import redact_in_logs

    url, _, _ = flaky_api
    redact_in_logs(r"/call\?token=[^&\s\"]+", "/call?token=<redacted>")
    with caplog.at_level(logging.INFO, logger="httpx"):
        async with httpx.AsyncClient() as client:
            await client.get(f"{url}/call?token=s3cret")
    assert "s3cret" not in caplog.text and "token=<redacted>" in caplog.text
