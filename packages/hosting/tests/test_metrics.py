"""The host's metrics, read back through an in-memory OpenTelemetry reader."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost, ChannelRequest, ChannelSession
from agent_framework_hosting._metrics import record_dead_letter, use_meter_provider
from agent_framework_hosting.outbound import send_with_retry
from agent_framework_hosting.testing import JsonChannel, OfflineChatClient, running_server
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    memory = InMemoryMetricReader()
    use_meter_provider(MeterProvider(metric_readers=[memory]))
    yield memory
    use_meter_provider(None)


def points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    found: list[Any] = []
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found


def by_attributes(reader: InMemoryMetricReader, name: str) -> dict[tuple[tuple[str, Any], ...], Any]:
    return {tuple(sorted(p.attributes.items())): p for p in points(reader, name)}


def request(text: str, key: str = "chat-1", *, stream: bool = False) -> ChannelRequest:
    return ChannelRequest(channel="json", operation="message", input=text, session=ChannelSession(key), stream=stream)


def test_turns_are_counted_by_channel_and_status_with_their_durations(reader: InMemoryMetricReader) -> None:
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[JsonChannel()])

    async def turns() -> None:
        await host.context.run(request("one"))
        await host.context.run(request("two"))
        with pytest.raises(Exception):
            await host.context.run(request("[fail] three"))

    asyncio.run(turns())
    counted = by_attributes(reader, "hosting.turns")
    assert counted[(("channel", "json"), ("status", "ok"))].value == 2
    assert counted[(("channel", "json"), ("status", "error"))].value == 1
    durations = by_attributes(reader, "hosting.turn.duration")
    assert durations[(("channel", "json"), ("status", "ok"))].count == 2
    assert durations[(("channel", "json"), ("status", "ok"))].sum > 0


def test_a_stream_records_its_time_to_first_update(reader: InMemoryMetricReader) -> None:
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(chunk_delay=0.05), name="echo"), channels=[JsonChannel()])

    async def stream() -> None:
        hosted = await host.context.run_stream(request("a few words here", stream=True))
        async for _ in hosted:
            pass

    asyncio.run(stream())
    [first] = points(reader, "hosting.stream.time_to_first_update")
    assert first.count == 1 and 0.04 < first.sum < 5
    [turn] = [p for p in points(reader, "hosting.turns") if p.attributes["status"] == "ok"]
    assert turn.value == 1


def test_a_turn_waiting_for_its_conversation_records_the_wait(reader: InMemoryMetricReader) -> None:
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(chunk_delay=0.1), name="echo"), channels=[JsonChannel()])

    async def consume(text: str) -> None:
        async for _ in await host.context.run_stream(request(text, stream=True)):
            pass

    async def together() -> None:
        await asyncio.gather(consume("one two three"), consume("four five six"))

    asyncio.run(together())
    [wait] = points(reader, "hosting.queue.wait")
    assert wait.count == 2
    assert wait.max > 0.1 and wait.min < 0.05


def test_outbound_retries_and_dead_letters_are_counted(reader: InMemoryMetricReader) -> None:
    statuses = iter([503, 429, 200])

    async def platform(request: Request) -> Response:
        return Response(status_code=next(statuses), headers={"retry-after": "0"})

    app = Starlette(routes=[Route("/send", platform, methods=["POST"])])

    async def call(url: str) -> int:
        async with httpx.AsyncClient() as client:
            response = await send_with_retry(client, "POST", f"{url}/send", base_delay=0.01)
            return response.status_code

    with running_server(app) as url:
        assert asyncio.run(call(url)) == 200
    retries = by_attributes(reader, "hosting.outbound.retries")
    assert retries[(("reason", "503"), ("target", "127.0.0.1"))].value == 1
    assert retries[(("reason", "429"), ("target", "127.0.0.1"))].value == 1
    record_dead_letter("telegram", "undeliverable")
    [dead] = points(reader, "hosting.dead_letters")
    assert dead.value == 1 and dict(dead.attributes) == {"channel": "telegram", "reason": "undeliverable"}
