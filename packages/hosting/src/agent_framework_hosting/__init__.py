"""Multi-channel hosting for Microsoft Agent Framework agents and workflows."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from ._concurrency import Concurrency, ConcurrencyPolicy
from ._context import ChannelContext
from ._delivery import ConversationReference, DeliveryChannel, DeliveryError, DeliveryResult, InvalidReference
from ._errors import (
    BUSY_REPLY,
    UNAVAILABLE_REPLY,
    ConfigurationError,
    ConversationBusyError,
    HostingError,
    LeaseLostError,
    PlatformError,
    SessionBusyError,
    StateUnavailableError,
    TurnInterruptedError,
    Unauthorized,
    chat_reply,
)
from ._host import AgentFrameworkHost
from ._isolation import (
    ISOLATION_HEADER_CHAT,
    ISOLATION_HEADER_USER,
    IsolationKeys,
    get_current_isolation_keys,
    reset_current_isolation_keys,
    set_current_isolation_keys,
)
from ._ledger import INTERRUPTED_NOTICE, DeliveryOptions, DeliveryTicket, Resumer, TurnLedger, current_ticket, replying
from ._linking import IdentityLinking, LinkError
from ._outbox import DeadLetters, DeliveryFailed, Outbox, Resender
from ._state import FileStateStore, Lease, MemoryStateStore, StateStore
from ._stream import HostedStream
from ._tasks import BackgroundTasks
from ._types import (
    Channel,
    ChannelCommand,
    ChannelCommandContext,
    ChannelContribution,
    ChannelIdentity,
    ChannelRequest,
    ChannelResponseHook,
    ChannelRunHook,
    ChannelSession,
    ChannelStreamUpdateHook,
    HostedRunResult,
    HostStatePaths,
    SessionFork,
)
from ._workflow_input import WorkflowInputError

try:
    __version__ = version("agent-framework-hosting")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

logger = logging.getLogger("agent_framework.hosting")

_REDIS_NAMES = ("RedisLeader", "RedisStateStore")
_POSTGRES_NAMES = ("PostgresStateStore",)


def __getattr__(name: str) -> object:
    """Redis and PostgreSQL names load on first use, so the base install needs neither driver."""
    if name in _REDIS_NAMES:
        from . import _redis

        return getattr(_redis, name)
    if name in _POSTGRES_NAMES:
        from . import _postgres

        return getattr(_postgres, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BUSY_REPLY",
    "UNAVAILABLE_REPLY",
    "ConfigurationError",
    "PlatformError",
    "Unauthorized",
    "chat_reply",
    "ISOLATION_HEADER_CHAT",
    "ISOLATION_HEADER_USER",
    "AgentFrameworkHost",
    "BackgroundTasks",
    "Channel",
    "ChannelCommand",
    "ChannelCommandContext",
    "ChannelContext",
    "ChannelContribution",
    "ChannelIdentity",
    "ChannelRequest",
    "ChannelResponseHook",
    "ChannelRunHook",
    "ChannelSession",
    "ChannelStreamUpdateHook",
    "DeadLetters",
    "DeliveryFailed",
    "DeliveryOptions",
    "Outbox",
    "Resender",
    "Concurrency",
    "ConcurrencyPolicy",
    "ConversationBusyError",
    "ConversationReference",
    "DeliveryChannel",
    "DeliveryError",
    "DeliveryResult",
    "InvalidReference",
    "FileStateStore",
    "INTERRUPTED_NOTICE",
    "Lease",
    "Resumer",
    "DeliveryTicket",
    "TurnLedger",
    "current_ticket",
    "replying",
    "HostStatePaths",
    "HostedRunResult",
    "HostedStream",
    "HostingError",
    "IdentityLinking",
    "LinkError",
    "IsolationKeys",
    "LeaseLostError",
    "MemoryStateStore",
    "PostgresStateStore",
    "RedisLeader",
    "RedisStateStore",
    "SessionBusyError",
    "SessionFork",
    "StateStore",
    "StateUnavailableError",
    "TurnInterruptedError",
    "WorkflowInputError",
    "__version__",
    "get_current_isolation_keys",
    "logger",
    "reset_current_isolation_keys",
    "set_current_isolation_keys",
]
