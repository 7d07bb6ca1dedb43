"""Channel plugins: each channel package declares itself once, and the command line discovers what is installed.

A package registers a `ChannelPlugin` under the `agent_framework_hosting.channels`
entry point group::

    [project.entry-points."agent_framework_hosting.channels"]
    echo = "my_package:PLUGIN"

    PLUGIN = ChannelPlugin(
        name="echo",
        channel=EchoChannel,
        title="Echo",
        settings=(ChannelSetting("ECHO_TOKEN", "token", required=True, secret=True),),
    )

`agent-framework-host serve` then builds it with `plugin.from_settings(os.environ)`
when its required settings are present; the banner, `--channel` and the README's
channel table come from the same declaration.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import entry_points
from typing import Any

from ._errors import ConfigurationError

ENTRY_POINT_GROUP = "agent_framework_hosting.channels"
TRUE_VALUES = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class ChannelSetting:
    """An environment variable that becomes a constructor argument of a channel."""

    variable: str
    argument: str
    required: bool = False
    secret: bool = False


@dataclass(frozen=True)
class ChannelPlugin:
    """What the command line needs to know to serve a channel package.

    `channel` is the channel class; `factory` (default: the class) builds it from
    keyword arguments. `needs` names channels this one talks to (the web chat
    needs the Responses channel); `order` sorts the served channels (lower
    first). `note` (text with `{base}`, or a callable given the channel) and
    `example` (a command with `{url}`, or a callable given the URL and the
    environment) are shown in the startup banner; `paths`
    in the README's channel table.
    """

    name: str
    channel: type[Any]
    title: str = ""
    settings: tuple[ChannelSetting, ...] = ()
    needs: tuple[str, ...] = ()
    order: int = 100
    paths: str = ""
    note: str | Callable[[Any], str] = ""
    example: str | Callable[[str, Mapping[str, str]], str] = ""
    factory: Callable[..., Any] | None = None
    distribution: str = ""
    anonymous: str | None = None
    """A variable that, set to a true value, serves the channel without its required credentials (emulators)."""
    one_of: tuple[tuple[str, ...], ...] = ()
    """Groups of variables of which at least one must be set (Slack: the signing secret and/or the app token)."""

    def is_anonymous(self, environ: Mapping[str, str]) -> bool:
        if self.anonymous is None:
            return False
        return environ.get(self.anonymous, "").strip().lower() in TRUE_VALUES

    def missing(self, environ: Mapping[str, str]) -> list[str]:
        """The required variables that are absent or blank."""
        if self.is_anonymous(environ):
            return []
        missing = [s.variable for s in self.settings if s.required and not environ.get(s.variable, "").strip()]
        for group in self.one_of:
            if not any(environ.get(variable, "").strip() for variable in group):
                missing.append(" or ".join(group))
        return missing

    def arguments(self, environ: Mapping[str, str]) -> dict[str, str]:
        """Constructor arguments from the variables that are set (blank ones are ignored)."""
        values: dict[str, str] = {}
        anonymous = self.is_anonymous(environ)
        for setting in self.settings:
            if anonymous and setting.required:
                continue
            value = environ.get(setting.variable, "").strip()
            if value:
                values[setting.argument] = value
        return values

    def from_settings(self, environ: Mapping[str, str]) -> Any:
        """Build the channel from the environment; `ChannelUnavailable` says why it cannot be."""
        if self.is_anonymous(environ):
            credentials = [s.variable for s in self.settings if s.required and environ.get(s.variable, "").strip()]
            if credentials:
                raise ChannelUnavailable(f"has both {self.anonymous} and {' and '.join(credentials)} set; choose one")
        missing = self.missing(environ)
        if missing:
            raise ChannelUnavailable("needs " + " and ".join(missing))
        try:
            return (self.factory or self.channel)(**self.arguments(environ))
        except (TypeError, ValueError) as error:
            raise ChannelUnavailable(f"could not be configured: {error}") from None

    def describe_note(self, channel: Any, base: str) -> str:
        """The banner's note on a served channel."""
        return self.note(channel) if callable(self.note) else self.note.format(base=base)

    def describe_example(self, url: str, environ: Mapping[str, str]) -> str:
        """The banner's "try it" command against `url` ("" when the plugin has none)."""
        return self.example(url, environ) if callable(self.example) else self.example.replace("{url}", url)


def curl_example(
    body: str, *, key: str | None = None, stream: bool = False, headers: Sequence[str] = ()
) -> Callable[[str, Mapping[str, str]], str]:
    """A `ChannelPlugin.example`: curl POSTing the JSON `body`, with a bearer token from `$key` when that is set."""

    def example(url: str, environ: Mapping[str, str]) -> str:
        auth = f' -H "Authorization: Bearer ${key}"' if key and environ.get(key) else ""
        extra = "".join(f" -H '{header}'" for header in headers)
        flags = " -N" if stream else ""
        return f"curl{flags} {url}{auth} -H 'Content-Type: application/json'{extra} -d {shlex.quote(body)}"

    return example


