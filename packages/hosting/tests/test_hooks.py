"""Run and response hooks, sync or async, around non-streamed turns."""

from __future__ import annotations

import dataclasses

import pytest
from agent_framework_hosting import ChannelRequest, HostedRunResult

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

    result = await host.context.run(
        turn("hi", "k"), run_hook=rewrite_async if asynchronous else rewrite, protocol_request={"raw": 1}
    )
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

    result = await host.context.run(turn("secret", "k"), response_hook=redact_async if asynchronous else redact)
    assert result.result == "[redacted]" and result.session is not None
    assert calls == [("secret", "test", True)]


async def test_response_hook_gets_the_channel_name_passed_to_run(make_host) -> None:
    names = []
    await make_host().context.run(
        turn("x"),
        response_hook=lambda r, request, channel_name: names.append(channel_name) or r,
        channel_name="telegram",
    )
    assert names == ["telegram"]


async def test_a_run_hook_can_disable_the_session(make_host) -> None:
    host = make_host()
    await host.context.run(turn("one", "k"))
    result = await host.context.run(
        turn("two", "k"), run_hook=lambda r, **_: dataclasses.replace(r, session_mode="disabled")
    )
    assert result.text == "echo 1: two" and result.session is None


async def test_hooks_returning_the_wrong_type_fail_clearly(make_host) -> None:
    host = make_host()
    with pytest.raises(TypeError, match="run hook must return a ChannelRequest"):
        await host.context.run(turn("x"), run_hook=lambda r, **_: "not a request")
    with pytest.raises(TypeError, match="response hook must return a HostedRunResult"):
        await host.context.run(turn("x"), response_hook=lambda r, **_: "text")


async def test_a_failing_hook_does_not_hold_the_session(make_host) -> None:
    host = make_host(turn_wait=1)

    def broken(result, **_):
        raise ValueError("hook broke")

    with pytest.raises(ValueError):
        await host.context.run(turn("x", "k"), response_hook=broken)
    assert (await host.context.run(turn("y", "k"))).text == "echo 2: y"
