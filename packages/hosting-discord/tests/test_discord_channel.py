"""DiscordChannel end to end: signed interactions in, a real agent, a fake Discord REST API out."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import pytest
from agent_framework import Message
from agent_framework_hosting import ChannelCommand, ChannelCommandContext, HostedRunResult
from agent_framework_hosting.testing import OfflineChatClient, running_server, wait_until
from agent_framework_hosting_discord import DiscordChannel
from discord_testkit import APP_ID, PATH, Call, FakeDiscord, Signer, ask, command, encode, make_channel, make_host, post
from starlette.testclient import TestClient


def _original(discord: FakeDiscord, payload: dict[str, Any]) -> list[Call]:
    """Every edit of the interaction's original response, waiting for the first one."""
    suffix = f"/webhooks/{APP_ID}/{payload['token']}/messages/@original"
    discord.wait_for(lambda calls: any(c.method == "PATCH" and c.path.endswith(suffix) for c in calls))
    return [c for c in discord.matching("PATCH") if c.path.endswith(suffix)]


def _answer(discord: FakeDiscord, payload: dict[str, Any]) -> str:
    return str(_original(discord, payload)[-1].json["content"])


# --- verification ----------------------------------------------------------------------------------


def test_ping_is_answered_with_pong(signer: Signer) -> None:
    with TestClient(make_host(make_channel(signer, None)).app) as client:
        response = post(client, signer, {"type": 1, "id": "1", "application_id": APP_ID, "token": "t", "version": 1})
    assert response.status_code == 200
    assert response.json() == {"type": 1}


def test_missing_signature_headers_are_401_and_run_nothing(signer: Signer, discord: FakeDiscord) -> None:
    agent_client = OfflineChatClient()
    with TestClient(make_host(make_channel(signer, discord), agent_client).app) as client:
        body = encode(ask("hello"))
        missing_both = client.post(PATH, content=body)
        missing_one = client.post(PATH, content=body, headers={"X-Signature-Timestamp": str(int(time.time()))})
        ping = client.post(PATH, content=b'{"type":1}')
    for response in (missing_both, missing_one, ping):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_signature"
    assert agent_client.calls == [] and discord.calls == []


def test_a_bad_signature_is_401_even_for_a_ping(signer: Signer, discord: FakeDiscord) -> None:
    agent_client = OfflineChatClient()
    with TestClient(make_host(make_channel(signer, discord), agent_client).app) as client:
        body = encode(ask("hello"))
        forged = Signer().headers(body)
        tampered = signer.headers(encode(ask("something else")))
        responses = [
            client.post(PATH, content=body, headers=forged),
            client.post(PATH, content=body, headers=tampered),
            client.post(PATH, content=b'{"type":1}', headers=Signer().headers(b'{"type":1}')),
        ]
    assert [r.status_code for r in responses] == [401, 401, 401]
    assert agent_client.calls == [] and discord.calls == []


def test_a_stale_timestamp_is_rejected_as_a_replay(signer: Signer, discord: FakeDiscord) -> None:
    agent_client = OfflineChatClient()
    with TestClient(make_host(make_channel(signer, discord), agent_client).app) as client:
        body = encode(ask("hello"))
        replayed = client.post(PATH, content=body, headers=signer.headers(body, str(int(time.time()) - 600)))
    assert replayed.status_code == 401
    assert "window" in replayed.json()["error"]["message"]
    assert agent_client.calls == []


def test_the_timestamp_window_is_configurable(signer: Signer) -> None:
    channel = make_channel(signer, None, max_timestamp_skew=3600)
    with TestClient(make_host(channel).app) as client:
        body = b'{"type":1}'
        response = client.post(PATH, content=body, headers=signer.headers(body, str(int(time.time()) - 600)))
    assert response.json() == {"type": 1}


def test_an_oversized_body_is_413(signer: Signer) -> None:
    channel = make_channel(signer, None, max_body_bytes=1024)
    big = encode(ask("x" * 2000))
    with TestClient(make_host(channel).app) as client:
        declared = client.post(PATH, content=big, headers=signer.headers(big))

        def chunks() -> Any:
            for start in range(0, len(big), 256):
                yield big[start : start + 256]

        streamed = client.post(PATH, content=chunks(), headers=signer.headers(big))
    assert declared.status_code == 413 and streamed.status_code == 413
    assert declared.json()["error"]["code"] == "body_too_large"