class ChannelUnavailable(ConfigurationError):
    """A channel cannot be served here (not configured, or its package is broken)."""


class ChannelSelectionError(ConfigurationError, ValueError):
    """A channel asked for by name cannot be served; the message says why in one line."""


@dataclass(frozen=True)
class SkippedChannel:
    name: str
    reason: str


@dataclass(frozen=True)
class SelectedChannel:
    plugin: ChannelPlugin
    channel: Any


@dataclass
class ChannelSelection:
    selected: list[SelectedChannel] = field(default_factory=list)
    skipped: list[SkippedChannel] = field(default_factory=list)

    @property
    def channels(self) -> list[Any]:
        return [s.channel for s in self.selected]


@dataclass
class Discovered:
    """The installed plugins, and the entry points that could not be loaded (with the reason)."""

    plugins: list[ChannelPlugin] = field(default_factory=list)
    broken: list[SkippedChannel] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return sorted({p.name for p in self.plugins} | {b.name for b in self.broken})


def discover(group: str = ENTRY_POINT_GROUP) -> Discovered:
    """Load every channel plugin registered under `group`, in `order`."""
    found = Discovered()
    seen: set[str] = set()
    for point in entry_points(group=group):
        if point.name in seen:
            continue
        seen.add(point.name)
        distribution = point.dist.name if point.dist is not None else ""
        try:
            plugin = point.load()
        except Exception as error:
            found.broken.append(SkippedChannel(point.name, f"failed to import: {type(error).__name__}: {error}"))
            continue
        if not isinstance(plugin, ChannelPlugin):
            reason = f"{point.value} is not a ChannelPlugin (an incompatible version?)"
            found.broken.append(SkippedChannel(point.name, reason))
            continue
        if not plugin.distribution and distribution:
            plugin = replace(plugin, distribution=distribution)
        found.plugins.append(plugin)
    found.plugins.sort(key=lambda p: (p.order, p.name))
    return found


def select_channels(
    environ: Mapping[str, str],
    requested: Sequence[str] | None = None,
    *,
    plugins: Iterable[ChannelPlugin] | None = None,
    broken: Iterable[SkippedChannel] = (),
) -> ChannelSelection:
    """Build the channels to serve.

    Without `requested`, every installed channel whose required settings are
    present; the rest are reported as skipped with the reason. With
    `requested`, exactly those channels, and any that cannot be built is an
    error.
    """
    if plugins is None:
        discovered = discover()
        plugins, broken = discovered.plugins, discovered.broken
    available = list(plugins)
    failed = {b.name: b for b in broken}
    by_name = {p.name: p for p in available}
    if requested:
        unknown = [name for name in requested if name not in by_name and name not in failed]
        if unknown:
            known = ", ".join([*by_name, *failed]) or "none"
            raise ChannelSelectionError(f"unknown channel {unknown[0]!r}; installed channels: {known}")
        for name in requested:
            if name in failed:
                raise ChannelSelectionError(f"channel {name!r} {failed[name].reason}")
        wanted = [p for p in available if p.name in requested]
    else:
        wanted = available
    selection = ChannelSelection(skipped=[] if requested else list(failed.values()))
    for plugin in wanted:
        served = {s.plugin.name for s in selection.selected}
        try:
            absent = [name for name in plugin.needs if name not in served]
            if absent:
                raise ChannelUnavailable(f"needs the {' and '.join(absent)} channel")
            selection.selected.append(SelectedChannel(plugin, plugin.from_settings(environ)))
        except ChannelUnavailable as reason:
            if requested:
                raise ChannelSelectionError(f"channel {plugin.name!r} {reason}") from None
            selection.skipped.append(SkippedChannel(plugin.name, str(reason)))
    return selection


def plugin_for(channel: Any, plugins: Iterable[ChannelPlugin]) -> ChannelPlugin | None:
    """The plugin that declares `channel`'s class, if any."""
    for plugin in plugins:
        if isinstance(channel, plugin.channel):
            return plugin
    return None


def channels_table(plugins: Iterable[ChannelPlugin]) -> str:
    """The README's channel table (Markdown): package, environment (bold = required) and paths."""
    lines = ["| channel | package | environment (bold = required) | path |", "|---|---|---|---|"]
    for plugin in plugins:
        grouped = {variable: group for group in plugin.one_of for variable in group}
        variables: list[str] = []
        for s in plugin.settings:
            group = grouped.get(s.variable)
            if group is None:
                variables.append(f"**`{s.variable}`**" if s.required else f"`{s.variable}`")
            elif s.variable == group[0]:
                variables.append(" and/or ".join(f"`{v}`" for v in group))
        environment = ", ".join(variables) or "—"
        if plugin.needs:
            environment += f" (needs the {' and '.join(plugin.needs)} channel)"
        lines.append(f"| {plugin.title or plugin.name} | `{plugin.distribution}` | {environment} | {plugin.paths} |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - `python -m agent_framework_hosting.plugins` prints the README table
    from agent_framework_hosting import plugins  # this module again, under its import name (classes must match)

    print(plugins.channels_table(plugins.discover().plugins))
