"""A2A (Agent2Agent) v1.0 server as a channel of agent-framework-hosting."""

from __future__ import annotations

from ._card import CardOptions, Skill
from ._channel import A2AChannel
from ._push import PushOptions

__all__ = ["A2AChannel", "CardOptions", "PushOptions", "Skill"]
