"""`LinkedMemory`: with ``share="memory"``, each turn sees what the person said on their linked channels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_framework import AgentSession, ContextProvider, SessionContext

from ._linking import current_key

if TYPE_CHECKING:
    from ._host import AgentFrameworkHost

SOURCE_ID = "hosting-linked-memory"


class LinkedMemory(ContextProvider):
    """Adds the recent messages of the person's other linked conversations to the instructions."""

    def __init__(self, host: AgentFrameworkHost, *, messages: int) -> None:
        super().__init__(SOURCE_ID)
        self._host = host
        self.messages = messages

    async def before_run(
        self, *, agent: Any, session: AgentSession, context: SessionContext, state: dict[str, Any]
    ) -> None:
        key, links = current_key.get(), self._host.links
        if key is None or links is None:
            return
        lines: list[str] = []
        for other in await links.linked(key):
            stored = await self._host.sessions.stored(await self._host.sessions.session_id(other))
            history = (stored.state.get("in_memory") or {}).get("messages") or [] if stored is not None else []
            channel = other.split(":", 1)[0]
            lines.extend(f"[{channel}] {m.role}: {m.text}" for m in history[-self.messages :] if m.text)
        if lines:
            context.extend_instructions(
                SOURCE_ID,
                "This person linked other channels to this one. What was said there recently:\n" + "\n".join(lines),
            )
