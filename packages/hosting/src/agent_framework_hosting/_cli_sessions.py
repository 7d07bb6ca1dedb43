"""`agent-framework-host sessions`: see what conversations a state location keeps, and erase one user's."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
from collections.abc import Mapping
from typing import Any, TextIO

from ._host import _state_locations, open_state_store
from ._sessions import ALIASES, HISTORY, SESSIONS, SessionManager, is_record
from ._state import StateStore

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
FOREVER_WORDS = ("forever", "never", "none", "unlimited")


def duration(value: str) -> float:
    """Seconds from ``"3600"``, ``"90s"``, ``"15m"``, ``"12h"`` or ``"30d"``; ``"forever"`` is `math.inf`."""
    if value.strip().lower() in FOREVER_WORDS:
        return math.inf
    match = DURATION.match(value)
    if match is None or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration such as 3600, 15m, 12h, 30d or forever, got {value!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def ttl_argument(value: float | None) -> dict[str, float | None]:
    """A parsed duration as a host ttl: `inf` is no expiry (None); not given leaves the host's default."""
    return {} if value is None else {"ttl": None if math.isinf(value) else value}


def add_sessions_command(commands: Any, environ: Mapping[str, str]) -> None:
    sessions = commands.add_parser(
        "sessions",
        help="list, show or delete the conversations a state location keeps",
        description="Inspect or erase stored conversations (a folder, redis:// or postgresql:// state location).",
    )
    sessions.add_argument(
        "--state-dir",
        default=environ.get("STATE_DIR"),
        help="the state location the host serves with (default: $STATE_DIR)",
    )
    actions = sessions.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="every stored session with its message count")
    show = actions.add_parser("show", help="one isolation key's session: id, messages, stored bytes")
    show.add_argument("key", metavar="KEY")
    delete = actions.add_parser("delete", help="erase an isolation key's conversations (all its resets) and messages")
    delete.add_argument("key", metavar="KEY")


def _open(state_dir: str | None) -> StateStore:
    location, _, _ = _state_locations(state_dir)
    if location is None:
        raise ValueError("sessions needs --state-dir (or $STATE_DIR): memory state lives only in the serving process")
    return open_state_store(location, max_entries=1)


def _count(stored: Any) -> int:
    if not is_record(stored):
        return sum(len(v.get("messages", [])) for v in (stored or {}).get("state", {}).values() if isinstance(v, dict))
    return sum(int(segments[-1][2]) for segments in stored["logs"].values() if segments)


async def _bytes(store: StateStore, stored: Any) -> int:
    if not is_record(stored):
        return len(json.dumps(stored))
    total = len(json.dumps(stored))
    for segments in stored["logs"].values():
        for log, first, end in segments:
            total += sum(len(json.dumps(item)) for item in await store.items(HISTORY, log, 0, end - first))
    return total


async def run_sessions(args: argparse.Namespace, out: TextIO) -> None:
    store = _open(args.state_dir)
    manager = SessionManager(None, store)
    try:
        if args.action == "list":
            for session_id in await store.keys(SESSIONS):
                stored = await store.get(SESSIONS, session_id)
                if stored is not None:
                    print(f"{session_id}\t{_count(stored)} messages", file=out)
        elif args.action == "show":
            session_id = await manager.session_id(args.key)
            stored = await store.get(SESSIONS, session_id)
            if stored is None:
                raise LookupError(f"no stored conversation for {args.key!r}")
            print(f"session {session_id}: {_count(stored)} messages, {await _bytes(store, stored)} bytes", file=out)
        else:
            await _delete(store, manager, args.key, out)
    finally:
        await store.aclose()


async def _delete(store: StateStore, manager: SessionManager, key: str, out: TextIO) -> None:
    """The key's current session, the sessions its resets left (``KEY#...``), their messages and its alias."""
    current = await manager.session_id(key)
    earlier = [session_id for session_id in await store.keys(SESSIONS) if session_id.startswith(f"{key}#")]
    await store.delete(ALIASES, key)
    deleted = 0
    for session_id in dict.fromkeys([current, key, *earlier]):
        deleted += await manager.delete(session_id, purge=True)
    if not deleted:
        raise LookupError(f"no stored conversation for {key!r}")
    print(f"deleted {deleted} session(s) of {key!r} and their messages", file=out)


def sessions_main(args: argparse.Namespace, out: TextIO) -> None:
    asyncio.run(run_sessions(args, out))
