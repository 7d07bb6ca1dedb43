"""The Slack Events API path to the acknowledgement against a bare route doing the same work, under `wrk`.

    python benchmarks/bench_slack.py [--seconds 10] [--warmup 10] [--rounds 2] [--connections 32]

Every request is a new `message.im` event (its `event_id` counts up) from one of 64 users, signed as
Slack signs it (HMAC-SHA256 of ``v0:<timestamp>:<body>``, computed for every request before the run,
so `wrk` only replays them). The bare route verifies the signature, parses, skips a seen event id,
answers 200 and queues a turn for the user; the channel also claims the event id in the host's
state and queues the event for its conversation. The model never answers (`StalledClient`), so the
figures are those of the path to the acknowledgement alone (why, and what the backlog it builds costs:
`bench_webhooks.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _servers import SLACK_SECRET  # noqa: E402
from _wrk import Bench, Target, Template, server_process  # noqa: E402


def slack_signature(body: bytes) -> dict[str, str]:
    """The headers Slack signs a request with: HMAC-SHA256 of ``v0:<timestamp>:<body>`` (made before the run)."""
    stamp = str(int(time.time()))
    digest = hmac.new(SLACK_SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + digest}


def slack_event() -> Template:
    event = {
        "token": "legacy",
        "team_id": "TBENCH",
        "api_app_id": "ABENCH",
        "type": "event_callback",
        "event_id": "Ev{n}",
        "event_time": 1700000000,
        "authorizations": [{"team_id": "TBENCH", "user_id": "UBENCH", "is_bot": True}],
        "event": {
            "type": "message",
            "channel": "D{chat}",
            "channel_type": "im",
            "user": "U{chat}",
            "text": "hello there",
            "ts": "1700000000.{n}",
            "event_ts": "1700000000.{n}",
        },
    }
    return Template("/slack/events", json.dumps(event), sign=slack_signature)


def main() -> None:
    bench = Bench(__doc__)
    with server_process("slack-api") as api_port:
        env = {"BENCH_SLACK_API": f"http://127.0.0.1:{api_port}"}
        bench.pair(
            "slack events, to the acknowledgement",
            Target("bare", "bare-slack", slack_event(), env=env),
            Target("slack", "slack", slack_event(), env=env),
        )
    bench.report()


if __name__ == "__main__":
    main()
