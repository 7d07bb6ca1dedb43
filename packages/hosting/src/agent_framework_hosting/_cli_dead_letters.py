"""`agent-framework-host dead-letters list|retry|drop`: replies the outbox gave up on, for an operator."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime, timezone
from typing import Any

from ._host import _state_locations, open_state_store
from ._outbox import DeadLetters


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "dead-letters",
        help="list, retry or drop replies that could not be delivered",
        description="Replies the durable outbox gave up on. `retry` puts one back in the outbox; a running host "
        "sends it within a second or so. `drop` forgets it.",
    )
    parser.add_argument("action", choices=("list", "retry", "drop"))
    parser.add_argument("ids", nargs="*", metavar="ID", help="dead letter ids (retry/drop; `all` for every one)")
    parser.add_argument("--state-dir", required=True, help="the host's state: a folder or a redis:// URL")
    parser.add_argument("--json", action="store_true", help="list as JSON lines")


def _line(letter: dict[str, Any]) -> str:
    when = datetime.fromtimestamp(float(letter.get("dead_at", 0)), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    error = " ".join(str(letter.get("last_error") or "").split())
    return f"{letter['id']}  {letter.get('channel')}  {when}  attempts={letter.get('attempts')}  {error}"


async def _run(args: argparse.Namespace) -> int:
    location = _state_locations(args.state_dir)[0]
    store = open_state_store(location, max_entries=1)
    try:
        letters = DeadLetters(store)
        if args.action == "list":
            for letter in await letters.list():
                print(json.dumps(letter) if args.json else _line(letter))
            return 0
        if not args.ids:
            print(f"dead-letters {args.action}: give the ids to {args.action} (or `all`)", file=sys.stderr)
            return 1
        ids = [letter["id"] for letter in await letters.list()] if args.ids == ["all"] else args.ids
        act = letters.retry if args.action == "retry" else letters.drop
        missing = [letter_id for letter_id in ids if not await act(letter_id)]
        done = len(ids) - len(missing)
        print(f"{'requeued' if args.action == 'retry' else 'dropped'} {done} dead letter(s)")
        for letter_id in missing:
            print(f"no dead letter {letter_id!r}", file=sys.stderr)
        return 1 if missing else 0
    finally:
        await store.aclose()


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
