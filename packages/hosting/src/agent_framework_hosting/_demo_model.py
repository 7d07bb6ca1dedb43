"""The offline demo model: no network, honest about it, and still shows what the host does.

It streams word by word, remembers what the user said earlier in the session
(their name, things to remember), and answers the time and arithmetic by
calling the agent's tools: it emits a function call, Agent Framework's
function invocation runs the tool, and the model words the result.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_framework import (
    Content,
    Message,
)

from ._offline import OfflineChatClient

DEFAULT_WORD_DELAY = 0.03
MAX_READ_CHARS = 1000
"""The model reads at most this much of each message (keeps its pattern matching cheap)."""

_NAME = re.compile(r"\b(?:my name is|my name's|call me)\s+([A-Za-z][\w'-]{0,39})", re.IGNORECASE)
_NAME_INTRO = re.compile(r"\b(?i:i am|i'm|im)\s+([A-Z][\w'-]{0,39})\b")
_NOT_NAMES = {"A", "An", "The", "Not", "So", "Very", "Just", "Here", "Back", "Fine", "Good", "Ok", "Okay", "Sorry"}
_ASKS_NAME = re.compile(r"\b(?:what(?:'s| is)\s+my name|who am i|do you (?:know|remember) my name)\b", re.IGNORECASE)
_ASKS_TIME = re.compile(
    r"\b(?:what(?:'s| is)?\s+(?:the\s+)?(?:time|date)|time is it|current (?:time|date)|what day|today'?s date)\b",
    re.IGNORECASE,
)
_REMEMBER = re.compile(r"^\s*(?:please\s+)?remember(?:\s+that)?\s+(.+?)[.!]?\s*$", re.IGNORECASE)
_ASKS_MEMORY = re.compile(
    r"\b(?:what do you remember|what did i (?:tell|ask) you|what have i (?:told|said)|what do you know about me)\b",
    re.IGNORECASE,
)
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|hallo|good (?:morning|afternoon|evening))\b", re.IGNORECASE)
_OPERATOR_WORDS = (
    (re.compile(r"\bmultiplied by\b|\btimes\b", re.IGNORECASE), "*"),
    (re.compile(r"\bdivided by\b|\bover\b", re.IGNORECASE), "/"),
    (re.compile(r"\bplus\b", re.IGNORECASE), "+"),
    (re.compile(r"\bminus\b", re.IGNORECASE), "-"),
    (re.compile(r"\bto the power of\b", re.IGNORECASE), "**"),
)
_ARITHMETIC = re.compile(r"[-+(]*\s*\d[\d.\s+\-*/%()]*[\d)]")
_HAS_OPERATOR = re.compile(r"[\d)]\s*(?:\*\*|//|[+\-*/%])\s*[-+(]*\s*\d")
_ASKS_ARITHMETIC = re.compile(r"\b(?:what|calculate|compute|how much|solve|evaluate)\b|=", re.IGNORECASE)
_PERSPECTIVE = {
    "i": "you",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "am": "are",
    "i'm": "you're",
    "myself": "yourself",
}


def find_name(text: str) -> str | None:
    """The name a user gives in `text` ("my name is Ada", "I'm Ada", "call me Ada"), if any."""
    match = _NAME.search(text)
    if match:
        name = match.group(1)
        return name[:1].upper() + name[1:]
    match = _NAME_INTRO.search(text)
    if match and match.group(1) not in _NOT_NAMES:
        return match.group(1)
    return None


def asks_name(text: str) -> bool:
    return bool(_ASKS_NAME.search(text))


def asks_time(text: str) -> bool:
    return bool(_ASKS_TIME.search(text))


def find_arithmetic(text: str) -> str | None:
    """The arithmetic expression in `text` ("what is 12 x 7?" -> "12 * 7"), if there is one."""
    normalized = text.replace("×", "*").replace("÷", "/").replace("^", "**").replace("−", "-")
    normalized = re.sub(r"(?<=\d)\s*[xX]\s*(?=[\d(])", " * ", normalized)
    for pattern, symbol in _OPERATOR_WORDS:
        normalized = pattern.sub(f" {symbol} ", normalized)
    candidates = [m.group(0).strip() for m in _ARITHMETIC.finditer(normalized)]
    candidates = [c for c in candidates if _HAS_OPERATOR.search(c)]
    if not candidates:
        return None
    expression = re.sub(r"\s+", " ", max(candidates, key=len))
    rest = normalized.replace(max(candidates, key=len), "").strip(" ?!.")
    if not _ASKS_ARITHMETIC.search(text) and len(rest) > len(expression):
        return None
    return expression


def second_person(text: str) -> str:
    """Turn the user's "I like tea" into "you like tea"."""
    return re.sub(
        r"\b(?:i'm|i|me|my|mine|am|myself)\b", lambda m: _PERSPECTIVE[m.group(0).lower()], text, flags=re.IGNORECASE
    )


@dataclass
class Memory:
    """What the user told the model earlier in the conversation."""

    name: str | None = None
    facts: list[str] = field(default_factory=list)
    turns: int = 0


def recall(messages: Sequence[Message]) -> Memory:
    memory = Memory()
    for message in messages:
        if message.role != "user":
            continue
        text = message.text[:MAX_READ_CHARS]
        memory.turns += 1
        memory.name = find_name(text) or memory.name
        fact = _REMEMBER.match(text)
        if fact:
            memory.facts.append(second_person(fact.group(1)))
    return memory


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


