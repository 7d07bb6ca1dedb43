"""Run and response hooks, sync or async, around non-streamed turns."""

from __future__ import annotations

import dataclasses

import pytest
from agent_framework_hosting import ChannelRequest, ChannelSession, HostedRunResult
from agent_framework_hosting.testing import JsonChannel
from starlette.testclient import TestClient

from .conftest import turn


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_run_hook_receives_target_and_protocol_request_and_replaces_the_request(
    make_host, agent, asynchronous
) -> None:
    host = make_host()
    seen = {}

    def rewrite(request: ChannelRequest, *, target, protocol_request) -> ChannelRequest:
        seen.update(target=target, protocol_request=protocol_request)
        return dataclasses.replace(request, input=request.input.upper())

    async def rewrite_async(request: ChannelRequest, **kwargs) -> ChannelRequest:
        return rewrite(request, **kwargs)

    context = host.context.bind("test", run_hook=rewrite_async if asynchronous else rewrite)
    result = await context.run(turn("hi", "k"), protocol_request={"raw": 1})
    assert result.text == "echo 1: HI"
    assert seen == {"target": agent, "protocol_request": {"raw": 1}}


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_response_hook_can_replace_the_result(make_host, asynchronous) -> None:
    host = make_host()
    calls = []

    def redact(result: HostedRunResult, *, request: ChannelRequest, channel_name: str) -> HostedRunResult:
        calls.append((request.input, channel_name, result.session is not None))
        return result.replace(result="[redacted]")

    async def redact_async(result, **kwargs):
        return redact(result, **kwargs)

    context = host.context.bind("test", response_hook=redact_async if asynchronous else redact)
    result = await context.run(turn("secret", "k"))
    assert result.result == "[redacted]" and result.session is not None
    assert calls == [("secret", "test", True)]


async def test_response_hook_gets_the_name_the_context_is_bound_to(make_host) -> None:
    names = []
    context = make_host().context.bind(
        "telegram", response_hook=lambda r, request, channel_name: names.append(channel_name) or r
    )
    await context.run(turn("x"))
    assert names == ["telegram"]


async def test_a_run_hook_can_disable_the_session(make_host) -> None:
    host = make_host()
    await host.context.run(turn("one", "k"))
    context = host.context.bind("test", run_hook=lambda r, **_: dataclasses.replace(r, session_mode="disabled"))
    result = await context.run(turn("two", "k"))
    assert result.text == "echo 1: two" and result.session is None


async def test_hooks_returning_the_wrong_type_fail_clearly(make_host) -> None:
    host = make_host()
    with pytest.raises(TypeError, match="run hook must return a ChannelRequest"):
        await host.context.bind("test", run_hook=lambda r, **_: "not a request").run(turn("x"))
    with pytest.raises(TypeError, match="response hook must return a HostedRunResult"):
        await host.context.bind("test", response_hook=lambda r, **_: "text").run(turn("x"))


async def test_a_failing_hook_does_not_hold_the_session(make_host) -> None:
    host = make_host(turn_wait=1)

    def broken(result, **_):
        raise ValueError("hook broke")

    with pytest.raises(ValueError):
        await host.context.bind("test", response_hook=broken).run(turn("x", "k"))
    assert (await host.context.run(turn("y", "k"))).text == "echo 2: y"


async def test_run_returns_the_request_it_ran_with_the_hooked_session_key(make_host) -> None:
    host = make_host()
    context = host.context.bind("test", run_hook=lambda r, **_: dataclasses.replace(r, session=ChannelSession("b")))
    result = await context.run(turn("x", "a"))
    assert result.request is not None and result.request.isolation_key == "b"
    redacting = context.bind("test", response_hook=lambda r, **_: HostedRunResult("[redacted]"))
    assert (await redacting.run(turn("y", "a"))).request.isolation_key == "a"


async def test_a_stream_exposes_the_request_it_runs_before_and_after_it_finishes(make_host) -> None:
    host = make_host()
    context = host.context.bind("test", run_hook=lambda r, **_: dataclasses.replace(r, session=ChannelSession("b")))
    stream = await context.run_stream(turn("x", "a"))
    assert stream.request.isolation_key == "b"
    await stream.get_final_response()
    assert stream.result.request is stream.request


async def test_the_host_binds_each_channel_to_its_own_name_and_hooks(make_host) -> None:
    seen: list[tuple[str, str]] = []

    class HookedChannel(JsonChannel):
        def __init__(self, name: str) -> None:
            super().__init__(name=name, path=f"/{name}")
            self.run_hook = lambda r, **_: dataclasses.replace(r, input=f"{name}:{r.input}")
            self.response_hook = lambda result, channel_name, **_: seen.append((channel_name, result.text)) or result

    host = make_host(channels=[HookedChannel("one"), HookedChannel("two")])
    with TestClient(host.app) as client:
        assert client.post("/one", json={"text": "hi"}).json() == {"text": "echo 1: one:hi"}
        assert client.post("/two", json={"text": "hi"}).json() == {"text": "echo 1: two:hi"}
    assert seen == [("one", "echo 1: one:hi"), ("two", "echo 1: two:hi")]
