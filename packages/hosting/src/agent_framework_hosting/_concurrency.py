"""Concurrency policies: what a message does when its conversation already has a turn running."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

ConcurrencyPolicy = Literal["queue", "reject", "interrupt", "collect"]
POLICIES: tuple[str, ...] = get_args(ConcurrencyPolicy)
DEFAULT_COLLECT_WINDOW = 1.5


def _check(policy: str, where: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"{where} must be one of {list(POLICIES)}, got {policy!r}")


@dataclass(frozen=True)
class Concurrency:
    """The host's policy, `collect_window` seconds for `collect`, and per-channel overrides.

    ``Concurrency("collect", collect_window=2.0, channels={"responses": "reject"})``
    """

    policy: ConcurrencyPolicy = "queue"
    collect_window: float = DEFAULT_COLLECT_WINDOW
    channels: Mapping[str, ConcurrencyPolicy] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.policy, "concurrency")
        for name, policy in self.channels.items():
            _check(policy, f"concurrency for channel {name!r}")
        if self.collect_window < 0:
            raise ValueError("collect_window must not be negative")

    def for_channel(self, channel: str) -> ConcurrencyPolicy:
        return self.channels.get(channel, self.policy)


ConcurrencySetting = ConcurrencyPolicy | Concurrency | None


def resolve_concurrency(setting: ConcurrencySetting) -> Concurrency:
    """A `Concurrency` from a policy name, an option object, or None (queue)."""
    if setting is None:
        return Concurrency()
    if isinstance(setting, Concurrency):
        return setting
    if isinstance(setting, str):
        return Concurrency(setting)
    raise TypeError(f"concurrency must be a policy name or a Concurrency, got {type(setting).__name__}")
