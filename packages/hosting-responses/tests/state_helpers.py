"""A host of its own on a state location, to read or change what a running host stored."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient


@contextlib.asynccontextmanager
async def host_at(location: Any) -> AsyncIterator[AgentFrameworkHost]:
    """A host without channels on the state at `location` (a folder or a URL); its store is closed after."""
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[], state_dir=location)
    try:
        yield host
    finally:
        await host.state.aclose()