OFFLINE_NOTE = (
    "I'm the offline demo model: there is no language model behind me, so I can only do a few things. "
    "Tell me your name and ask for it later, ask me to remember something, ask what time it is, or ask "
    "for some arithmetic like 'what is 12 * 7?'. Set OPENAI_API_KEY (or OPENAI_BASE_URL for a local "
    "OpenAI-compatible server) and restart the host to talk to a real model."
)
SHORT_OFFLINE_NOTE = (
    "I'm offline, so I can't really answer that. Try 'my name is ...', 'remember that ...', "
    "'what time is it?' or 'what is 12 * 7?'."
)


def plan_reply(messages: Sequence[Message], tool_names: Sequence[str]) -> str | ToolCall:
    """Decide the next assistant step for `messages`: a text answer or a tool call."""
    users = [m for m in messages if m.role == "user"]
    text = users[-1].text[:MAX_READ_CHARS].strip() if users else ""
    earlier = recall(users[:-1])
    memory = recall(users)
    who = f", {memory.name}" if memory.name else ""
    if not text:
        return "I can only read text in offline mode, and your message had none. " + SHORT_OFFLINE_NOTE
    if asks_name(text):
        if earlier.name:
            return f"Your name is {earlier.name}. You told me earlier in this conversation, and I keep our session."
        return "You haven't told me your name yet. Say 'my name is ...' and ask me again later."
    given = find_name(text)
    if given:
        return (
            f"Nice to meet you, {given}! I'll remember your name for the rest of this conversation: "
            "ask me 'what is my name?' in a later message."
        )
    fact = _REMEMBER.match(text)
    if fact:
        return f"Got it{who}: I'll remember that {second_person(fact.group(1))}."
    if _ASKS_MEMORY.search(text):
        return _describe_memory(earlier)
    if asks_time(text):
        return _tool_or_excuse("current_time", {}, tool_names)
    expression = find_arithmetic(text)
    if expression is not None:
        return _tool_or_excuse("calculate", {"expression": expression}, tool_names)
    if _GREETING.match(text):
        return f"Hello{who}! " + OFFLINE_NOTE
    quoted = text if len(text) <= 80 else text[:77] + "..."
    note = OFFLINE_NOTE if memory.turns == 1 else SHORT_OFFLINE_NOTE
    return f'You said "{quoted}" (message {memory.turns} of this conversation). ' + note


def _describe_memory(memory: Memory) -> str:
    parts = []
    if memory.name:
        parts.append(f"your name is {memory.name}")
    parts.extend(memory.facts)
    if not parts:
        return f"You've sent {memory.turns} earlier message(s), but nothing you asked me to remember yet."
    return "I remember that " + "; ".join(parts) + "."


def _tool_or_excuse(name: str, arguments: dict[str, Any], tool_names: Sequence[str]) -> str | ToolCall:
    if name in tool_names:
        return ToolCall(name, arguments)
    return f"I would answer that with the {name} tool, but this agent has no such tool."


def word_tool_result(name: str, arguments: dict[str, Any], result: str) -> str:
    """The model's sentence about a tool's result."""
    if name == "current_time":
        return f"It's {result}, by the host's clock (I asked the current_time tool)."
    if name == "calculate":
        expression = arguments.get("expression", "?")
        if result.startswith("error:"):
            return f"I couldn't work out {expression}: {result[len('error:') :].strip()}."
        return f"{expression} = {result} (worked out by the calculate tool)."
    return f"The {name} tool says: {result}"


def _pending_tool_result(messages: Sequence[Message]) -> tuple[str, dict[str, Any], str] | None:
    """(tool name, arguments, result) when the last message is a tool result for this turn."""
    if not messages or messages[-1].role != "tool":
        return None
    results = [c for c in messages[-1].contents if c.type == "function_result"]
    if not results:
        return None
    outcome = results[-1]
    for message in reversed(messages[:-1]):
        for content in message.contents:
            if content.type == "function_call" and content.call_id == outcome.call_id:
                return content.name or "", _arguments(content.arguments), _result_text(outcome)
    return None


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return dict(raw) if isinstance(raw, dict) else {}


def _result_text(content: Content) -> str:
    if content.exception:
        return f"error: {content.exception}"
    result = content.result
    return result if isinstance(result, str) else json.dumps(result, default=str)


def _tool_names(options: Any) -> list[str]:
    tools = (options or {}).get("tools") or ()
    return [name for name in (getattr(t, "name", None) for t in tools) if isinstance(name, str)]


class DemoChatClient(OfflineChatClient):
    """A conversational chat client that runs offline (see the module docstring).

    `word_delay` is the pause before each streamed word.
    """

    def __init__(self, *, word_delay: float = DEFAULT_WORD_DELAY, **kwargs: Any) -> None:
        super().__init__(chunk_delay=word_delay, **kwargs)

    @property
    def word_delay(self) -> float:
        return self.chunk_delay

    def plan(self, messages: Sequence[Message], options: Any) -> Content:
        pending = _pending_tool_result(messages)
        if pending is not None:
            return Content.from_text(word_tool_result(*pending))
        step = plan_reply(messages, _tool_names(options))
        if isinstance(step, ToolCall):
            return Content.from_function_call(f"call_{uuid.uuid4().hex[:12]}", step.name, arguments=step.arguments)
        return Content.from_text(step)