def test_signed_garbage_is_a_clear_400(signer: Signer) -> None:
    with TestClient(make_host(make_channel(signer, None)).app) as client:
        not_json = post(client, signer, b"{nope")
        not_object = post(client, signer, b"[1,2]")
        no_type = post(client, signer, b'{"id":"1"}')
        unknown_type = post(client, signer, b'{"type":99}')
        no_user = post(client, signer, {**ask("hi"), "member": None})
    for response in (not_json, not_object, no_type, unknown_type, no_user):
        assert response.status_code == 400
        assert set(response.json()["error"]) == {"code", "message"}


# --- the agent command ----------------------------------------------------------------------------


def test_ask_is_deferred_at_once_then_the_original_is_edited_with_the_answer(
    signer: Signer, discord: FakeDiscord
) -> None:
    payload = ask("hello there")
    with TestClient(make_host(make_channel(signer, discord)).app) as client:
        started = time.monotonic()
        response = post(client, signer, payload)
        acknowledged = time.monotonic() - started
        edits = _original(discord, payload)
    assert response.status_code == 200 and response.json() == {"type": 5}
    assert acknowledged < 3.0
    assert len(edits) == 1
    assert edits[0].json == {"content": "echo 1: hello there", "allowed_mentions": {"parse": []}}
    assert edits[0].headers["user-agent"].startswith("DiscordBot (https://")
    assert "authorization" not in edits[0].headers
    assert discord.matching("POST") == []


def test_model_output_cannot_ping_anyone(signer: Signer, discord: FakeDiscord) -> None:
    payload = ask("@everyone look <@&123>")
    with TestClient(make_host(make_channel(signer, discord)).app) as client:
        post(client, signer, payload)
        edit = _original(discord, payload)[-1]
    assert "@everyone" in edit.json["content"]
    assert edit.json["allowed_mentions"] == {"parse": []}


def test_each_user_in_each_channel_has_their_own_conversation(signer: Signer, discord: FakeDiscord) -> None:
    first, second = ask("one", user_id="1"), ask("two", user_id="1")
    other_user, other_channel = ask("three", user_id="2"), ask("four", user_id="1", channel_id="999")
    with TestClient(make_host(make_channel(signer, discord)).app) as client:
        answers = []
        for payload in (first, second, other_user, other_channel):
            post(client, signer, payload)
            answers.append(_answer(discord, payload))
    assert answers == ["echo 1: one", "echo 2: two", "echo 1: three", "echo 1: four"]


def test_isolation_key_factory_replaces_the_default_session(signer: Signer, discord: FakeDiscord) -> None:
    seen: list[dict[str, Any]] = []

    def per_channel(payload: Any) -> str:
        seen.append(payload)
        return f"room:{payload['channel_id']}"

    channel = make_channel(signer, discord, isolation_key_factory=per_channel)
    first, second = ask("one", user_id="1"), ask("two", user_id="2")
    with TestClient(make_host(channel).app) as client:
        post(client, signer, first)
        _original(discord, first)
        post(client, signer, second)
        assert _answer(discord, second) == "echo 2: two"
    assert [payload["id"] for payload in seen] == [first["id"], second["id"]], "asked once per interaction"


def test_a_failing_isolation_key_factory_is_a_400_not_a_500(signer: Signer, discord: FakeDiscord) -> None:
    def broken(payload: Any) -> str:
        raise KeyError("nope")

    with TestClient(make_host(make_channel(signer, discord, isolation_key_factory=broken)).app) as client:
        response = post(client, signer, ask("hi"))
    assert response.status_code == 400


def test_the_user_is_recorded_as_the_identity_in_history(signer: Signer, discord: FakeDiscord) -> None:
    agent_client = OfflineChatClient()
    payload = ask("who am i", user_id="4242", guild_id="77")
    with TestClient(make_host(make_channel(signer, discord), agent_client).app) as client:
        post(client, signer, payload)
        _original(discord, payload)
    hosting = agent_client.calls[-1][-1].additional_properties["hosting"]
    assert hosting["channel"] == "discord"
    assert hosting["identity"]["native_id"] == "4242"
    assert hosting["identity"]["attributes"]["guild_id"] == "77"


