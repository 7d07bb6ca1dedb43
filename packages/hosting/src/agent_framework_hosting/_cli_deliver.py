"""`agent-framework-host deliver`: send a proactive message through a running host's ``POST /admin/deliver``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

import httpx

from ._admin import ADMIN_DELIVER_PATH

ADMIN_TOKEN_VARIABLE = "AFH_ADMIN_TOKEN"


def add_deliver_command(commands: Any, environ: Mapping[str, str]) -> None:
    deliver = commands.add_parser(
        "deliver",
        help="send a message into a conversation through a running host",
        description=f"POST to a running host's {ADMIN_DELIVER_PATH} (the host needs ${ADMIN_TOKEN_VARIABLE} set too).",
    )
    deliver.add_argument("--to", action="append", required=True, metavar="KEY", help="isolation key (repeatable)")
    deliver.add_argument("--text", required=True, help="the message (with --run: the prompt of the turn)")
    deliver.add_argument("--run", action="store_true", help="run an agent-initiated turn and deliver its answer")
    deliver.add_argument("--idempotency-key", default=None, help="a destination that got this key is skipped")
    deliver.add_argument(
        "--url", default=f"http://127.0.0.1:{environ.get('PORT') or 8000}", help="the host (default: local)"
    )
    deliver.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="warning")


def run_deliver(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[int, str]:
    """(exit code, what to print): 0 when every destination got the message."""
    token = environ.get(ADMIN_TOKEN_VARIABLE)
    if not token:
        return 1, f"error: set ${ADMIN_TOKEN_VARIABLE} to the host's admin token"
    body: dict[str, Any] = {"to": args.to if len(args.to) > 1 else args.to[0], "text": args.text, "run": args.run}
    if args.idempotency_key:
        body["idempotency_key"] = args.idempotency_key
    try:
        response = httpx.post(
            args.url.rstrip("/") + ADMIN_DELIVER_PATH,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
    except httpx.HTTPError as error:
        return 1, f"error: cannot reach {args.url}: {error}"
    if response.status_code == 404:
        return 1, f"error: {args.url} has no {ADMIN_DELIVER_PATH} (start it with ${ADMIN_TOKEN_VARIABLE} set)"
    try:
        answer = response.json()
    except ValueError:
        return 1, f"error: {response.status_code} {response.text[:200]}"
    if response.status_code not in (200, 207):
        message = (answer.get("error") or {}).get("message") if isinstance(answer, dict) else None
        return 1, f"error: {response.status_code} {message or response.text[:200]}"
    results = answer.get("results", [])
    return (0 if all(r.get("delivered") for r in results) else 2), json.dumps(results, indent=2)
