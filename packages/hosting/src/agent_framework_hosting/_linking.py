"""Opt-in identity linking: `/link` on one channel, `/link CODE` on another, and the two are one person.

Codes are random (40 bits from an unambiguous alphabet), single use (redeeming
deletes them atomically), expire after `code_ttl`, and both issuing and redeeming
are rate-limited per conversation. Nothing links automatically: only a code shown
in one conversation and typed into another joins them.
"""

from __future__ import annotations

import secrets
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ._errors import HostingError

if TYPE_CHECKING:
    from ._state import StateStore

LinkShare = Literal["conversation", "memory"]
CODES = "link-codes"
PERSONS = "link-person"
MEMBERS = "link-members"
LIMITS = "link-limits"
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
PERSON_PREFIX = "person:"

current_key: ContextVar[str | None] = ContextVar("afh_current_isolation_key", default=None)
"""The isolation key the running turn arrived with (before linking resolved it)."""


class LinkError(HostingError):
    """A link code was wrong, expired, used, or asked for too often."""

    status_code = 400
    code = "link_failed"
    public_message = "the link code is invalid or expired"


@dataclass(frozen=True)
class IdentityLinking:
    """The host's linking setting: what linked identities share, and the limits on codes.

    ``share="conversation"``: one conversation for every linked channel.
    ``share="memory"``: separate conversations; each turn sees what the person said
    recently on the linked channels (a context provider, `memory_messages` of each).
    """

    share: LinkShare = "conversation"
    code_ttl: float = 600.0
    codes_per_hour: int = 5
    attempts_per_window: int = 5
    attempt_window: float = 600.0
    memory_messages: int = 20

    def __post_init__(self) -> None:
        if self.share not in ("conversation", "memory"):
            raise ValueError(f"share must be 'conversation' or 'memory', got {self.share!r}")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize(code: str) -> str:
    return "".join(code.split()).upper().replace("-", "")


class Links:
    """Link codes, and which isolation keys belong to one person, in the host's state."""

    def __init__(self, state: StateStore, settings: IdentityLinking) -> None:
        self.state = state
        self.settings = settings

    async def _count(self, name: str, window: float) -> int:
        """Add one to the counter `name` (expiring `window` s after its first use); returns the new count."""
        record = await self.state.get(LIMITS, name)
        now = time.time()
        if not isinstance(record, dict) or record.get("until", 0) <= now:
            record = {"count": 0, "until": now + window}
        record["count"] = int(record["count"]) + 1
        await self.state.set(LIMITS, name, record, ttl=max(1.0, record["until"] - now))
        return int(record["count"])

    async def _attempts(self, key: str) -> int:
        record = await self.state.get(LIMITS, f"redeem:{key}")
        return int(record["count"]) if isinstance(record, dict) and record.get("until", 0) > time.time() else 0

    async def issue(self, key: str) -> str:
        """A fresh single-use code for `key`'s conversation."""
        if await self._count(f"issue:{key}", 3600.0) > self.settings.codes_per_hour:
            raise LinkError("too many link codes were asked for; try again later")
        for _ in range(5):
            code = new_code()
            if await self.state.add(CODES, code, {"key": key}, ttl=self.settings.code_ttl):
                return code
        raise LinkError("could not make a link code; try again")

    async def redeem(self, key: str, code: str) -> str:
        """Join `key` with the conversation that issued `code`; returns that conversation's key."""
        if await self._attempts(key) >= self.settings.attempts_per_window:
            raise LinkError("too many attempts; wait a few minutes and ask for a new code")
        code = normalize(code)
        record = await self.state.get(CODES, code) if len(code) == CODE_LENGTH else None
        other = record.get("key") if isinstance(record, dict) else None
        # Deleting the code is what claims it: of two redemptions racing, only one deletes it.
        if not isinstance(other, str) or other == key or not await self.state.delete(CODES, code):
            await self._count(f"redeem:{key}", self.settings.attempt_window)
            raise LinkError("that link code is invalid, expired or already used")
        await self._join(other, key)
        return other

    async def _join(self, first: str, second: str) -> None:
        person = await self.person(first) or await self.person(second) or uuid.uuid4().hex
        async with self.state.lock(f"link:{person}", wait=10):
            members = set(await self.members(person))
            for key in (first, second):
                previous = await self.person(key)
                if previous is not None and previous != person:
                    members.update(await self.members(previous))
                    await self.state.delete(MEMBERS, previous)
            members.update((first, second))
            for key in members:
                await self.state.set(PERSONS, key, person)
            await self.state.set(MEMBERS, person, sorted(members))

    async def unlink(self, key: str) -> bool:
        """Take `key` out of its person; False when it was not linked."""
        person = await self.person(key)
        if person is None:
            return False
        async with self.state.lock(f"link:{person}", wait=10):
            members = [member for member in await self.members(person) if member != key]
            await self.state.delete(PERSONS, key)
            if len(members) <= 1:
                for member in members:
                    await self.state.delete(PERSONS, member)
                await self.state.delete(MEMBERS, person)
            else:
                await self.state.set(MEMBERS, person, members)
        return True

    async def person(self, key: str) -> str | None:
        value = await self.state.get(PERSONS, key)
        return value if isinstance(value, str) else None

    async def members(self, person: str) -> list[str]:
        value = await self.state.get(MEMBERS, person)
        return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []

    async def linked(self, key: str) -> list[str]:
        """The other isolation keys linked with `key`."""
        person = await self.person(key)
        return [] if person is None else [member for member in await self.members(person) if member != key]

    async def conversation_key(self, key: str) -> str:
        """The key a turn runs under: the person's shared key when linked and sharing the conversation."""
        if self.settings.share != "conversation":
            return key
        person = await self.person(key)
        return key if person is None else PERSON_PREFIX + person


def code_argument(text: Any) -> str | None:
    """The code in a `/link CODE` command's text, or None for a bare `/link`."""
    words = [word for word in str(text or "").split() if not word.startswith("/")]
    return words[-1] if words else None