def test_hooks_are_applied(signer: Signer, discord: FakeDiscord) -> None:
    seen: dict[str, Any] = {}

    def run_hook(request: Any, *, target: Any, protocol_request: Any) -> Any:
        seen["protocol_request"] = protocol_request
        request.input = request.input.upper()
        return request

    def response_hook(result: HostedRunResult[Any], *, request: Any, channel_name: str) -> HostedRunResult[Any]:
        seen["channel_name"] = channel_name
        return result.replace(result=Message(role="assistant", contents=[result.text + " (checked)"]))

    payload = ask("quiet")
    channel = make_channel(signer, discord, run_hook=run_hook, response_hook=response_hook)
    with TestClient(make_host(channel).app) as client:
        post(client, signer, payload)
        assert _answer(discord, payload) == "echo 1: QUIET (checked)"
    assert seen == {"protocol_request": payload, "channel_name": "discord"}


def test_a_long_answer_continues_as_follow_up_messages(signer: Signer, discord: FakeDiscord) -> None:
    code = "\n".join(f"    total += item_{i}" for i in range(120))
    answer = "Intro.\n\n" + "A sentence of prose. " * 90 + f"\n\n```python\n{code}\n```\n\nDone."
    payload = ask("write a lot")
    agent_client = OfflineChatClient(reply=lambda messages: answer)
    with TestClient(make_host(make_channel(signer, discord), agent_client).app) as client:
        post(client, signer, payload)
        follow_ups = discord.wait_for(
            lambda calls: any(c.json.get("content", "").endswith("Done.") for c in calls if c.json)
        )
    webhook = [c for c in follow_ups if c.path.startswith(f"/api/v10/webhooks/{APP_ID}/{payload['token']}")]
    assert webhook[0].method == "PATCH" and webhook[0].path.endswith("/messages/@original")
    assert all(c.method == "POST" and c.path.endswith(payload["token"]) for c in webhook[1:])
    contents = [c.json["content"] for c in webhook]
    assert len(contents) >= 3
    assert all(len(content) <= 2000 for content in contents)
    assert all(content.count("```") % 2 == 0 for content in contents)
    assert all(c.json["allowed_mentions"] == {"parse": []} for c in webhook)
    assert (
        " ".join(contents).replace("```python", " ").replace("```", " ").split()
        == answer.replace("```python", " ").replace("```", " ").split()
    )


def test_an_agent_failure_is_reported_to_the_user_and_logged(
    signer: Signer, discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    payload = ask("please [fail]")
    with caplog.at_level(logging.ERROR, logger="agent_framework.hosting.discord"):
        with TestClient(make_host(make_channel(signer, discord)).app) as client:
            post(client, signer, payload)
            assert _answer(discord, payload) == "Sorry, something went wrong while answering."
    assert any(payload["id"] in record.getMessage() for record in caplog.records)


def test_missing_prompt_and_unknown_commands_get_ephemeral_messages(signer: Signer, discord: FakeDiscord) -> None:
    with TestClient(make_host(make_channel(signer, discord)).app) as client:
        no_prompt = post(client, signer, command("ask", {}))
        blank_prompt = post(client, signer, ask("   "))
        unknown = post(client, signer, command("dance"))
    for response in (no_prompt, blank_prompt, unknown):
        assert response.status_code == 200
        assert response.json()["type"] == 4 and response.json()["data"]["flags"] == 64
    assert "prompt" in no_prompt.json()["data"]["content"]
    assert "/dance" in unknown.json()["data"]["content"]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [(3, {"type": 4}), (4, {"type": 8, "data": {"choices": []}}), (5, {"type": 4})],
)
def test_components_autocomplete_and_modals_get_polite_answers(
    signer: Signer, discord: FakeDiscord, kind: int, expected: dict[str, Any]
) -> None:
    payload = {**ask("hi"), "type": kind, "data": {"custom_id": "button-1", "component_type": 2}}
    with TestClient(make_host(make_channel(signer, discord)).app) as client:
        response = post(client, signer, payload)
    assert response.status_code == 200
    assert expected.items() <= response.json().items()
    if kind != 4:
        assert response.json()["data"]["flags"] == 64


# --- streaming ------------------------------------------------------------------------------------


