"""The pure protocol layer: signature checks, interaction parsing and wire payloads, without a server."""

from __future__ import annotations

import time

import pytest
from agent_framework_hosting import ChannelIdentity, ChannelSession
from agent_framework_hosting.http import BadRequest
from agent_framework_hosting_discord._parse import (
    AGENT_OPERATION,
    command_text,
    default_isolation_key,
    interaction_type,
    parse_command,
    to_request,
)
from agent_framework_hosting_discord._render import deferred, immediate, message, no_choices, pong, slash_command
from agent_framework_hosting_discord._verify import InvalidSignature, SignatureVerifier, load_public_key
from discord_interactions import verify_key
from discord_testkit import APP_ID, Signer, ask, command, encode


def _verify(signer: Signer, body: bytes, headers: dict[str, str], **kwargs: float) -> None:
    SignatureVerifier(signer.public_key, **kwargs).verify(
        headers.get("X-Signature-Ed25519"), headers.get("X-Signature-Timestamp"), body
    )


def test_a_discord_signature_verifies_and_agrees_with_the_discord_interactions_oracle(signer: Signer) -> None:
    body = encode(ask("hi"))
    headers = signer.headers(body)
    _verify(signer, body, headers)
    assert verify_key(body, headers["X-Signature-Ed25519"], headers["X-Signature-Timestamp"], signer.public_key)


@pytest.mark.parametrize(
    "tamper",
    ["body", "timestamp", "signature", "other_key"],
)
def test_tampered_requests_fail_here_and_in_the_oracle(signer: Signer, tamper: str) -> None:
    body = encode(ask("hi"))
    headers = signer.headers(body)
    if tamper == "body":
        body = body.replace(b"hi", b"ho")
    elif tamper == "timestamp":
        headers["X-Signature-Timestamp"] = str(int(headers["X-Signature-Timestamp"]) - 1)
    elif tamper == "signature":
        signature = bytearray(bytes.fromhex(headers["X-Signature-Ed25519"]))
        signature[10] ^= 1
        headers["X-Signature-Ed25519"] = signature.hex()
    else:
        headers = Signer().headers(body, headers["X-Signature-Timestamp"])
    with pytest.raises(InvalidSignature):
        _verify(signer, body, headers)
    assert not verify_key(body, headers["X-Signature-Ed25519"], headers["X-Signature-Timestamp"], signer.public_key)


@pytest.mark.parametrize(
    ("signature", "timestamp"),
    [
        (None, "1"),
        ("ab" * 64, None),
        ("", ""),
        ("zz" * 64, "1"),
        ("ab" * 63, "1"),
        ("ab " * 64, "1"),
        ("ab" * 64, "12a"),
    ],
)
def test_missing_or_malformed_headers_are_invalid(signer: Signer, signature: str | None, timestamp: str | None) -> None:
    with pytest.raises(InvalidSignature):
        SignatureVerifier(signer.public_key).verify(signature, timestamp, b"{}")


def test_a_correctly_signed_but_stale_timestamp_is_rejected(signer: Signer) -> None:
    body = b'{"type":1}'
    old = str(int(time.time()) - 301)
    with pytest.raises(InvalidSignature, match="window"):
        _verify(signer, body, signer.headers(body, old))
    _verify(signer, body, signer.headers(body, str(int(time.time()) - 250)))
    future = str(int(time.time()) + 600)
    with pytest.raises(InvalidSignature, match="window"):
        _verify(signer, body, signer.headers(body, future))
    _verify(signer, body, signer.headers(body, old), max_skew=3600)


@pytest.mark.parametrize("key", ["", "abc", "zz" * 32, "ab" * 31, 42])
def test_a_bad_public_key_is_refused_at_construction(key: object) -> None:
    with pytest.raises(ValueError, match="64 hex"):
        load_public_key(key)  # type: ignore[arg-type]


def test_interaction_type_requires_an_object_with_an_integer_type() -> None:
    assert interaction_type({"type": 1}) == 1
    for bad in ([], "x", None, {"type": "2"}, {"type": True}, {}):
        with pytest.raises(BadRequest):
            interaction_type(bad)


def test_a_guild_command_parses_user_channel_and_options() -> None:
    payload = ask("what is 2+2?", user_id="42", channel_id="7", guild_id="9", interaction_id="123")
    interaction = parse_command(payload)
    assert (interaction.id, interaction.command, interaction.user.id) == ("123", "ask", "42")
    assert (interaction.guild_id, interaction.channel_id, interaction.application_id) == ("9", "7", APP_ID)
    assert interaction.options == {"prompt": "what is 2+2?"}
    assert default_isolation_key(interaction) == "discord:7:42"


def test_a_dm_command_takes_the_top_level_user() -> None:
    interaction = parse_command(ask("hi", user_id="55", guild_id=None))
    assert interaction.user.id == "55" and interaction.guild_id is None


def test_option_values_of_other_types_become_text() -> None:
    payload = command("roll", {})
    payload["data"]["options"] = [
        {"name": "n", "type": 4, "value": 6},
        {"name": "loud", "type": 5, "value": True},
        {"name": "junk", "type": 3},
        "not-an-option",
    ]
    assert parse_command(payload).options == {"n": "6", "loud": "true"}


@pytest.mark.parametrize("field", ["id", "token", "data", "user"])
def test_a_command_missing_what_the_channel_needs_is_a_bad_request(field: str) -> None:
    payload = ask("hi")
    if field == "user":
        del payload["member"]
    else:
        del payload[field]
    with pytest.raises(BadRequest):
        parse_command(payload)


@pytest.mark.parametrize("where", ["id", "user"])
@pytest.mark.parametrize("bad", ["", "12a", "../../x", "1" * 21, 12])
def test_ids_must_be_discord_snowflakes(where: str, bad: object) -> None:
    payload = ask("hi")
    if where == "id":
        payload["id"] = bad
    else:
        payload["member"]["user"]["id"] = bad
    with pytest.raises(BadRequest):
        parse_command(payload)


def test_the_request_carries_identity_session_and_separate_metadata() -> None:
    interaction = parse_command(ask("hello", user_id="42", channel_id="7", guild_id="9", interaction_id="123"))
    request = to_request(interaction, channel="discord", operation=AGENT_OPERATION, text="hello", isolation_key="k")
    assert request.input == "hello" and request.session == ChannelSession("k")
    assert request.identity == ChannelIdentity(
        "discord", "42", {"username": "user42", "global_name": "Ada", "guild_id": "9", "channel_id": "7"}
    )
    assert request.metadata["interaction_id"] == "123" and request.metadata["command"] == "ask"
    assert request.metadata == request.attributes and request.metadata is not request.attributes


def test_command_text_includes_the_optional_input() -> None:
    assert command_text(parse_command(command("note", {"input": " buy milk "})), "input") == "/note buy milk"
    assert command_text(parse_command(command("note")), "input") == "/note"


def test_wire_payloads() -> None:
    assert pong() == {"type": 1}
    assert deferred() == {"type": 5}
    assert deferred(ephemeral=True) == {"type": 5, "data": {"flags": 64}}
    assert message("@everyone hi") == {"content": "@everyone hi", "allowed_mentions": {"parse": []}}
    assert immediate("nope") == {"type": 4, "data": {"content": "nope", "allowed_mentions": {"parse": []}, "flags": 64}}
    assert no_choices() == {"type": 8, "data": {"choices": []}}
    assert slash_command("reset", "Start over") == {"type": 1, "name": "reset", "description": "Start over"}
