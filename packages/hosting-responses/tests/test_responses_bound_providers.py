"""A context provider with `bind_request_context` is bound to the response's ids for exactly the agent's run."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from agent_framework import Agent, AgentSession, ContextProvider, SessionContext, SupportsAgentRun
from agent_framework_hosting.testing import OfflineChatClient


class ChainingProvider(ContextProvider):
    """Records the ids it is bound to, and what is bound while the agent runs (as a Foundry memory provider would)."""

    def __init__(self) -> None:
        super().__init__("chaining")
        self.bound: tuple[str, str | None] | None = None
        self.seen_in_run: list[tuple[str, str | None] | None] = []
        self.released: list[str] = []

    @contextlib.contextmanager
    def bind_request_context(self, *, response_id: str, previous_response_id: str | None) -> Iterator[None]:
        self.bound = (response_id, previous_response_id)
        try:
            yield
        finally:
            self.bound = None
            self.released.append(response_id)

    async def before_run(
        self, *, agent: SupportsAgentRun, session: AgentSession, context: SessionContext, state: dict[str, Any]
    ) -> None:
        self.seen_in_run.append(self.bound)


def test_a_plain_response_runs_bound_to_its_id_and_its_previous_one(serve: Any) -> None:
    provider = ChainingProvider()
    served = serve(target=Agent(client=OfflineChatClient(), name="echo", context_providers=[provider]))
    first = served.client.responses.create(model="m", input="one")
    second = served.client.responses.create(model="m", input="two", previous_response_id=first.id)
    assert provider.seen_in_run == [(first.id, None), (second.id, first.id)]
    assert provider.released == [first.id, second.id] and provider.bound is None


def test_a_streamed_response_stays_bound_until_its_stream_is_drained(serve: Any) -> None:
    provider = ChainingProvider()
    served = serve(target=Agent(client=OfflineChatClient(), name="echo", context_providers=[provider]))
    with served.client.responses.stream(model="m", input="one") as stream:
        final = stream.get_final_response()
    assert provider.seen_in_run == [(final.id, None)]
    assert provider.released == [final.id] and provider.bound is None


def test_an_agent_without_a_binding_provider_runs_as_before(serve: Any) -> None:
    served = serve()
    assert served.client.responses.create(model="m", input="hello").output_text == "echo 1: hello"


class RefusingProvider(ContextProvider):
    """A provider whose binding fails."""

    def __init__(self) -> None:
        super().__init__("refusing")

    @contextlib.contextmanager
    def bind_request_context(self, *, response_id: str, previous_response_id: str | None) -> Iterator[None]:
        raise RuntimeError("cannot bind")
        yield


class StreamRefusingAgent(Agent):
    """An agent whose streamed run fails as it starts."""

    def run(self, *args: Any, stream: bool = False, **kwargs: Any) -> Any:  # type: ignore[override]
        if stream:
            raise RuntimeError("cannot stream")
        return super().run(*args, stream=stream, **kwargs)


def test_a_provider_failing_to_bind_releases_the_ones_bound_before_it(serve: Any) -> None:
    provider = ChainingProvider()
    agent = Agent(client=OfflineChatClient(), name="echo", context_providers=[provider, RefusingProvider()])
    served = serve(target=agent)
    with pytest.raises(openai.InternalServerError):
        served.client.responses.create(model="m", input="one")
    assert provider.seen_in_run == [] and len(provider.released) == 1 and provider.bound is None


def test_a_stream_failing_to_start_releases_its_binding(serve: Any) -> None:
    provider = ChainingProvider()
    served = serve(target=StreamRefusingAgent(client=OfflineChatClient(), name="echo", context_providers=[provider]))
    with pytest.raises(openai.InternalServerError), served.client.responses.stream(model="m", input="one") as stream:
        stream.get_final_response()
    assert len(provider.released) == 1 and provider.bound is None
