"""Discord interaction payloads in, typed interactions and `ChannelRequest`s out (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_framework_hosting import ChannelIdentity, ChannelRequest, ChannelSession
from agent_framework_hosting.http import BadRequest

PING = 1
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
APPLICATION_COMMAND_AUTOCOMPLETE = 4
MODAL_SUBMIT = 5
AGENT_OPERATION = "message.create"
COMMAND_OPERATION = "command.invoke"
_SNOWFLAKE = re.compile(r"[0-9]{1,20}")


@dataclass(frozen=True)
class DiscordUser:
    id: str
    username: str | None = None
    global_name: str | None = None


@dataclass(frozen=True)
class Interaction:
    """The fields of an application-command interaction the channel acts on."""

    id: str
    token: str
    command: str
    user: DiscordUser
    application_id: str | None = None
    guild_id: str | None = None
    channel_id: str | None = None
    locale: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _snowflake(value: Any) -> str | None:
    """A Discord id: a decimal string."""
    return value if isinstance(value, str) and _SNOWFLAKE.fullmatch(value) else None


def interaction_type(payload: Any) -> int:
    """The `type` of a decoded body, or `BadRequest` when it is no interaction at all."""
    if not isinstance(payload, dict):
        raise BadRequest("interaction body must be a JSON object")
    kind = payload.get("type")
    if not isinstance(kind, int) or isinstance(kind, bool):
        raise BadRequest("interaction type must be an integer", param="type")
    return kind


def _user(payload: Mapping[str, Any]) -> DiscordUser:
    member = payload.get("member")
    user = member.get("user") if isinstance(member, dict) else None
    if not isinstance(user, dict):
        user = payload.get("user")
    if not isinstance(user, dict) or not _snowflake(user.get("id")):
        raise BadRequest("interaction has no user", param="user")
    return DiscordUser(id=user["id"], username=_text(user.get("username")), global_name=_text(user.get("global_name")))


def _options(data: Mapping[str, Any]) -> dict[str, str]:
    """Top-level option values by name, as text (booleans lower-case, as typed in Discord)."""
    found: dict[str, str] = {}
    options = data.get("options")
    for option in options if isinstance(options, list) else ():
        if not isinstance(option, dict) or not isinstance(option.get("name"), str) or option["name"] in found:
            continue
        value = option.get("value")
        if isinstance(value, bool):
            found[option["name"]] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            found[option["name"]] = str(value)
    return found


def parse_command(payload: Mapping[str, Any]) -> Interaction:
    """An APPLICATION_COMMAND interaction, or `BadRequest` naming what is missing."""
    data = payload.get("data")
    if not isinstance(data, dict) or not _text(data.get("name")):
        raise BadRequest("application command has no name", param="data.name")
    interaction_id, token = _snowflake(payload.get("id")), _text(payload.get("token"))
    if interaction_id is None:
        raise BadRequest("interaction has no id", param="id")
    if token is None:
        raise BadRequest("interaction has no token", param="token")
    channel = payload.get("channel")
    channel_id = _text(payload.get("channel_id")) or (_text(channel.get("id")) if isinstance(channel, dict) else None)
    return Interaction(
        id=interaction_id,
        token=token,
        command=data["name"],
        user=_user(payload),
        application_id=_text(payload.get("application_id")),
        guild_id=_text(payload.get("guild_id")),
        channel_id=channel_id,
        locale=_text(payload.get("locale")),
        options=_options(data),
    )


def default_isolation_key(interaction: Interaction) -> str:
    """One conversation per user per channel: `discord:<channel_id>:<user_id>`."""
    return f"discord:{interaction.channel_id or 'unknown'}:{interaction.user.id}"


def identity(interaction: Interaction, channel: str) -> ChannelIdentity:
    attributes = {
        "username": interaction.user.username,
        "global_name": interaction.user.global_name,
        "guild_id": interaction.guild_id,
        "channel_id": interaction.channel_id,
    }
    return ChannelIdentity(channel, interaction.user.id, {k: v for k, v in attributes.items() if v is not None})


def _metadata(interaction: Interaction) -> dict[str, str]:
    values = {
        "interaction_id": interaction.id,
        "application_id": interaction.application_id,
        "guild_id": interaction.guild_id,
        "channel_id": interaction.channel_id,
        "user_id": interaction.user.id,
        "command": interaction.command,
        "locale": interaction.locale,
    }
    return {k: v for k, v in values.items() if v is not None}


def to_request(
    interaction: Interaction, *, channel: str, operation: str, text: str, isolation_key: str, stream: bool = False
) -> ChannelRequest:
    return ChannelRequest(
        channel=channel,
        operation=operation,
        input=text,
        session=ChannelSession(isolation_key),
        metadata=_metadata(interaction),
        attributes=_metadata(interaction),
        stream=stream,
        identity=identity(interaction, channel),
    )


def command_text(interaction: Interaction, option: str) -> str:
    """How a ChannelCommand sees its invocation: `/name` or `/name <input>`."""
    value = interaction.options.get(option, "").strip()
    return f"/{interaction.command} {value}" if value else f"/{interaction.command}"
