"""The command line's startup banner: what is served where, what was skipped and why, how to try it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._locations import redact_url
from .plugins import ChannelPlugin, SkippedChannel, plugin_for

# Channels whose platform calls this server (Telegram registers its own webhook URL, or long-polls).
_CALLED_BY_PLATFORM = ("DiscordChannel", "ActivityProtocolChannel")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def base_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in WILDCARD_HOSTS else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def channel_path(channel: Any) -> str:
    """Where a channel answers."""
    return getattr(channel, "path", "") or "/"


def channel_line(channel: Any, base: str, plugins: Sequence[ChannelPlugin] = ()) -> str:
    name = str(getattr(channel, "name", type(channel).__name__))
    if getattr(channel, "transport", None) == "polling":
        return f"  {name:<18} long polling (no public URL needed)"
    plugin = plugin_for(channel, plugins)
    note = plugin.describe_note(channel, base) if plugin is not None else ""
    line = f"  {name:<18} {base}{channel_path(channel)}"
    return f"{line}  ({note})" if note else line


def curl_line(
    channels: Sequence[Any], base: str, environ: Mapping[str, str], plugins: Sequence[ChannelPlugin] = ()
) -> str:
    """The first example a served channel's plugin offers, in plugin order; else the readiness probe."""
    served = [(plugin_for(channel, plugins), channel) for channel in channels]
    for plugin in plugins:
        for owner, channel in served:
            if owner is plugin:
                example = plugin.describe_example(f"{base}{channel_path(channel)}", environ)
                if example:
                    return example
    return f"curl {base}/readiness"


def anonymous_warnings(channels: Sequence[Any]) -> list[str]:
    """A loud line for every Activity Protocol channel that accepts callers without a token."""
    return [
        f"WARNING: {getattr(c, 'name', 'activity')} accepts ANONYMOUS callers (BOT_ANONYMOUS is set): anyone who "
        "reaches this port can talk to the agent. Use it only with a local emulator such as Agents Playground."
        for c in channels
        if type(c).__name__ == "ActivityProtocolChannel" and getattr(c, "app_id", "set") is None
    ]


def unreachable_notes(channels: Sequence[Any]) -> list[str]:
    """A note when a platform must call this server but the banner can only show a loopback address."""
    needing = [
        str(getattr(c, "name", type(c).__name__))
        for c in channels
        if type(c).__name__ in _CALLED_BY_PLATFORM and getattr(c, "app_id", "set") is not None
    ]
    if not needing:
        return []
    return [
        f"note: {', '.join(needing)} must be reachable from the internet over https; expose this port with a tunnel "
        "or a reverse proxy and pass --public-url https://... (see the README, 'Deploying')"
    ]


def describe_state(state_location: Any, workers: int, *, max_sessions: int | None = None) -> str:
    if state_location is None:
        note = "conversations are lost on restart; --state-dir keeps them"
        if workers > 1:
            note = "each worker keeps its own; use --state-dir redis://... with several workers"
        cap = f", the {max_sessions} most recent conversations" if max_sessions is not None else ""
        return f"memory{cap} ({note})"
    return redact_url(str(state_location))


@dataclass(frozen=True)
class Banner:
    target: str
    model: str | None
    channels: Sequence[Any]
    skipped: Sequence[SkippedChannel]
    state: str
    host: str
    port: int
    workers: int
    plugins: Sequence[ChannelPlugin] = ()
    public_url: str | None = None

    def render(self, environ: Mapping[str, str]) -> str:
        local = base_url(self.host, self.port)
        base = self.public_url or local
        lines = [f"agent-framework-host: serving {self.target}"]
        if self.model:
            lines.append(f"  model: {self.model}")
        lines.append("channels:")
        lines.extend(channel_line(channel, base, self.plugins) for channel in self.channels)
        if self.skipped:
            lines.append("skipped:")
            lines.extend(f"  {s.name:<18} {s.reason}" for s in self.skipped)
        lines.extend(anonymous_warnings(self.channels))
        if self.public_url is None:
            lines.extend(unreachable_notes(self.channels))
        lines.append(f"state: {self.state}")
        if self.workers > 1:
            lines.append(f"workers: {self.workers}")
        lines.append("try it:")
        lines.append(f"  {curl_line(self.channels, local, environ, self.plugins)}")
        return "\n".join(lines)