def test_streaming_edits_the_original_as_the_answer_grows(signer: Signer, discord: FakeDiscord) -> None:
    words = " ".join(f"w{i}" for i in range(30))
    agent_client = OfflineChatClient(reply=lambda messages: words, chunk_delay=0.02)
    channel = make_channel(signer, discord, streaming=True, edit_interval=0.1)
    payload = ask("stream please")
    with TestClient(make_host(channel, agent_client).app) as client:
        assert post(client, signer, payload).json() == {"type": 5}
        discord.wait_for(lambda calls: any(c.json and c.json.get("content") == words for c in calls))
        edits = _original(discord, payload)
    contents = [c.json["content"] for c in edits]
    assert contents[-1] == words
    assert len(contents) >= 3
    assert all(words.startswith(content) for content in contents)
    assert len(set(contents[:-1])) == len(contents) - 1
    gaps = [later.at - earlier.at for earlier, later in zip(edits[:-2], edits[1:-1], strict=True)]
    assert all(gap >= 0.08 for gap in gaps), gaps


def test_slow_discord_edits_do_not_hold_back_the_agent_stream(signer: Signer, discord: FakeDiscord) -> None:
    edits_answered = discord.hold("PATCH")
    updates: list[Any] = []

    def record(update: Any) -> Any:
        updates.append(update)
        return update

    words = " ".join(f"w{i}" for i in range(40))
    agent_client = OfflineChatClient(reply=lambda messages: words, chunk_delay=0.005)
    channel = make_channel(signer, discord, streaming=True, edit_interval=0.0, stream_update_hook=record)
    payload = ask("stream please")
    with TestClient(make_host(channel, agent_client).app) as client:
        try:
            post(client, signer, payload)
            discord.wait_for(lambda calls: any(c.method == "PATCH" for c in calls))
            # Discord has not answered the first edit, yet the whole answer streams through.
            wait_until(lambda: len(updates) >= 40, timeout=20, message="the agent stream, while an edit hangs")
            assert len(discord.matching("PATCH")) == 1
        finally:
            edits_answered.set()
        discord.wait_for(lambda calls: any(c.json and c.json.get("content") == words for c in calls))
    edits = discord.matching("PATCH")
    assert 2 <= len(edits) <= 3
    assert edits[-1].json["content"] == words


def test_a_streamed_long_answer_ends_with_follow_ups(signer: Signer, discord: FakeDiscord) -> None:
    answer = " ".join(f"token{i}" for i in range(700))
    agent_client = OfflineChatClient(reply=lambda messages: answer)
    payload = ask("long stream")
    channel = make_channel(signer, discord, streaming=True, edit_interval=0.05)
    with TestClient(make_host(channel, agent_client).app) as client:
        post(client, signer, payload)
        discord.wait_for(
            lambda calls: any(c.method == "POST" and c.json["content"].endswith("token699") for c in calls)
        )
    edits = discord.matching("PATCH")
    posts = discord.matching("POST", payload["token"])
    assert all(len(c.json["content"]) <= 2000 for c in edits + posts)
    assert " ".join([edits[-1].json["content"]] + [c.json["content"] for c in posts]).split() == answer.split()


def test_shutdown_waits_for_an_answer_still_being_written(signer: Signer, discord: FakeDiscord) -> None:
    words = " ".join(f"w{i}" for i in range(20))
    agent_client = OfflineChatClient(reply=lambda messages: words, chunk_delay=0.03)
    payload = ask("slow")
    with TestClient(make_host(make_channel(signer, discord, streaming=True), agent_client).app) as client:
        post(client, signer, payload)
    assert _original(discord, payload)[-1].json["content"] == words


def test_a_busy_conversation_is_reported_not_run_twice(signer: Signer, discord: FakeDiscord) -> None:
    agent_client = OfflineChatClient(chunk_delay=0.1)
    channel = make_channel(signer, discord, streaming=True, edit_interval=5.0)
    first, second = ask("first question here"), ask("second")
    with TestClient(make_host(channel, agent_client, turn_wait=0.05).app) as client:
        post(client, signer, first)
        discord.wait_for(lambda calls: len(agent_client.calls) == 1)
        post(client, signer, second)
        assert "still answering" in _answer(discord, second)
        discord.wait_for(
            lambda calls: any(c.json and c.json["content"] == "echo 1: first question here" for c in calls)
        )
    assert len(agent_client.calls) == 1


# --- commands -------------------------------------------------------------------------------------


def test_reset_starts_a_new_conversation(signer: Signer, discord: FakeDiscord) -> None:
    first, reset, again = ask("one"), command("reset"), ask("again")
    with TestClient(make_host(make_channel(signer, discord)).app) as client:
        post(client, signer, first)
        assert _answer(discord, first) == "echo 1: one"
        response = post(client, signer, reset)
        reset_edit = _original(discord, reset)[-1]
        post(client, signer, again)
        assert _answer(discord, again) == "echo 1: again"
    assert response.json() == {"type": 5, "data": {"flags": 64}}
    assert reset_edit.json["content"] == "Started a new conversation."
    assert reset_edit.json["flags"] == 64


