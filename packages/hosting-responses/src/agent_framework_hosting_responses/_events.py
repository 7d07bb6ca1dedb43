"""Pure streaming: the Responses event sequence for one response, numbered from 0."""

from __future__ import annotations

from typing import Any

from ._ids import new_id
from ._render import message_item, output_text_part

TERMINAL_EVENTS = {"incomplete": "response.incomplete", "failed": "response.failed", "cancelled": "response.failed"}


class ResponseEvents:
    """Builds the events of one streamed response with consistent ids and sequence numbers.

    The assistant message is announced on its first text (`output_item.added`,
    `content_part.added`) at the next free output index; a message delivered into the
    conversation meanwhile is streamed whole as an item of its own. The final output
    must be put in that order with `arrange`. Events refer to the dicts they are given
    (no copies): treat a response dict as frozen once it is in an event.
    """

    def __init__(self, response_id: str) -> None:
        self.response_id = response_id
        self.message_id = new_id("msg")
        self.message_started = False
        self.message_index = 0
        self.text = ""
        #: Items streamed whole while the response ran (delivered messages), by output index.
        self.delivered: dict[int, dict[str, Any]] = {}
        self.closed = False
        self._next = 0
        self._items = 0

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self._next, **fields}
        self._next += 1
        return event

    def _lifecycle(self, kind: str, response: dict[str, Any]) -> dict[str, Any]:
        return self._event(kind, response=response)

    def created(self, response: dict[str, Any]) -> list[dict[str, Any]]:
        events = [self._lifecycle("response.created", response)]
        if response["status"] == "queued":
            events.append(self._lifecycle("response.queued", response))
        return events

    def in_progress(self, response: dict[str, Any]) -> list[dict[str, Any]]:
        return [self._lifecycle("response.in_progress", response)]

    def _open_message(self) -> list[dict[str, Any]]:
        self.message_started = True
        self.message_index = self._items
        self._items += 1
        return self._opened(message_item(self.message_id, None, "in_progress"), self.message_index)

    def _opened(self, item: dict[str, Any], index: int) -> list[dict[str, Any]]:
        return [
            self._event("response.output_item.added", output_index=index, item=item),
            self._event(
                "response.content_part.added",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part=output_text_part(""),
            ),
        ]

    def deliver(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        """Events streaming a whole delivered message `item` (completed) as the next output item.

        Nothing once the response is closing: the message is then only the conversation's next item.
        """
        if self.closed:
            return []
        index = self._items
        self._items += 1
        self.delivered[index] = item
        text = item["content"][0]["text"] if item["content"] else ""
        events = self._opened({**item, "status": "in_progress", "content": []}, index)
        ids = {"item_id": item["id"], "output_index": index, "content_index": 0}
        events.append(self._event("response.output_text.delta", **ids, delta=text, logprobs=[]))
        return events + self._closed(item, index)

    def arrange(self, output: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`output` (the agent's items) with the delivered messages, in the order the stream announced them."""
        streamed = dict(self.delivered)
        rest = []
        for item in output:
            if self.message_started and item["type"] == "message" and item["id"] == self.message_id:
                streamed[self.message_index] = item
            else:
                rest.append(item)
        return [streamed[index] for index in sorted(streamed)] + rest

    def delta(self, text: str) -> list[dict[str, Any]]:
        """Events for a chunk of assistant text (none for an empty chunk)."""
        if not text:
            return []
        events = [] if self.message_started else self._open_message()
        self.text += text
        events.append(
            self._event(
                "response.output_text.delta",
                item_id=self.message_id,
                output_index=self.message_index,
                content_index=0,
                delta=text,
                logprobs=[],
            )
        )
        return events

    def finished(self, response: dict[str, Any]) -> list[dict[str, Any]]:
        """Close every output item of the final `response`, then its terminal event.

        `response.completed`, `.incomplete`, or `.failed` (for `failed` and `cancelled`, as
        Microsoft's Responses server ends a cancelled response).
        """
        self.closed = True
        events: list[dict[str, Any]] = []
        for index, item in enumerate(response["output"]):
            if index in self.delivered:
                continue
            if item["type"] == "message" and item["id"] == self.message_id:
                events.extend(self._close_message(item, index))
            elif item["type"] == "function_call":
                events.extend(self._function_call(item, index))
        events.append(self._lifecycle(TERMINAL_EVENTS.get(response["status"], "response.completed"), response))
        return events

    def _close_message(self, item: dict[str, Any], index: int) -> list[dict[str, Any]]:
        events = [] if self.message_started else self._open_message()
        return events + self._closed(item, index)

    def _closed(self, item: dict[str, Any], index: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        part = item["content"][0] if item["content"] else output_text_part("")
        ids = {"item_id": item["id"], "output_index": index, "content_index": 0}
        events.append(self._event("response.output_text.done", **ids, text=part["text"], logprobs=[]))
        events.append(self._event("response.content_part.done", **ids, part=part))
        events.append(self._event("response.output_item.done", output_index=index, item=item))
        return events

    def _function_call(self, item: dict[str, Any], index: int) -> list[dict[str, Any]]:
        opened = {**item, "arguments": "", "status": "in_progress"}
        ids = {"item_id": item["id"], "output_index": index}
        return [
            self._event("response.output_item.added", output_index=index, item=opened),
            self._event("response.function_call_arguments.delta", **ids, delta=item["arguments"]),
            self._event("response.function_call_arguments.done", **ids, name=item["name"], arguments=item["arguments"]),
            self._event("response.output_item.done", output_index=index, item=item),
        ]
