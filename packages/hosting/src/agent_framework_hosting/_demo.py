"""The built-in demo agent: a real model when OpenAI settings are present, else the offline demo model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent_framework import Agent

from ._demo_model import DemoChatClient
from ._demo_tools import DEMO_TOOLS
from ._errors import ConfigurationError

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
PLACEHOLDER_API_KEY = "not-needed"
DEMO_INSTRUCTIONS = (
    "You are the demo agent of agent-framework-hosting, talking to a person through one of the host's channels "
    "(a web chat, the OpenAI Responses API, a chat platform). Answer briefly. Use the current_time tool for "
    "questions about the time or date and the calculate tool for arithmetic."
)


@dataclass(frozen=True)
class OpenAISettings:
    """Where the demo's real model lives: `OPENAI_MODEL` at `OPENAI_BASE_URL` (default: OpenAI)."""

    model: str
    api_key: str
    base_url: str | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> OpenAISettings | None:
        """The settings when `OPENAI_API_KEY` or `OPENAI_BASE_URL` is set, else None."""
        api_key = environ.get("OPENAI_API_KEY", "").strip()
        base_url = environ.get("OPENAI_BASE_URL", "").strip()
        if not api_key and not base_url:
            return None
        model = environ.get("OPENAI_MODEL", "").strip() or DEFAULT_OPENAI_MODEL
        return cls(model=model, api_key=api_key or PLACEHOLDER_API_KEY, base_url=base_url or None)

    def describe(self) -> str:
        return f"{self.model} at {self.base_url or 'OpenAI'}"


class DemoConfigurationError(ConfigurationError, RuntimeError):
    """The environment asks for something the installation cannot do."""


def openai_client(settings: OpenAISettings) -> Any:
    """A Chat Completions client for OpenAI or any OpenAI-compatible server."""
    try:
        from agent_framework.openai import OpenAIChatCompletionClient
    except ImportError as error:
        raise DemoConfigurationError(
            "OPENAI_API_KEY or OPENAI_BASE_URL is set, but the OpenAI client is not installed: "
            "pip install 'agent-framework-hosting[openai]'"
        ) from error
    return OpenAIChatCompletionClient(model=settings.model, api_key=settings.api_key, base_url=settings.base_url)


@dataclass(frozen=True)
class DemoAgent:
    """The demo agent and a one-line description of its model, for the startup banner."""

    agent: Agent[Any]
    model: str


def demo_agent(environ: Mapping[str, str], *, word_delay: float | None = None) -> DemoAgent:
    """Build the demo agent for this environment."""
    settings = OpenAISettings.from_env(environ)
    if settings is not None:
        client = openai_client(settings)
        description = f"{settings.describe()} (Chat Completions)"
    else:
        client = DemoChatClient() if word_delay is None else DemoChatClient(word_delay=word_delay)
        description = "offline demo model (set OPENAI_API_KEY or OPENAI_BASE_URL for a real model)"
    agent = Agent(client=client, name="demo", instructions=DEMO_INSTRUCTIONS, tools=list(DEMO_TOOLS))
    return DemoAgent(agent=agent, model=description)