def test_a_channel_command_gets_its_input_and_can_reply_more_than_once(signer: Signer, discord: FakeDiscord) -> None:
    seen: list[Any] = []

    async def note(ctx: ChannelCommandContext) -> None:
        seen.append(ctx.request)
        await ctx.reply(f"noted: {ctx.request.input}")
        await ctx.reply("anything else?")

    channel = make_channel(signer, discord, commands=[ChannelCommand("note", "Take a note", note)])
    payload = command("note", {"input": "buy milk"}, user_id="31")
    with TestClient(make_host(channel).app) as client:
        post(client, signer, payload)
        discord.wait_for(lambda calls: len(discord.webhook_calls(payload["token"])) == 2)
    first, second = discord.webhook_calls(payload["token"])
    assert (first.method, first.json["content"]) == ("PATCH", "noted: /note buy milk")
    assert (second.method, second.json["content"], second.json["flags"]) == ("POST", "anything else?", 64)
    assert seen[0].operation == "command.invoke" and seen[0].identity.native_id == "31"


def test_a_silent_command_says_done_and_a_failing_one_apologises(signer: Signer, discord: FakeDiscord) -> None:
    async def silent(ctx: ChannelCommandContext) -> None:
        return None

    async def broken(ctx: ChannelCommandContext) -> None:
        raise RuntimeError("boom")

    commands = [ChannelCommand("silent", "Does nothing", silent), ChannelCommand("broken", "Fails", broken)]
    quiet, failing = command("silent"), command("broken")
    with TestClient(make_host(make_channel(signer, discord, commands=commands)).app) as client:
        post(client, signer, quiet)
        post(client, signer, failing)
        assert _answer(discord, quiet) == "Done."
        assert _answer(discord, failing) == "Sorry, that command failed."


def test_commands_are_registered_guild_scoped_at_startup(signer: Signer, discord: FakeDiscord) -> None:
    async def note(ctx: ChannelCommandContext) -> None:
        await ctx.reply("ok")

    channel = make_channel(
        signer, discord, bot_token="bot-secret", guild_id="4000", commands=[ChannelCommand("note", "Take a note", note)]
    )
    with TestClient(make_host(channel).app):
        calls = discord.wait_for(lambda calls: any(c.method == "PUT" for c in calls))
    put = next(c for c in calls if c.method == "PUT")
    assert put.path == f"/api/v10/applications/{APP_ID}/guilds/4000/commands"
    assert put.headers["authorization"] == "Bot bot-secret"
    assert put.headers["user-agent"].startswith("DiscordBot (")
    assert [c["name"] for c in put.json] == ["ask", "reset", "stop", "note"]
    assert put.json[0]["options"] == [
        {"type": 3, "name": "prompt", "description": "What to ask the agent", "required": True}
    ]
    assert put.json == channel.command_definitions()


def test_commands_are_registered_globally_without_a_guild(signer: Signer, discord: FakeDiscord) -> None:
    channel = make_channel(signer, discord, bot_token="bot-secret", agent_command="chat", agent_command_option="text")
    with TestClient(make_host(channel).app):
        calls = discord.wait_for(lambda calls: any(c.method == "PUT" for c in calls))
    put = next(c for c in calls if c.method == "PUT")
    assert put.path == f"/api/v10/applications/{APP_ID}/commands"
    assert put.json[0]["name"] == "chat" and put.json[0]["options"][0]["name"] == "text"


def test_nothing_is_registered_without_a_bot_token_or_when_switched_off(signer: Signer, discord: FakeDiscord) -> None:
    for channel in (
        make_channel(signer, discord),
        make_channel(signer, discord, bot_token="t", register_commands=False),
    ):
        payload = ask("hi")
        with TestClient(make_host(channel).app) as client:
            post(client, signer, payload)
            _original(discord, payload)
    assert discord.matching("PUT") == []


