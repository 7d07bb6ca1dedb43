"""The request envelope and result types channels and hooks exchange."""

from __future__ import annotations

import dataclasses

import pytest
from agent_framework_hosting import (
    Channel,
    ChannelContribution,
    ChannelIdentity,
    ChannelRequest,
    ChannelSession,
    HostedRunResult,
)
from starlette.routing import Route


def test_channel_request_defaults_are_fresh_per_instance() -> None:
    first = ChannelRequest(channel="c", operation="o", input="x")
    second = ChannelRequest(channel="c", operation="o", input="y")
    assert first.metadata == {} and first.attributes == {}
    assert first.metadata is not second.metadata and first.metadata is not first.attributes
    assert (first.session, first.options, first.identity, first.stream, first.session_mode) == (
        None,
        None,
        None,
        False,
        "auto",
    )


def test_hooks_can_replace_fields_with_dataclasses_replace() -> None:
    request = ChannelRequest(channel="c", operation="o", input="x", session=ChannelSession("k"))
    changed = dataclasses.replace(request, input="y", session_mode="disabled")
    assert changed.input == "y" and request.input == "x"
    assert changed.isolation_key is None and request.isolation_key == "k"


def test_unknown_session_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="session_mode"):
        ChannelRequest(channel="c", operation="o", input="x", session_mode="required")


def test_isolation_key_needs_a_non_empty_key() -> None:
    assert ChannelRequest(channel="c", operation="o", input="x", session=ChannelSession("")).isolation_key is None
    assert ChannelRequest(channel="c", operation="o", input="x", session=ChannelSession(None)).isolation_key is None


def test_identity_compares_by_value_and_serializes() -> None:
    one = ChannelIdentity("telegram", "42", {"username": "ada"})
    assert one == ChannelIdentity("telegram", "42", {"username": "ada"})
    assert one != ChannelIdentity("telegram", "43")
    assert one.to_dict() == {"channel": "telegram", "native_id": "42", "attributes": {"username": "ada"}}
    assert ChannelIdentity("c", "1").attributes == {}


def test_hosted_run_result_replace_keeps_unset_fields_and_clears_explicit_none() -> None:
    result = HostedRunResult("answer", session="s")
    assert result.replace(result="other").session == "s"
    assert result.replace(session=None).session is None
    assert result.replace(session=None).result == "answer"
    assert result.text == "answer"


def test_any_object_with_name_path_and_contribute_is_a_channel() -> None:
    class Minimal:
        name = "m"
        path = "/m"

        def contribute(self, context: object) -> ChannelContribution:
            return ChannelContribution(routes=[Route("/", lambda r: None)])

    assert isinstance(Minimal(), Channel)
    assert not isinstance(object(), Channel)
    contribution = ChannelContribution()
    assert (contribution.routes, contribution.commands, contribution.on_startup, contribution.on_shutdown) == (
        (),
        (),
        (),
        (),
    )


def test_input_messages_are_stamped_on_copies_that_keep_every_field() -> None:
    from agent_framework import Message
    from agent_framework_hosting._context import stamp_input

    class Tagged(Message):
        __slots__ = ("tag",)

    original = Message(role="user", contents=["hi"], author_name="ada", additional_properties={"k": 1})
    tagged = Tagged(role="user", contents=["yo"])
    tagged.tag = "kept"
    request = ChannelRequest(channel="c", operation="o", input=[original, tagged], identity=ChannelIdentity("c", "u1"))
    stamped, stamped_tagged = stamp_input(request)
    assert stamped is not original and original.additional_properties == {"k": 1}  # the caller's message unchanged
    assert (stamped.role, stamped.text, stamped.author_name) == ("user", "hi", "ada")
    assert stamped.additional_properties["k"] == 1 and stamped.additional_properties["hosting"]["channel"] == "c"
    assert isinstance(stamped_tagged, Tagged) and stamped_tagged.tag == "kept" and stamped_tagged.text == "yo"
