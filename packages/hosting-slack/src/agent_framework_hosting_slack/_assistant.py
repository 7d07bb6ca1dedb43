"""Slack's assistant surface: suggested prompts when a thread opens, a status while thinking, thread titles."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_framework_hosting import StateStore

from ._api import SlackApi, SlackApiError
from ._parse import Place

logger = logging.getLogger("agent_framework.hosting.slack")
ASSISTANT_THREADS = "slack-assistant"
TITLED = "slack-titled"
TITLE_LIMIT = 80


@dataclass(frozen=True)
class SlackAssistant:
    """How the channel uses the assistant surface (the AI app's split view in Slack)."""

    suggested_prompts: Sequence[tuple[str, str]] = ()
    """Up to four (title, message) pairs offered when a user opens an assistant thread."""
    prompts_title: str | None = None
    greeting: str | None = None
    thinking_status: str = "is thinking…"
    set_titles: bool = True

    def __post_init__(self) -> None:
        if len(self.suggested_prompts) > 4:
            raise ValueError("Slack shows at most four suggested prompts")


class AssistantThreads:
    """Remembers which DM threads are assistant threads and calls ``assistant.threads.*`` for them.

    Every call here is best effort: its failure is logged and costs the user nothing essential.
    """

    def __init__(self, api: SlackApi, options: SlackAssistant, *, ttl: float) -> None:
        self.api = api
        self.options = options
        self.ttl = ttl

    async def started(self, state: StateStore, place: Place) -> None:
        """Record the thread and offer the suggested prompts."""
        await state.set(ASSISTANT_THREADS, place.thread_key or "", True, ttl=self.ttl)
        if not self.options.suggested_prompts:
            return
        prompts = [{"title": title, "message": message} for title, message in self.options.suggested_prompts]
        payload: dict[str, Any] = {"channel_id": place.channel, "thread_ts": place.thread_ts, "prompts": prompts}
        if self.options.prompts_title:
            payload["title"] = self.options.prompts_title
        await self._call("assistant.threads.setSuggestedPrompts", payload)

    async def knows(self, state: StateStore, place: Place) -> bool:
        return place.dm and place.thread_key is not None and bool(await state.get(ASSISTANT_THREADS, place.thread_key))

    async def turn_begins(self, state: StateStore, place: Place, text: str) -> None:
        """Show "is thinking…", and title the thread after its first message."""
        if self.options.thinking_status:
            await self.status(place, self.options.thinking_status)
        if self.options.set_titles and text and await state.add(TITLED, place.thread_key or "", True, ttl=self.ttl):
            title = " ".join(text.split())[:TITLE_LIMIT]
            await self._call("assistant.threads.setTitle", {**_thread(place), "title": title})

    async def status(self, place: Place, status: str) -> None:
        """Set the thread's status line ("" clears it; posting a reply clears it too)."""
        await self._call("assistant.threads.setStatus", {**_thread(place), "status": status})

    async def _call(self, method: str, payload: Mapping[str, Any]) -> None:
        try:
            await self.api.call(method, payload, attempts=2)
        except SlackApiError as error:
            logger.warning("slack: %s failed: %s", method, error)


def _thread(place: Place) -> dict[str, Any]:
    return {"channel_id": place.channel, "thread_ts": place.thread_ts}
