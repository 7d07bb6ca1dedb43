"""One server span and one log line per turn, with the agent's spans nested under it."""

from __future__ import annotations

import hashlib
import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from .conftest import turn

_exporter = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def tracing():
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_exporter))
    trace.set_tracer_provider(provider)
    from agent_framework.observability import enable_instrumentation

    enable_instrumentation()
    yield


@pytest.fixture(autouse=True)
def clean_exporter():
    _exporter.clear()
    yield


def _server_span(name: str):
    spans = _exporter.get_finished_spans()
    servers = [s for s in spans if s.kind == trace.SpanKind.SERVER and s.name == name]
    assert len(servers) == 1, [s.name for s in spans]
    return servers[0], spans


def _children(server, spans):
    return [s for s in spans if s.parent is not None and s.parent.span_id == server.context.span_id]


async def test_a_turn_has_one_server_span_with_the_agent_span_inside(make_host) -> None:
    await make_host().context.run(turn("hi", "k"))
    server, spans = _server_span("test message")
    assert server.attributes["hosting.channel"] == "test"
    assert any("invoke_agent" in s.name for s in _children(server, spans))


async def test_a_streamed_turn_nests_the_agent_span_too(make_host) -> None:
    stream = await make_host().context.run_stream(turn("hi there", "k"))
    async for _ in stream:
        pass
    server, spans = _server_span("test message")
    assert server.attributes["hosting.stream"] is True
    assert any("invoke_agent" in s.name for s in _children(server, spans))


async def test_a_failed_turn_marks_its_span_as_an_error(make_host) -> None:
    with pytest.raises(RuntimeError):
        await make_host().context.run(turn("[fail]"))
    server, _ = _server_span("test message")
    assert server.status.status_code == trace.StatusCode.ERROR


async def test_each_turn_logs_one_info_line(make_host, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="agent_framework.hosting"):
        await make_host().context.run(turn("hi", "k"))
    lines = [r for r in caplog.records if r.getMessage().startswith("turn ")]
    assert len(lines) == 1
    assert lines[0].channel == "test" and lines[0].operation == "message" and lines[0].duration_ms >= 0


async def test_the_turn_line_names_a_hashed_session_and_the_turn_id_never_the_chat_id(make_host, caplog) -> None:
    request = turn("hi", "telegram:4242")
    request.attributes = {"response_id": "resp_abc", "chat_id": 4242}
    with caplog.at_level(logging.INFO, logger="agent_framework.hosting"):
        await make_host().context.run(request)
    [line] = [r for r in caplog.records if r.getMessage().startswith("turn ")]
    expected = hashlib.sha256(b"telegram:4242").hexdigest()[:12]
    assert f"session={expected} id=resp_abc " in line.getMessage()
    assert "4242" not in line.getMessage() and line.session == expected and line.turn_id == "resp_abc"
    assert " status=ok " in line.getMessage()