def test_a_failed_registration_is_logged_and_the_endpoint_still_works(
    signer: Signer, discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    discord.script("PUT", "/commands", (401, {"message": "401: Unauthorized", "code": 0}))
    payload = ask("hi")
    with caplog.at_level(logging.ERROR, logger="agent_framework.hosting.discord"):
        with TestClient(make_host(make_channel(signer, discord, bot_token="wrong-token")).app) as client:
            discord.wait_for(lambda calls: any(c.method == "PUT" for c in calls))
            post(client, signer, payload)
            assert _answer(discord, payload) == "echo 1: hi"
    messages = [record.getMessage() for record in caplog.records]
    assert any("registration failed: HTTP 401" in m for m in messages)
    assert not any("wrong-token" in m for m in messages)


# --- delivery -------------------------------------------------------------------------------------


def test_a_redelivered_interaction_id_runs_the_agent_once(signer: Signer, discord: FakeDiscord) -> None:
    agent_client = OfflineChatClient()
    payload = ask("only once")
    with TestClient(make_host(make_channel(signer, discord), agent_client).app) as client:
        responses = [post(client, signer, payload) for _ in range(3)]
        _original(discord, payload)
        later = ask("next")
        post(client, signer, later)
        assert _answer(discord, later) == "echo 2: next"
    assert [r.json() for r in responses] == [{"type": 5}] * 3
    assert len(agent_client.calls) == 2
    assert len(_original(discord, payload)) == 1


def test_a_429_is_retried_after_the_time_discord_asks(signer: Signer, discord: FakeDiscord) -> None:
    discord.script(
        "PATCH", "@original", (429, {"message": "You are being rate limited.", "retry_after": 0.4, "global": False})
    )
    payload = ask("hello")
    with TestClient(make_host(make_channel(signer, discord)).app) as client:
        post(client, signer, payload)
        discord.wait_for(lambda calls: len(discord.matching("PATCH")) == 2)
    limited, retried = discord.matching("PATCH")
    assert retried.json["content"] == "echo 1: hello"
    assert retried.at - limited.at >= 0.38


def test_server_errors_are_retried_a_bounded_number_of_times_then_logged_without_the_token(
    signer: Signer, discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    discord.script("PATCH", "@original", *[(502, {"message": "Bad Gateway"})] * 10)
    payload = ask("hello")
    with caplog.at_level(logging.DEBUG):
        with TestClient(make_host(make_channel(signer, discord)).app) as client:
            post(client, signer, payload)
            discord.wait_for(lambda calls: len(discord.matching("PATCH")) == 4)
    time.sleep(0.2)
    assert len(discord.matching("PATCH")) == 4
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(payload["id"] in m and "HTTP 502" in m for m in errors)
    logged = [r.getMessage() for r in caplog.records]
    assert not any(payload["token"] in m for m in logged)
    assert any("/webhooks/" in m and "<token>" in m for m in logged)


def test_an_expired_token_falls_back_to_a_channel_message(
    signer: Signer, discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    channel = make_channel(signer, discord, bot_token="bot-secret", register_commands=False)
    channel.token_lifetime = 0.0
    payload = ask("late", channel_id="5150")
    with caplog.at_level(logging.WARNING, logger="agent_framework.hosting.discord"):
        with TestClient(make_host(channel).app) as client:
            post(client, signer, payload)
            calls = discord.wait_for(lambda calls: any("/channels/" in c.path for c in calls))
    fallback = next(c for c in calls if "/channels/" in c.path)
    assert (fallback.method, fallback.path) == ("POST", "/api/v10/channels/5150/messages")
    assert fallback.headers["authorization"] == "Bot bot-secret"
    assert fallback.json["content"] == "echo 1: late" and fallback.json["allowed_mentions"] == {"parse": []}
    assert fallback.json["enforce_nonce"] is True and len(fallback.json["nonce"]) <= 25
    assert discord.webhook_calls(payload["token"]) == []
    assert any(
        "outlived its 15-minute token" in r.getMessage() and payload["id"] in r.getMessage() for r in caplog.records
    )


def test_discord_saying_the_token_is_invalid_also_falls_back(signer: Signer, discord: FakeDiscord) -> None:
    discord.script("PATCH", "@original", (401, {"message": "Invalid Webhook Token", "code": 50027}))
    channel = make_channel(signer, discord, bot_token="bot-secret", register_commands=False)
    payload = ask("late", channel_id="5151")
    with TestClient(make_host(channel).app) as client:
        post(client, signer, payload)
        calls = discord.wait_for(lambda calls: any("/channels/5151/" in c.path for c in calls))
    assert len(discord.matching("PATCH")) == 1
    assert next(c for c in calls if "/channels/" in c.path).json["content"] == "echo 1: late"


def test_an_expired_token_without_a_bot_token_is_logged(
    signer: Signer, discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    agent_client = OfflineChatClient()
    channel = make_channel(signer, discord)
    channel.token_lifetime = 0.0
    payload = ask("late")
    with caplog.at_level(logging.WARNING, logger="agent_framework.hosting.discord"):
        with TestClient(make_host(channel, agent_client).app) as client:
            post(client, signer, payload)
            deadline = time.monotonic() + 10
            while not any("outlived" in r.getMessage() for r in caplog.records) and time.monotonic() < deadline:
                time.sleep(0.02)
    assert len(agent_client.calls) == 1
    assert any("cannot be delivered" in r.getMessage() and payload["id"] in r.getMessage() for r in caplog.records)
    assert discord.calls == []


def test_a_real_server_answers_at_the_exact_path(signer: Signer, discord: FakeDiscord) -> None:
    payload = ask("over the wire")
    with running_server(make_host(make_channel(signer, discord)).app) as url:
        body = encode(payload)
        response = httpx.post(url + PATH, content=body, headers=signer.headers(body), timeout=10)
        assert response.status_code == 200 and response.json() == {"type": 5}
        assert _answer(discord, payload) == "echo 1: over the wire"


# --- construction ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"public_key": "not-hex"},
        {"application_id": ""},
        {"agent_command": "Ask"},
        {"agent_command": "has space"},
        {"agent_command": "x" * 33},
        {"agent_command_option": ""},
        {"agent_command_description": ""},
        {"edit_interval": -1},
        {"max_body_bytes": 0},
        {"max_timestamp_skew": 0},
        {"commands": [ChannelCommand("ask", "Clashes with the agent command", lambda ctx: None)]},  # type: ignore[arg-type,return-value]
        {"commands": [ChannelCommand("Bad", "Upper case", lambda ctx: None)]},  # type: ignore[arg-type,return-value]
    ],
)
def test_invalid_settings_are_refused_at_construction(signer: Signer, settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make_channel(signer, None, **settings)


def test_a_user_reset_command_replaces_the_built_in_one(signer: Signer) -> None:
    async def mine(ctx: ChannelCommandContext) -> None:
        await ctx.reply("custom")

    channel = make_channel(signer, None, commands=[ChannelCommand("reset", "My reset", mine)])
    assert [c["name"] for c in channel.command_definitions()] == ["ask", "stop", "reset"]
    assert channel.command_definitions()[2]["description"] == "My reset"
    host = make_host(channel)
    host.app  # noqa: B018 - builds the app, collecting commands
    assert [c.name for c in host.commands["discord"]] == ["stop", "reset"]
    assert host.commands["discord"][1].handle is mine


def test_the_channel_is_a_channel_with_the_documented_defaults(signer: Signer) -> None:
    channel = DiscordChannel(application_id=APP_ID, public_key=signer.public_key)
    assert (channel.name, channel.path, channel.agent_command, channel.agent_command_option) == (
        "discord",
        "/discord/interactions",
        "ask",
        "prompt",
    )
    assert channel.api_base_url == "https://discord.com/api/v10"
    assert channel.max_body_bytes == 1024 * 1024 and channel.edit_interval == 1.0 and channel.streaming is False
    assert channel.max_timestamp_skew == 300


def test_without_a_turn_wait_bound_a_conversations_interactions_queue_and_stop_cuts_in(
    signer: Signer, discord: FakeDiscord
) -> None:
    agent_client = OfflineChatClient(response_delay=10.0)
    first, second, third, stop = ask("first"), ask("second"), ask("third"), command("stop")
    with TestClient(make_host(make_channel(signer, discord), agent_client, turn_wait=None).app) as client:
        for payload in (first, second, third):
            assert post(client, signer, payload).json()["type"] == 5
        discord.wait_for(lambda calls: len(agent_client.calls) == 1)
        agent_client.response_delay = 0.0  # the running turn keeps its 10 s; the queued ones answer at once
        post(client, signer, stop)  # not queued behind the waiting ones
        assert _original(discord, stop)[-1].json["content"] == "Stopped."
        answers = [_answer(discord, payload) for payload in (first, second, third)]
    assert answers == ["(stopped before answering)", "echo 2: second", "echo 3: third"]
    assert len(agent_client.calls) == 3
