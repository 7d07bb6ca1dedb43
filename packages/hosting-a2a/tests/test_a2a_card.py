"""The agent card: complete and valid against a2a-sdk's v1.0 models, built from the agent, configurable."""

from __future__ import annotations

from typing import Any

import pytest
from a2a.client.card_resolver import parse_agent_card
from a2a.types import AgentCard
from a2a.utils.proto_utils import validate_proto_required_fields
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient
from agent_framework_hosting_a2a import A2AChannel, CardOptions, Skill
from starlette.testclient import TestClient


def card_of(channel: A2AChannel, path: str = "/.well-known/agent-card.json", **agent: Any) -> dict[str, Any]:
    target = Agent(client=OfflineChatClient(), **({"name": "echo", "description": "Echoes."} | agent))
    with TestClient(AgentFrameworkHost(target, channels=[channel]).app) as client:
        response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    return response.json()  # type: ignore[no-any-return]


def test_the_card_is_complete_and_valid_for_the_sdk() -> None:
    body = card_of(A2AChannel())
    card = parse_agent_card(dict(body))
    validate_proto_required_fields(card)
    assert card.name == "echo" and card.description == "Echoes."
    assert [(i.url, i.protocol_binding, i.protocol_version) for i in card.supported_interfaces] == [
        ("http://testserver/a2a", "JSONRPC", "1.0"),
        ("http://testserver/a2a", "HTTP+JSON", "1.0"),
        ("http://testserver/a2a", "JSONRPC", "0.3"),
    ]
    assert card.capabilities.streaming is True
    assert card.capabilities.push_notifications is True
    assert len(card.skills) == 1 and card.skills[0].id and card.skills[0].description
    assert card.default_input_modes and card.default_output_modes
    assert card.security_schemes["bearer"].http_auth_security_scheme.scheme == "Bearer"
    assert not card.security_requirements, "without a key the agent is open"


def test_the_card_is_served_at_the_channel_path_with_the_same_interfaces() -> None:
    channel = A2AChannel(path="/agents/echo")
    at_root = card_of(channel)
    at_channel = card_of(A2AChannel(path="/agents/echo"), "/agents/echo/.well-known/agent-card.json")
    assert at_root["supportedInterfaces"] == at_channel["supportedInterfaces"]
    assert at_root["supportedInterfaces"][0]["url"] == "http://testserver/agents/echo"


def test_name_description_skills_and_public_url_are_configurable() -> None:
    options = CardOptions(
        name="Helper",
        description="Helps.",
        version="2.1.0",
        skills=(Skill(id="sum", name="Sums", description="Adds numbers", tags=("math",), examples=("1+1?",)),),
        public_url="https://agents.example.com/a2a",
        provider=("Example Org", "https://example.com"),
        documentation_url="https://example.com/docs",
    )
    card = parse_agent_card(card_of(A2AChannel(card=options)))
    validate_proto_required_fields(card)
    assert (card.name, card.description, card.version) == ("Helper", "Helps.", "2.1.0")
    assert [(s.id, list(s.tags), list(s.examples)) for s in card.skills] == [("sum", ["math"], ["1+1?"])]
    assert {i.url for i in card.supported_interfaces} == {"https://agents.example.com/a2a"}
    assert card.provider.organization == "Example Org"
    assert card.documentation_url == "https://example.com/docs"


def test_an_api_key_makes_bearer_a_requirement() -> None:
    card = parse_agent_card(card_of(A2AChannel(api_key="k")))
    assert [list(r.schemes) for r in card.security_requirements] == [["bearer"]]


def test_an_agent_without_description_still_gets_a_complete_card() -> None:
    card = parse_agent_card(card_of(A2AChannel(), description=None))
    validate_proto_required_fields(card)
    assert card.description and card.skills[0].description


def test_the_root_card_can_be_left_to_someone_else() -> None:
    target = Agent(client=OfflineChatClient(), name="echo")
    with TestClient(AgentFrameworkHost(target, channels=[A2AChannel(well_known=False)]).app) as client:
        assert client.get("/.well-known/agent-card.json").status_code == 404
        assert client.get("/a2a/.well-known/agent-card.json").status_code == 200


@pytest.mark.parametrize("path", ["", "/"])
def test_the_channel_needs_a_path_below_the_root(path: str) -> None:
    with pytest.raises(ValueError, match="path"):
        A2AChannel(path=path)


def test_agent_card_is_the_sdk_type() -> None:
    channel = A2AChannel()
    AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[channel]).app  # noqa: B018
    assert isinstance(channel.agent_card("http://h/a2a"), AgentCard)
