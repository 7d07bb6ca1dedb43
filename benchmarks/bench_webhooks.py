"""Channels' inbound paths against bare routes doing the same work, under `wrk`.

    python benchmarks/bench_webhooks.py [--seconds 10] [--warmup 10] [--rounds 2] [--connections 32]

- Invocations: a request runs the agent and answers (a session per `session_id`, 64 of them).
- Discord interactions, request to the deferral: 64 users, every interaction new and signed (Ed25519);
  the bare route verifies the signature too, answers type 5 and starts a turn.
- Activity Protocol, request to acknowledgement: 64 conversations, every activity new, under one valid
  Bot Connector token (RS256, keys from a fake Bot Framework); the bare route validates it too.
- Telegram webhook, request to acknowledgement: every update is new (its `update_id` counts up) and
  64 chats take turns. The bare route checks the secret, parses, answers 200 and starts a turn; the
  channel also claims the update id and queues the update for its chat.

The model never answers (`StalledClient`), on both sides: the goal is the path from request to
acknowledgement, and a model whose turns complete would add the same agent work (and, for the
channel, the reply to the platform) to both sides, moving the ratio towards 1 without acknowledging
any faster. The price is a backlog no real deployment builds: every acknowledged delivery waits behind
its conversation's stalled turn, so the heap grows with the run (about 5,000 deliveries a second), and
with it the garbage collector's work (the channels keep each waiting delivery as its JSON text, which the
collector skips; the bare routes keep a task or the parsed body each). Measured on short runs (4 x 5 s)
before the channels kept text: the channel's CPU per request rose by about 5% from the first to the
fourth window, the bare route's not at all; so long runs understate the channel a little, never
overstate it. The `cpu µs` columns (server CPU time per request) are the figure to compare on a
busy machine; requests/s depends on what else runs on the server's core.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
from typing import TYPE_CHECKING

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _servers import BOT_APP_ID, BOT_ISSUER, BOT_KEY_ID, DISCORD_APP_ID, DISCORD_SEED, TELEGRAM_SECRET  # noqa: E402
from _wrk import Bench, Target, Template, raw_request, server_process  # noqa: E402

if TYPE_CHECKING:
    from nacl.signing import SigningKey

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


@functools.cache
def _discord_key() -> SigningKey:
    from nacl.signing import SigningKey

    return SigningKey(DISCORD_SEED)


def discord_signature(body: bytes) -> dict[str, str]:
    """The headers Discord signs an interaction with: Ed25519 over ``<timestamp><body>`` (made before the run)."""
    import time

    stamp = str(int(time.time()))
    signature = _discord_key().sign(stamp.encode() + body).signature.hex()
    return {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": stamp}


def discord_interaction() -> Template:
    """New `/ask` interactions (their ids count up) from 64 users, each signed as Discord signs it."""
    user = {"id": "20000000000000{chat}", "username": "ada", "global_name": "Ada", "discriminator": "0"}
    interaction = {
        "id": "{n}",
        "application_id": DISCORD_APP_ID,
        "type": 2,
        "token": "token{n}",
        "version": 1,
        "channel_id": "300000000000000001",
        "guild_id": "400000000000000001",
        "member": {"user": user, "roles": [], "permissions": "0"},
        "data": {"id": "5", "name": "ask", "type": 1, "options": [{"name": "prompt", "type": 3, "value": "hi"}]},
    }
    return Template("/discord/interactions", json.dumps(interaction, separators=(",", ":")), sign=discord_signature)


def activity_message(service_url: str) -> Template:
    """New messages (their ids count up) in 64 conversations, under one valid Bot Connector token."""
    import time

    import jwt
    from _servers import _bot_key

    now = int(time.time())
    claims = {"iss": BOT_ISSUER, "aud": BOT_APP_ID, "iat": now, "nbf": now - 10, "exp": now + 3600}
    claims["serviceurl"] = service_url
    token = jwt.encode(claims, _bot_key(), algorithm="RS256", headers={"kid": BOT_KEY_ID})
    activity = {
        "type": "message",
        "id": "act-{n}",
        "timestamp": "2026-11-26T00:00:00Z",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": "29:user-{chat}", "name": "Ada"},
        "conversation": {"id": "conv-{chat}", "conversationType": "personal"},
        "recipient": {"id": "28:bot", "name": "bench"},
        "text": "hello there",
    }
    return Template("/activity/messages", json.dumps(activity), {"Authorization": f"Bearer {token}"})


def _write_bot_key(folder: str) -> str:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = os.path.join(folder, "bot-key.pem")
    with open(path, "wb") as file:
        file.write(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return path


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
    bench.pair(
        "discord interaction, to the deferral",
        Target("bare", "bare-discord", discord_interaction()),
        Target("discord", "discord", discord_interaction()),
    )
    with tempfile.TemporaryDirectory() as folder:
        os.environ["BENCH_BOT_KEY"] = _write_bot_key(folder)
        with server_process("bot-framework") as bot_port:
            base = f"http://127.0.0.1:{bot_port}"
            env = {"BENCH_BOT_FRAMEWORK": base}
            bench.pair(
                "activity message, to the acknowledgement",
                Target("bare", "bare-activity", activity_message(base + "/"), env=env),
                Target("activity", "activity", activity_message(base + "/"), env=env),
            )
    bench.report()


if __name__ == "__main__":
    main()
