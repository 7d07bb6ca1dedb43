"""The channel-neutral envelope and the protocol every channel implements."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypedDict, TypeVar, runtime_checkable

from starlette.routing import BaseRoute

from ._workflow import result_text

if TYPE_CHECKING:
    from agent_framework import AgentResponseUpdate

    from ._context import ChannelContext

TResult = TypeVar("TResult")
SessionMode = Literal["auto", "disabled"]
SESSION_MODES: tuple[str, ...] = ("auto", "disabled")


class SessionFork:
    """A conversation started from a stored one for a fresh key (`ChannelContext.fork_session`), held for its turn."""

    __slots__ = ("session",)

    def __init__(self, session: Any) -> None:
        self.session = session


class ChannelSession:
    """A channel's hint that requests sharing `isolation_key` share one conversation.

    `ttl` (seconds) overrides the host's `session_ttl` for this conversation (stored Responses use it);
    `math.inf` keeps it until deleted.

    `fresh`: the key was made for this request (a new stored response's own key), so nothing is stored
    under it and no other turn runs under it. Its turn then takes no turn lock, loads nothing and
    registers no running turn: a stop (`ChannelContext.stop`) cannot reach it. A run hook's request is
    never fresh (the hook may point it at a stored conversation).

    `recorded=False` (with `fresh`, in a store that writes): the turn stores its messages but not the
    session's record, which the channel would replace at once by a `ChannelContext.session_reference`
    (a stored response pointing into history): a write and a delete less per turn. A channel that
    keeps no reference after all stores the record with `ChannelContext.record_session`.

    `fork` (with `fresh`): the turn continues a stored conversation (`ChannelContext.fork_session`)
    instead of starting an empty one, still without a lock or a load.
    """

    __slots__ = ("fork", "fresh", "isolation_key", "recorded", "ttl")

    def __init__(
        self,
        isolation_key: str | None = None,
        *,
        ttl: float | None = None,
        fresh: bool = False,
        recorded: bool = True,
        fork: SessionFork | None = None,
    ) -> None:
        self.isolation_key = isolation_key
        self.ttl = ttl
        self.fresh = fresh
        self.recorded = recorded
        self.fork = fork

    @property
    def writes_record(self) -> bool:
        """Whether a turn in this session stores the session's record: `recorded` counts only with `fresh`."""
        return self.recorded or not self.fresh

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChannelSession) and (
            other.isolation_key,
            other.ttl,
            other.fresh,
            other.recorded,
            other.fork,
        ) == (self.isolation_key, self.ttl, self.fresh, self.recorded, self.fork)

    def __hash__(self) -> int:
        return hash(self.isolation_key)

    def __repr__(self) -> str:
        return f"ChannelSession(isolation_key={self.isolation_key!r})"


class ChannelIdentity:
    """Who sent a request, as the platform names them."""

    __slots__ = ("attributes", "channel", "native_id")

    def __init__(self, channel: str, native_id: str, attributes: Mapping[str, Any] | None = None) -> None:
        self.channel = channel
        self.native_id = native_id
        self.attributes: Mapping[str, Any] = dict(attributes or {})

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "native_id": self.native_id, "attributes": dict(self.attributes)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChannelIdentity) and (other.channel, other.native_id, dict(other.attributes)) == (
            self.channel,
            self.native_id,
            dict(self.attributes),
        )

    def __hash__(self) -> int:
        return hash((self.channel, self.native_id))

    def __repr__(self) -> str:
        return f"ChannelIdentity(channel={self.channel!r}, native_id={self.native_id!r})"


@dataclass
class ChannelRequest:
    """One inbound turn, parsed out of a platform payload."""

    channel: str
    operation: str
    input: Any
    session: ChannelSession | None = None
    options: Mapping[str, Any] | None = None
    session_mode: str = "auto"
    metadata: Mapping[str, Any] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)
    stream: bool = False
    identity: ChannelIdentity | None = None

    def __post_init__(self) -> None:
        if self.session_mode not in SESSION_MODES:
            raise ValueError(f"session_mode must be one of {SESSION_MODES}, got {self.session_mode!r}")

    @property
    def isolation_key(self) -> str | None:
        """The key the host binds a session to, or None when the turn is stateless."""
        if self.session_mode == "disabled" or self.session is None:
            return None
        return self.session.isolation_key or None


@dataclass(frozen=True)
class ChannelCommandContext:
    """What a command handler gets: the request that invoked it and a way to answer."""

    request: ChannelRequest
    reply: Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class ChannelCommand:
    """A named command a channel surfaces natively (Telegram `/name`, Discord slash command)."""

    name: str
    description: str
    handle: Callable[[ChannelCommandContext], Awaitable[None]]


@dataclass(frozen=True)
class ChannelContribution:
    """Routes, commands and lifecycle callbacks a channel adds to the host.

    `routes` are mounted under the channel's path; `root_routes` are added at the
    app root as they are (for conventions such as `/v1/...` aliases or `/liveness`).
    """

    routes: Sequence[BaseRoute] = ()
    commands: Sequence[ChannelCommand] = ()
    on_startup: Sequence[Callable[[], Awaitable[None]]] = ()
    on_shutdown: Sequence[Callable[[], Awaitable[None]]] = ()
    root_routes: Sequence[BaseRoute] = ()


_UNSET: Any = object()


class HostedRunResult(Generic[TResult]):
    """The target's full-fidelity result and the session it ran in."""

    __slots__ = ("merged_into", "request", "result", "session")

    def __init__(
        self,
        result: TResult,
        *,
        session: Any = None,
        request: ChannelRequest | None = None,
        merged_into: str | None = None,
    ) -> None:
        self.result = result
        self.session = session
        #: The request the turn actually ran (after the run hook; its session key is the one used).
        self.request = request
        #: Set when this request's message was collected into a turn another request ran (and answers).
        self.merged_into = merged_into

    def replace(self, *, result: Any = _UNSET, session: Any = _UNSET) -> HostedRunResult[Any]:
        return HostedRunResult(
            self.result if result is _UNSET else result,
            session=self.session if session is _UNSET else session,
            request=self.request,
            merged_into=self.merged_into,
        )

    @property
    def text(self) -> str:
        """The result's text, for agents and workflows alike."""
        return result_text(self.result)

    def __repr__(self) -> str:
        return f"HostedRunResult(result={self.result!r}, session={self.session!r})"


class HostStatePaths(TypedDict, total=False):
    """Per-component locations for `state_dir`."""

    sessions: str | os.PathLike[str]
    checkpoints: str | os.PathLike[str]


ChannelRunHook = Callable[..., "Awaitable[ChannelRequest] | ChannelRequest"]
ChannelResponseHook = Callable[..., "Awaitable[HostedRunResult[Any]] | HostedRunResult[Any]"]
ChannelStreamUpdateHook = Callable[
    ["AgentResponseUpdate"], "AgentResponseUpdate | None | Awaitable[AgentResponseUpdate | None]"
]


@runtime_checkable
class Channel(Protocol):
    """A transport: parses its platform's payloads and renders results back.

    A channel may also carry `run_hook`, `response_hook` and `stream_update_hook`
    attributes; the host binds them, with the channel's name, into the context it
    hands to `contribute`, so the channel's `context.run(request)` applies them.
    """

    name: str
    path: str

    def contribute(self, context: ChannelContext) -> ChannelContribution: ...
