"""Pure conversion of A2A message parts into the agent's input."""

from __future__ import annotations

import pytest
from a2a.types import InvalidParamsError, Message, Part, Role
from agent_framework_hosting_a2a._convert import agent_input, isolation_key
from google.protobuf.struct_pb2 import Value


def message(*parts: Part, role: Role.ValueType = Role.ROLE_USER) -> Message:
    return Message(message_id="m", role=role, parts=list(parts))


def test_text_parts_become_one_user_message() -> None:
    converted = agent_input(message(Part(text="hello"), Part(text="world")))
    assert converted.role == "user"
    assert converted.text == "hello world"


def test_a_data_part_is_handed_over_as_json_text() -> None:
    data = Value()
    data.struct_value.update({"city": "Oslo", "days": 3})
    converted = agent_input(message(Part(text="weather for"), Part(data=data)))
    assert '"city": "Oslo"' in converted.text


def test_file_parts_become_uri_and_data_contents() -> None:
    converted = agent_input(
        message(
            Part(text="see"),
            Part(url="https://example.com/a.png", media_type="image/png", filename="a.png"),
            Part(raw=b"abc", media_type="text/plain"),
        )
    )
    kinds = [content.type for content in converted.contents]
    assert kinds == ["text", "uri", "data"]
    assert converted.contents[1].uri == "https://example.com/a.png"


@pytest.mark.parametrize(
    "bad",
    [
        message(Part(text="hi"), role=Role.ROLE_AGENT),
        message(),
        message(Part()),
        message(Part(text="")),
        message(*[Part(text="x")] * 65),
    ],
)
def test_what_the_agent_cannot_read_is_invalid_params(bad: Message) -> None:
    with pytest.raises(InvalidParamsError):
        agent_input(bad)


def test_a_context_is_a_host_conversation_of_its_own_namespace() -> None:
    assert isolation_key("c1") == "a2a:c1"
