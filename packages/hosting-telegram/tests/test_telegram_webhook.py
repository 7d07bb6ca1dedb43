"""Webhook mode against the fake Bot API: security, dedupe, commands, media, delivery."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import sys
from typing import Any

import httpx
import pytest
from agent_framework_hosting import ChannelCommand, ChannelCommandContext, DeliveryOptions
from agent_framework_hosting.testing import GatedChatClient, OfflineChatClient, eventually
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))
from telegram_fake import TOKEN, FakeBotApi, message_update, serve_bot, telegram_parse_html  # noqa: E402

WEBHOOK_URL = "https://bot.example.com/telegram/webhook"


def webhook_bot(fake: FakeBotApi, **kwargs: object):  # type: ignore[no-untyped-def]
    return serve_bot(fake, webhook_url=WEBHOOK_URL, **kwargs)  # type: ignore[arg-type]


async def post(
    bot, update: object, *, secret: str | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(
            bot.webhook, json=update, headers=headers if headers is not None else bot.headers(secret)
        )


async def test_startup_registers_the_webhook_with_a_secret_and_the_commands(fake: FakeBotApi) -> None:
    async def ping(ctx: ChannelCommandContext) -> None:
        await ctx.reply("pong")

    with webhook_bot(fake, commands=[ChannelCommand("Ping", "Check the bot", ping)]) as bot:
        [registration] = fake.of("setWebhook")
        assert registration == {
            "url": WEBHOOK_URL,
            "secret_token": bot.channel.webhook_secret,
            "allowed_updates": ["message", "edited_message", "callback_query"],
        }
        assert len(bot.channel.webhook_secret) >= 32
        [commands] = fake.of("setMyCommands")
        assert {"command": "ping", "description": "Check the bot"} in commands["commands"]
        assert {c["command"] for c in commands["commands"]} == {"ping", "reset", "stop"}
        assert fake.of("getMe") and bot.channel.bot_username == "echo_bot"
    assert fake.of("deleteWebhook") == []  # left registered by default (rolling deploys)


async def test_delete_webhook_on_shutdown_is_opt_in(fake: FakeBotApi) -> None:
    with webhook_bot(fake, delete_webhook_on_shutdown=True, register_native_commands=False):
        assert fake.of("setMyCommands") == []
    assert len(fake.of("deleteWebhook")) == 1


async def test_right_secret_runs_the_agent_and_replies(fake: FakeBotApi) -> None:
    with webhook_bot(fake) as bot:
        response = await post(bot, message_update(1, "hello"))
        assert response.status_code == 200 and response.json() == {"ok": True}
        await eventually(lambda: fake.sent_texts(42) == ["echo 1: hello"], message="the reply")
        [sent] = fake.of("sendMessage")
        assert sent["parse_mode"] == "HTML" and "reply_parameters" not in sent  # private chat: no quote


async def test_an_update_whose_body_starts_with_a_byte_order_mark_is_answered(fake: FakeBotApi) -> None:
    with webhook_bot(fake) as bot:
        body = b"\xef\xbb\xbf" + json.dumps(message_update(1, "hello")).encode()
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(bot.webhook, content=body, headers=bot.headers(None))
        assert response.status_code == 200 and response.json() == {"ok": True}
        await eventually(lambda: fake.sent_texts(42) == ["echo 1: hello"], message="the reply")


async def test_wrong_or_missing_secret_gets_401_and_no_work(fake: FakeBotApi) -> None:
    with webhook_bot(fake, secret_token="my_secret-1") as bot:
        assert fake.of("setWebhook")[0]["secret_token"] == "my_secret-1"
        wrong = await post(bot, message_update(1), secret="my_secret-2")
        missing = await post(bot, message_update(2), headers={})
        assert (wrong.status_code, missing.status_code) == (401, 401)
        assert wrong.json()["error"]["code"] == "unauthorized"
        right = await post(bot, message_update(3, "ok"), secret="my_secret-1")
        assert right.status_code == 200
        await eventually(lambda: fake.sent_texts(42), message="the reply")
        await asyncio.sleep(0.2)
        assert fake.sent_texts(42) == ["echo 1: ok"]
        assert len(bot.client.calls) == 1


def test_secret_token_format_is_validated() -> None:
    from agent_framework_hosting_telegram import TelegramChannel

    with pytest.raises(ValueError, match="secret_token"):
        TelegramChannel(TOKEN, webhook_url=WEBHOOK_URL, secret_token="has space")
    with pytest.raises(ValueError, match="requires webhook_url"):
        TelegramChannel(TOKEN, transport="webhook")
    with pytest.raises(ValueError, match="command name"):
        TelegramChannel(TOKEN, commands=[ChannelCommand("bad-name", "x", lambda ctx: None)])  # type: ignore[arg-type,return-value]


async def test_bad_bodies_get_clear_4xx_answers(fake: FakeBotApi) -> None:
    with webhook_bot(fake, max_body_bytes=2048) as bot:
        async with httpx.AsyncClient(timeout=10) as http:
            not_json = await http.post(bot.webhook, content=b"{nope", headers=bot.headers())
            array = await http.post(bot.webhook, json=[1, 2], headers=bot.headers())
            no_id = await http.post(bot.webhook, json={"message": {}}, headers=bot.headers())
            huge = await http.post(bot.webhook, json={"update_id": 1, "pad": "x" * 4000}, headers=bot.headers())
        assert [r.status_code for r in (not_json, array, no_id, huge)] == [400, 400, 400, 413]
        assert no_id.json()["error"]["code"] == "invalid_update"
        assert bot.client.calls == []


async def test_duplicate_update_id_runs_the_agent_once(fake: FakeBotApi) -> None:
    with webhook_bot(fake) as bot:
        update = message_update(77, "only once")
        answers = await asyncio.gather(*(post(bot, update) for _ in range(3)))
        assert sorted(r.json().get("duplicate", False) for r in answers) == [False, True, True]
        await eventually(lambda: fake.sent_texts(42), message="the reply")
        again = await post(bot, update)
        assert again.json() == {"ok": True, "duplicate": True}
        await asyncio.sleep(0.3)
        assert fake.sent_texts(42) == ["echo 1: only once"]
        assert len(bot.client.calls) == 1


async def test_seen_update_ids_and_history_survive_a_restart_with_state_dir(fake: FakeBotApi, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with webhook_bot(fake, host_kwargs={"state_dir": tmp_path}) as bot:
        await post(bot, message_update(5, "first"))
        await eventually(lambda: fake.sent_texts(42) == ["echo 1: first"], message="first reply")
    with webhook_bot(fake, host_kwargs={"state_dir": tmp_path}) as bot:
        redelivered = await post(bot, message_update(5, "first"))
        assert redelivered.json()["duplicate"] is True
        await post(bot, message_update(6, "second"))
        await eventually(lambda: len(fake.sent_texts(42)) == 2, message="second reply")
        assert fake.sent_texts(42) == ["echo 1: first", "echo 2: second"]
        assert len(bot.client.calls) == 1


async def test_start_greets_and_reset_starts_a_fresh_conversation(fake: FakeBotApi) -> None:
    with webhook_bot(fake, greeting="Welcome!") as bot:
        for update_id, text in enumerate(["/start", "hi", "again", "/reset", "fresh"], start=1):
            await post(bot, message_update(update_id, text))
        expected = ["Welcome!", "echo 1: hi", "echo 2: again", "Started a new conversation.", "echo 1: fresh"]
        await eventually(lambda: len(fake.sent_texts(42)) == 5, message="five replies")
        assert fake.sent_texts(42) == expected


async def test_custom_commands_match_case_insensitively_and_skip_the_agent(fake: FakeBotApi) -> None:
    seen = []

    async def ping(ctx: ChannelCommandContext) -> None:
        seen.append((ctx.request.operation, ctx.request.identity.native_id if ctx.request.identity else None))
        await ctx.reply(f"pong *{ctx.request.attributes['args']}*")

    with webhook_bot(fake, commands=[ChannelCommand("ping", "Ping", ping)]) as bot:
        await post(bot, message_update(1, "/PING@Echo_Bot now"))
        await eventually(lambda: fake.sent_texts(42) == ["pong now"], message="the command reply")
        assert fake.of("sendMessage")[0]["text"] == "pong <i>now</i>"
        await post(bot, message_update(2, "/ping@other_bot x"))
        await post(bot, message_update(3, "/unknown thing"))
        await eventually(lambda: len(fake.sent_texts(42)) == 2, message="the agent's reply")
        assert fake.sent_texts(42)[1] == "echo 1: /unknown thing"
        assert seen == [("command.invoke", "7")]


async def test_a_failing_command_gets_an_apology(fake: FakeBotApi) -> None:
    async def broken(ctx: ChannelCommandContext) -> None:
        raise RuntimeError("internal detail")

    with webhook_bot(fake, commands=[ChannelCommand("broken", "Broken", broken)]) as bot:
        await post(bot, message_update(1, "/broken"))
        [text] = await eventually(lambda: fake.sent_texts(42), message="the apology")
        assert text.startswith("Sorry") and "internal" not in text


async def test_photo_with_caption_reaches_the_agent_as_image_bytes_without_the_token(fake: FakeBotApi) -> None:
    picture = b"\xff\xd8\xff\xe0fake-jpeg-bytes"
    fake.files["big"] = picture
    photo = [{"file_id": "small", "width": 90, "height": 90}, {"file_id": "big", "width": 800, "height": 800}]
    with webhook_bot(fake) as bot:
        await post(bot, message_update(1, None, photo=photo, caption="what is this?"))
        await eventually(lambda: fake.sent_texts(42) == ["echo 1: what is this?"], message="the reply")
        assert fake.of("getFile") == [{"file_id": "big"}]
        [messages] = bot.client.calls
        [data] = [c for c in messages[-1].contents if c.type == "data"]
        assert data.media_type == "image/jpeg"
        assert data.uri == "data:image/jpeg;base64," + base64.b64encode(picture).decode()
        assert TOKEN not in repr([m.to_dict() for m in messages])


async def test_photo_that_cannot_be_loaded_is_explained(fake: FakeBotApi) -> None:
    with webhook_bot(fake) as bot:
        await post(bot, message_update(1, None, photo=[{"file_id": "missing"}]))
        [text] = await eventually(lambda: fake.sent_texts(42), message="the notice")
        assert text == "Sorry, I could not load that image."
        assert bot.client.calls == []


async def test_unsupported_updates_get_a_short_reply_in_private_and_silence_in_groups(fake: FakeBotApi) -> None:
    with webhook_bot(fake) as bot:
        await post(bot, message_update(1, None, sticker={"file_id": "s"}))
        await post(bot, message_update(2, None, voice={"file_id": "v"}, chat_id=-9, chat_type="group"))
        await post(bot, {"update_id": 3, "edited_message": message_update(3, "typo fixed")["message"]})
        await post(bot, {"update_id": 4, "my_chat_member": {"chat": {"id": 42}}})
        await eventually(lambda: len(fake.sent_texts(42)) == 2, message="two notices")
        await asyncio.sleep(0.2)
        assert fake.sent_texts(42) == [
            "Sorry, I can only read text and photos.",
            "I can't follow edited messages. Please send your correction as a new message.",
        ]
        assert fake.sent_texts(-9) == [] and bot.client.calls == []


async def test_callback_query_is_answered_and_its_data_runs_a_turn(fake: FakeBotApi) -> None:
    update = {
        "update_id": 9,
        "callback_query": {
            "id": "cbq-1",
            "from": {"id": 7, "is_bot": False, "first_name": "Ada"},
            "message": {"message_id": 3, "date": 0, "chat": {"id": 42, "type": "private"}},
            "chat_instance": "x",
            "data": "choice B",
        },
    }
    with webhook_bot(fake) as bot:
        await post(bot, update)
        await eventually(lambda: fake.sent_texts(42) == ["echo 1: choice B"], message="the reply")
        assert fake.of("answerCallbackQuery") == [{"callback_query_id": "cbq-1"}]


async def test_group_replies_quote_the_message_and_topics_keep_their_thread(fake: FakeBotApi) -> None:
    with webhook_bot(fake) as bot:
        await post(
            bot,
            message_update(4, "hi", chat_id=-100, chat_type="supergroup", is_topic_message=True, message_thread_id=12),
        )
        await eventually(lambda: fake.sent_texts(-100), message="the reply")
        [sent] = fake.of("sendMessage")
        assert sent["message_thread_id"] == 12
        assert sent["reply_parameters"] == {"message_id": 504, "allow_sending_without_reply": True}


async def test_long_answers_are_split_into_messages_under_the_limit(fake: FakeBotApi) -> None:
    paragraph = "This **sentence** has a < sign & more words to fill the space. " * 12
    answer = "\n\n".join([paragraph.strip()] * 12)
    with webhook_bot(fake, client=OfflineChatClient(reply=lambda messages: answer)) as bot:
        await post(bot, message_update(1, "long please"))
        await eventually(lambda: len(fake.sent_texts(42)) >= 3, message="several messages")
        await asyncio.sleep(0.2)
        texts = fake.sent_texts(42)
        assert all(len(t) <= 4096 for t in texts)
        assert "\n\n".join(t.strip() for t in texts) == answer.replace("**", "")


async def test_tricky_markdown_is_escaped_into_html_telegram_accepts(fake: FakeBotApi) -> None:
    answer = "**Result**: a < b && c > d <script>x</script>\n```py\nif x<y: print('&')\n```\n*unbalanced"
    with webhook_bot(fake, client=OfflineChatClient(reply=lambda messages: answer)) as bot:
        await post(bot, message_update(1, "go"))
        [text] = await eventually(lambda: fake.sent_texts(42), message="the reply")
        [sent] = fake.of("sendMessage")
        assert sent["parse_mode"] == "HTML"
        assert sent["text"].startswith("<b>Result</b>: a &lt; b &amp;&amp; c &gt; d &lt;script&gt;")
        assert text == "Result: a < b && c > d <script>x</script>\nif x<y: print('&')\n*unbalanced"
        assert telegram_parse_html(sent["text"]) == text


async def test_rejected_formatting_is_resent_as_plain_text(fake: FakeBotApi) -> None:
    fake.fail("sendMessage", "entities")
    answer = "**bold** and `code`"
    with webhook_bot(fake, client=OfflineChatClient(reply=lambda messages: answer)) as bot:
        await post(bot, message_update(1, "x"))
        await eventually(lambda: fake.sent_texts(42), message="the reply")
        first, second = fake.of("sendMessage")
        assert first["parse_mode"] == "HTML"
        assert "parse_mode" not in second and second["text"] == "bold and code"
        assert fake.sent_texts(42) == ["bold and code"]


async def test_429_waits_retry_after_then_delivers(fake: FakeBotApi) -> None:
    fake.fail("sendMessage", "429", retry_after=1)
    with webhook_bot(fake) as bot:
        await post(bot, message_update(1, "hi"))
        await eventually(lambda: fake.sent_texts(42), message="the reply")
        first, second = fake.timed("sendMessage")
        assert second.at - first.at >= 0.95
        assert fake.sent_texts(42) == ["echo 1: hi"]


async def test_5xx_is_retried_with_backoff(fake: FakeBotApi) -> None:
    fake.fail("sendMessage", "5xx", times=2)
    with webhook_bot(fake) as bot:
        await post(bot, message_update(1, "hi"))
        await eventually(lambda: fake.sent_texts(42), message="the reply")
        assert len(fake.of("sendMessage")) == 3


async def test_an_undeliverable_reply_is_logged_with_the_chat_id(
    fake: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail("sendMessage", "5xx", times=4)
    caplog.set_level(logging.INFO)
    with webhook_bot(fake) as bot:
        await post(bot, message_update(1, "hi", chat_id=31337))
        await eventually(
            lambda: any("could not deliver" in r.getMessage() and "31337" in r.getMessage() for r in caplog.records),
            message="the delivery error in the log",
        )
        assert len(fake.of("sendMessage")) == 4


async def test_an_answer_telegram_would_not_take_goes_out_later_from_the_durable_outbox(fake: FakeBotApi) -> None:
    fake.fail("sendMessage", "5xx", times=5)  # the send's own 4 attempts, then the outbox's first retry
    delivery = DeliveryOptions(outbox_backoff=0.2, outbox_interval=0.1)
    with webhook_bot(fake, host_kwargs={"delivery": delivery}) as bot:
        await post(bot, message_update(1, "hi", chat_id=31337))
        await eventually(lambda: fake.sent_texts(31337), message="the kept reply")
        await asyncio.sleep(0.5)
        assert fake.sent_texts(31337) == ["echo 1: hi"]
        assert len(fake.of("sendMessage")) == 6
        assert await bot.host.state.keys("outbox") == []


async def test_an_answer_telegram_refuses_becomes_a_dead_letter(fake: FakeBotApi) -> None:
    fake.fail("sendMessage", "unauthorized", times=4)
    with webhook_bot(fake) as bot:
        await post(bot, message_update(1, "hi", chat_id=31337))
        letters = await eventually_async(bot.host.dead_letters.list)
        assert [(letter["channel"], letter["destination"]["chat_id"]) for letter in letters] == [("telegram", 31337)]
        assert letters[0]["payload"]["text"] == "echo 1: hi"


async def eventually_async(read: Any, timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := await read()):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)
    return value


async def test_agent_errors_get_a_short_apology_without_internals(fake: FakeBotApi) -> None:
    with webhook_bot(fake) as bot:
        await post(bot, message_update(1, "please [fail]"))
        [text] = await eventually(lambda: fake.sent_texts(42), message="the apology")
        assert text == "Sorry, something went wrong while answering. Please try again."
        await post(bot, message_update(2, "works again"))
        await eventually(lambda: len(fake.sent_texts(42)) == 2, message="the next reply")
        assert fake.sent_texts(42)[1].endswith("works again")


async def test_one_chat_runs_in_order_while_other_chats_run_in_parallel(fake: FakeBotApi) -> None:
    client = GatedChatClient(chunk_delay=0.05, holds=lambda text: text == "one")
    with webhook_bot(fake, client=client, stream=True, stream_edit_min_interval=0) as bot:
        try:
            for update_id, text in enumerate(["one", "two", "three"], start=1):
                await post(bot, message_update(update_id, text, chat_id=1))
            await eventually(lambda: client.held == ["one"], message="chat 1's first turn to reach the model")
            await post(bot, message_update(10, "other", chat_id=2))
            # Chat 2 is answered in full while chat 1's first turn is still held...
            await eventually(lambda: [m["visible"] for m in fake.current(2)] == ["echo 1: other"], message="chat 2")
            # ...and chat 1's later messages wait behind its first.
            assert client.held == ["one"]
            assert [call[-1].text for call in client.calls] == ["other"]
        finally:
            client.release()
        await eventually(
            lambda: [m["visible"] for m in fake.current(1)] == ["echo 1: one", "echo 2: two", "echo 3: three"],
            timeout=20,
            message="chat 1's answers, in order",
        )
    assert [m["visible"] for m in fake.current(2)] == ["echo 1: other"]


async def test_the_bot_token_never_appears_in_logs(fake: FakeBotApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake.files["p"] = b"jpeg"
    fake.fail("sendMessage", "429", retry_after=0)
    fake.fail("getFile", "5xx")
    with webhook_bot(fake) as bot:
        await post(bot, message_update(1, None, photo=[{"file_id": "p"}], caption="look"))
        await post(bot, message_update(2, "boom [fail]"))
        await eventually(lambda: len(fake.sent_texts(42)) == 2, message="both replies")
    text = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    assert "HTTP Request" in text  # httpx did log its requests...
    assert "getFile" in text and "sendMessage" in text
    assert TOKEN not in text and TOKEN.split(":")[1] not in text  # ...with the token redacted


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=16,
)
message_like = st.fixed_dictionaries(
    {"update_id": st.integers(min_value=-5, max_value=10**12)},
    optional={
        "message": st.fixed_dictionaries(
            {"chat": st.fixed_dictionaries({"id": st.integers(), "type": json_values}), "from": json_values},
            optional={"text": json_values, "caption": json_values, "photo": json_values, "sticker": json_values},
        ),
        "edited_message": json_values,
        "callback_query": json_values,
    },
)


def test_arbitrary_json_posted_to_the_webhook_never_gets_a_5xx(fake: FakeBotApi) -> None:
    with webhook_bot(fake) as bot, httpx.Client(timeout=10) as http:

        @settings(
            max_examples=80,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(st.one_of(json_values.map(json.dumps), message_like.map(json.dumps), st.binary(max_size=64)))
        def check(body: str | bytes) -> None:
            response = http.post(bot.webhook, content=body, headers=bot.headers())
            assert response.status_code < 500, response.text
            assert response.status_code in (200, 400), response.text

        check()


async def test_images_the_answer_links_to_are_sent_as_photos(fake: FakeBotApi) -> None:
    from agent_framework import AgentResponse, Content, Message

    def with_image(result, *, request, channel_name):  # type: ignore[no-untyped-def]
        contents = [
            Content.from_text("Here it is"),
            Content.from_uri("https://img.example/cat.png", media_type="image/png"),
        ]
        return result.replace(result=AgentResponse(messages=[Message(role="assistant", contents=contents)]))

    with webhook_bot(fake, response_hook=with_image) as bot:
        await post(bot, message_update(1, "a cat please"))
        await eventually(lambda: fake.of("sendPhoto"), message="the photo")
        assert fake.sent_texts(42) == ["Here it is"]
        assert fake.of("sendPhoto") == [{"chat_id": 42, "photo": "https://img.example/cat.png"}]
