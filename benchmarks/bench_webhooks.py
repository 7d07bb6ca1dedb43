"""Channels' inbound paths against bare routes doing the same work, under `wrk`.

    python benchmarks/bench_webhooks.py [--seconds 10] [--warmup 10] [--rounds 2] [--connections 32]

- Invocations: a request runs the agent and answers (a session per `session_id`, 64 of them).
- Telegram webhook, request to acknowledgement: every update is new (its `update_id` counts up) and
  64 chats take turns. The bare route checks the secret, parses, answers 200 and starts a turn; the
  channel also claims the update id and queues the update for its chat. The model never answers
  (`StalledClient`), so the turns started after the acknowledgements wait without costing CPU and
  the figures are those of the path to the acknowledgement alone.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _servers import TELEGRAM_SECRET  # noqa: E402
from _wrk import Bench, Target, Template, raw_request, server_process  # noqa: E402

KEYS = 64


def invocations() -> list[bytes]:
    bodies = [{"message": "hello there", "session_id": f"s{n}"} for n in range(KEYS)]
    return [raw_request("/invocations", json.dumps(body).encode()) for body in bodies]


def telegram_update() -> Template:
    update = {
        "update_id": "{n}",
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": "{chat}", "type": "private"},
            "from": {"id": "{chat}", "is_bot": False, "first_name": "Ada"},
            "text": "hello there",
        },
    }
    body = json.dumps(update).replace('"{n}"', "{n}").replace('"{chat}"', "{chat}")
    return Template("/telegram/webhook", body, {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})


def main() -> None:
    bench = Bench(__doc__)
    bench.pair(
        "invocations", Target("bare", "bare", invocations()), Target("invocations", "invocations", invocations())
    )
    with server_process("telegram-api") as api_port:
        env = {"BENCH_TELEGRAM_API": f"http://127.0.0.1:{api_port}"}
        bench.pair(
            "telegram webhook, to the acknowledgement",
            Target("bare", "bare-telegram", telegram_update(), env=env),
            Target("telegram", "telegram", telegram_update(), env=env),
        )
    bench.report()


if __name__ == "__main__":
    main()
