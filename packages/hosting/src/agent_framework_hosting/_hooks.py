"""Calling user hooks, sync or async, and checking what they return."""

from __future__ import annotations

import inspect
from typing import Any

from ._types import ChannelRequest, ChannelResponseHook, ChannelRunHook, HostedRunResult


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def apply_run_hook(
    hook: ChannelRunHook | None, request: ChannelRequest, *, target: Any, protocol_request: object
) -> ChannelRequest:
    if hook is None:
        return request
    prepared = await maybe_await(hook(request, target=target, protocol_request=protocol_request))
    if not isinstance(prepared, ChannelRequest):
        raise TypeError(f"run hook must return a ChannelRequest, got {type(prepared).__name__}")
    return prepared


async def apply_response_hook(
    hook: ChannelResponseHook | None, result: HostedRunResult[Any], *, request: ChannelRequest, channel_name: str
) -> HostedRunResult[Any]:
    if hook is None:
        return result
    hooked = await maybe_await(hook(result, request=request, channel_name=channel_name))
    if not isinstance(hooked, HostedRunResult):
        raise TypeError(f"response hook must return a HostedRunResult, got {type(hooked).__name__}")
    return hooked
