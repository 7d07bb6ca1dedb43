"""The agent card: built from the target's name, description and skills (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentProvider,
    AgentSkill,
    HTTPAuthSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)
from a2a.utils.constants import PROTOCOL_VERSION_0_3, PROTOCOL_VERSION_1_0, TransportProtocol

BEARER_SCHEME = "bearer"
TEXT_MODES = ("text/plain", "application/json")


@dataclass(frozen=True)
class Skill:
    """One A2A skill advertised on the card."""

    id: str
    name: str
    description: str
    tags: Sequence[str] = ("chat",)
    examples: Sequence[str] = ()

    def to_proto(self) -> AgentSkill:
        return AgentSkill(
            id=self.id,
            name=self.name,
            description=self.description,
            tags=list(self.tags),
            examples=list(self.examples),
            input_modes=list(TEXT_MODES),
            output_modes=["text/plain"],
        )


@dataclass(frozen=True)
class CardOptions:
    """What the card says beyond what the target tells: all optional.

    `public_url` is the channel's absolute URL as clients reach it (behind a proxy);
    by default it is derived from each card request.
    """

    name: str | None = None
    description: str | None = None
    version: str = "1.0.0"
    skills: Sequence[Skill] = ()
    public_url: str | None = None
    provider: tuple[str, str] | None = None
    documentation_url: str | None = None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def describe_target(target: Any) -> tuple[str, str]:
    """The target's name and description, with readable fallbacks."""
    name = _text(getattr(target, "name", None)) or type(target).__name__
    description = _text(getattr(target, "description", None)) or f"The {name} agent, served by agent-framework-hosting."
    return name, description


def default_skill(name: str, description: str) -> Skill:
    return Skill(id="chat", name=f"Chat with {name}", description=description, tags=("chat", "conversation"))


def build_card(target: Any, options: CardOptions, *, url: str, authenticated: bool, push: bool = False) -> AgentCard:
    """A complete v1.0 card: JSON-RPC (1.0 and 0.3) and HTTP+JSON (1.0) on one URL, streaming, ≥1 skill, bearer auth."""
    target_name, target_description = describe_target(target)
    name = options.name or target_name
    description = options.description or target_description
    skills = list(options.skills) or [default_skill(name, description)]
    card = AgentCard(
        name=name,
        description=description,
        version=options.version,
        supported_interfaces=[
            AgentInterface(
                url=url, protocol_binding=TransportProtocol.JSONRPC.value, protocol_version=PROTOCOL_VERSION_1_0
            ),
            AgentInterface(
                url=url, protocol_binding=TransportProtocol.HTTP_JSON.value, protocol_version=PROTOCOL_VERSION_1_0
            ),
            AgentInterface(
                url=url, protocol_binding=TransportProtocol.JSONRPC.value, protocol_version=PROTOCOL_VERSION_0_3
            ),
        ],
        capabilities=AgentCapabilities(streaming=True, push_notifications=push, extended_agent_card=False),
        default_input_modes=list(TEXT_MODES),
        default_output_modes=["text/plain"],
        skills=[skill.to_proto() for skill in skills],
        security_schemes={
            BEARER_SCHEME: SecurityScheme(
                http_auth_security_scheme=HTTPAuthSecurityScheme(
                    scheme="Bearer", description="Authorization: Bearer <the channel's api_key>"
                )
            )
        },
    )
    if authenticated:
        card.security_requirements.append(SecurityRequirement(schemes={BEARER_SCHEME: StringList(list=[])}))
    if options.provider is not None:
        card.provider.CopyFrom(AgentProvider(organization=options.provider[0], url=options.provider[1]))
    if options.documentation_url:
        card.documentation_url = options.documentation_url
    return card
