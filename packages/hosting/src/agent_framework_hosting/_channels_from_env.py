"""Which channels the command line serves: the installed channel packages whose settings are in the environment."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._errors import ConfigurationError

TRUE_VALUES = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class Setting:
    """An environment variable that becomes a constructor argument of a channel."""

    variable: str
    argument: str
    required: bool = False


@dataclass(frozen=True)
class ChannelSpec:
    """A channel package the command line knows how to configure from the environment."""

    name: str
    distribution: str
    module: str
    class_name: str
    settings: tuple[Setting, ...] = ()
    needs: tuple[str, ...] = ()
    """Other channels this one talks to (the web chat needs the Responses channel)."""
    anonymous: str | None = None
    """A variable that, set to a true value, serves the channel without its credentials (local emulators)."""

    def is_anonymous(self, environ: Mapping[str, str]) -> bool:
        if self.anonymous is None:
            return False
        return environ.get(self.anonymous, "").strip().lower() in TRUE_VALUES

    def missing(self, environ: Mapping[str, str]) -> list[str]:
        if self.is_anonymous(environ):
            return []
        return [s.variable for s in self.settings if s.required and not environ.get(s.variable, "").strip()]

    def kwargs(self, environ: Mapping[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        anonymous = self.is_anonymous(environ)
        for setting in self.settings:
            if anonymous and setting.required:
                continue
            value = environ.get(setting.variable, "").strip()
            if value:
                values[setting.argument] = value
        return values


KNOWN_CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec(
        "responses",
        "agent-framework-hosting-responses",
        "agent_framework_hosting_responses",
        "ResponsesChannel",
        settings=(Setting("RESPONSES_API_KEY", "api_key"),),
    ),
    ChannelSpec(
        "invocations",
        "agent-framework-hosting-invocations",
        "agent_framework_hosting_invocations",
        "InvocationsChannel",
    ),
    ChannelSpec(
        "telegram",
        "agent-framework-hosting-telegram",
        "agent_framework_hosting_telegram",
        "TelegramChannel",
        settings=(
            Setting("TELEGRAM_BOT_TOKEN", "bot_token", required=True),
            Setting("TELEGRAM_WEBHOOK_URL", "webhook_url"),
            Setting("TELEGRAM_SECRET_TOKEN", "secret_token"),
            Setting("TELEGRAM_API_BASE", "api_base"),
        ),
    ),
    ChannelSpec(
        "discord",
        "agent-framework-hosting-discord",
        "agent_framework_hosting_discord",
        "DiscordChannel",
        settings=(
            Setting("DISCORD_APPLICATION_ID", "application_id", required=True),
            Setting("DISCORD_PUBLIC_KEY", "public_key", required=True),
            Setting("DISCORD_BOT_TOKEN", "bot_token"),
            Setting("DISCORD_GUILD_ID", "guild_id"),
        ),
    ),
    ChannelSpec(
        "activity-protocol",
        "agent-framework-hosting-activity-protocol",
        "agent_framework_hosting_activity_protocol",
        "ActivityProtocolChannel",
        settings=(
            Setting("BOT_APP_ID", "app_id", required=True),
            Setting("BOT_APP_PASSWORD", "app_password", required=True),
            Setting("BOT_TENANT_ID", "tenant_id"),
        ),
        anonymous="BOT_ANONYMOUS",
    ),
    ChannelSpec(
        "webchat",
        "agent-framework-hosting-webchat",
        "agent_framework_hosting_webchat",
        "WebChatChannel",
        needs=("responses",),
    ),
)


class ChannelSelectionError(ConfigurationError, ValueError):
    """A channel asked for by name cannot be served; the message says why in one line."""


@dataclass(frozen=True)
class SelectedChannel:
    spec: ChannelSpec
    channel: Any


@dataclass(frozen=True)
class SkippedChannel:
    name: str
    reason: str


@dataclass
class ChannelSelection:
    selected: list[SelectedChannel] = field(default_factory=list)
    skipped: list[SkippedChannel] = field(default_factory=list)

    @property
    def channels(self) -> list[Any]:
        return [s.channel for s in self.selected]


class _Unavailable(ConfigurationError):
    """A channel package cannot be used here (not installed, not configured)."""


def _channel_class(spec: ChannelSpec, importer: Callable[[str], Any]) -> Any:
    try:
        module = importer(spec.module)
    except ImportError as error:
        missing = getattr(error, "name", None) or ""
        if missing and (spec.module == missing or spec.module.startswith(missing + ".")):
            raise _Unavailable(f"not installed (pip install {spec.distribution})") from None
        raise _Unavailable(f"failed to import: {error}") from None
    except Exception as error:
        raise _Unavailable(f"failed to import: {type(error).__name__}: {error}") from None
    channel_class = getattr(module, spec.class_name, None)
    if channel_class is None:
        raise _Unavailable(f"{spec.module} has no {spec.class_name} (an incompatible version?)")
    return channel_class


def _build(spec: ChannelSpec, environ: Mapping[str, str], importer: Callable[[str], Any], served: set[str]) -> Any:
    channel_class = _channel_class(spec, importer)
    absent = [name for name in spec.needs if name not in served]
    if absent:
        raise _Unavailable(f"needs the {' and '.join(absent)} channel")
    if spec.is_anonymous(environ):
        credentials = [s.variable for s in spec.settings if s.required and environ.get(s.variable, "").strip()]
        if credentials:
            raise _Unavailable(f"has both {spec.anonymous} and {' and '.join(credentials)} set; choose one")
    missing = spec.missing(environ)
    if missing:
        raise _Unavailable("needs " + " and ".join(missing))
    try:
        return channel_class(**spec.kwargs(environ))
    except (TypeError, ValueError) as error:
        raise _Unavailable(f"could not be configured: {error}") from None


def select_channels(
    environ: Mapping[str, str],
    requested: Sequence[str] | None = None,
    *,
    specs: Sequence[ChannelSpec] = KNOWN_CHANNELS,
    importer: Callable[[str], Any] = importlib.import_module,
) -> ChannelSelection:
    """Build the channels to serve.

    Without `requested`, every installed channel whose required settings are
    present; the rest are reported as skipped with the reason. With
    `requested`, exactly those channels, and any that cannot be built is an
    error.
    """
    by_name = {spec.name: spec for spec in specs}
    if requested:
        unknown = [name for name in requested if name not in by_name]
        if unknown:
            raise ChannelSelectionError(f"unknown channel {unknown[0]!r}; known channels: {', '.join(by_name)}")
        wanted = [spec for spec in specs if spec.name in requested]
    else:
        wanted = list(specs)
    selection = ChannelSelection()
    for spec in wanted:
        served = {s.spec.name for s in selection.selected}
        try:
            selection.selected.append(SelectedChannel(spec, _build(spec, environ, importer, served)))
        except _Unavailable as reason:
            if requested:
                raise ChannelSelectionError(f"channel {spec.name!r} {reason}") from None
            selection.skipped.append(SkippedChannel(spec.name, str(reason)))
    return selection
