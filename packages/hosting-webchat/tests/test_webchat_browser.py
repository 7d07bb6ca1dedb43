"""The web chat in a real headless Chromium, talking to a real host over the Responses channel."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest.mock import ANY

import httpx
import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting._demo import demo_agent
from agent_framework_hosting.testing import OfflineChatClient, running_server
from agent_framework_hosting_responses import ResponsesChannel
from agent_framework_hosting_webchat import WebChatChannel

WAIT_MS = 15_000
RECORD_SNAPSHOTS = """
window.__snapshots = [];
new MutationObserver(() => {
  document.querySelectorAll(".message.assistant").forEach((element, index) => {
    const seen = (window.__snapshots[index] = window.__snapshots[index] || []);
    if (seen[seen.length - 1] !== element.textContent) seen.push(element.textContent);
  });
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def serve(*channels: Any, agent: Any, **options: Any) -> Iterator[str]:
    host = AgentFrameworkHost(agent, channels=list(channels), **options)
    with running_server(host.app) as url:
        yield url


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    yield from serve(ResponsesChannel(), WebChatChannel(), agent=demo_agent({}, word_delay=0.03).agent)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    context.add_init_script(RECORD_SNAPSHOTS)
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    yield opened
    context.close()


def send(page: Any, text: str) -> None:
    page.fill("#input", text)
    page.press("#input", "Enter")


def answers(page: Any, count: int) -> list[str]:
    """Wait until `count` answers are complete; return the text of every answer."""
    page.wait_for_function(
        "n => document.querySelectorAll('.message.assistant[data-state=done]').length >= n", arg=count, timeout=WAIT_MS
    )
    return page.locator(".message.assistant").all_inner_texts()


def snapshots(page: Any, index: int) -> list[str]:
    return page.evaluate("i => window.__snapshots[i] || []", index)


def test_two_messages_stream_and_the_second_answer_knows_the_first(page: Any, demo_url: str) -> None:
    page.goto(demo_url + "/")
    send(page, "Hi, my name is Ada")
    first = answers(page, 1)[0]
    send(page, "what is my name?")
    second = answers(page, 2)[1]
    assert first.startswith("Nice to meet you, Ada!")
    assert second == "Your name is Ada. You told me earlier in this conversation, and I keep our session."
    for index, final in ((0, first), (1, second)):
        seen = snapshots(page, index)
        partial = [text for text in seen if text and text != final]
        assert len(partial) >= 5, f"answer {index} did not stream: {seen}"
        assert all(final.startswith(text) for text in partial)
    assert page.locator(".message.user").all_inner_texts() == ["Hi, my name is Ada", "what is my name?"]
    assert page.locator(".message.error").count() == 0


def test_the_conversation_survives_a_reload(page: Any, demo_url: str) -> None:
    page.goto(demo_url + "/")
    send(page, "my name is Grace")
    answers(page, 1)
    page.reload()
    assert page.locator(".message").all_inner_texts()[0] == "my name is Grace"
    assert page.locator(".message.assistant").count() == 1
    stored = page.evaluate("Object.values(localStorage).map(JSON.parse)[0]")
    assert stored["conversationId"].startswith("conv_")
    send(page, "what is my name?")
    assert answers(page, 2)[1].startswith("Your name is Grace.")


def test_new_chat_starts_over(page: Any, demo_url: str) -> None:
    page.goto(demo_url + "/")
    send(page, "my name is Linus")
    answers(page, 1)
    page.click("#new-chat")
    assert page.locator(".message").count() == 0
    send(page, "what is my name?")
    assert answers(page, 1) == ["You haven't told me your name yet. Say 'my name is ...' and ask me again later."]
    page.reload()
    assert page.locator(".message").count() == 2


def test_tool_answers_reach_the_page(page: Any, demo_url: str) -> None:
    page.goto(demo_url + "/")
    send(page, "what is 12 * 7?")
    assert answers(page, 1) == ["12 * 7 = 84 (worked out by the calculate tool)."]


def test_an_agent_failure_is_shown_in_the_page_and_the_chat_goes_on(page: Any) -> None:
    agent = Agent(client=OfflineChatClient(chunk_delay=0.02), name="echo")
    for url in serve(ResponsesChannel(), WebChatChannel(), agent=agent):
        page.goto(url + "/")
        send(page, "hello")
        assert answers(page, 1) == ["echo 1: hello"]
        send(page, "please [fail] in the middle of this answer")
        error = page.locator(".message.error")
        error.wait_for()
        assert error.inner_text().strip()
        send(page, "and now?")
        assert answers(page, 2)[-1] == "echo 2: and now?"


def test_stop_ends_an_answer_early_and_the_chat_goes_on(page: Any) -> None:
    agent = Agent(client=OfflineChatClient(chunk_delay=0.2), name="echo")
    for url in serve(ResponsesChannel(), WebChatChannel(), agent=agent):
        page.goto(url + "/")
        send(page, "a long question that takes a while to answer word by word")
        page.wait_for_function("() => (document.querySelector('.message.assistant') || {}).textContent")
        assert page.inner_text("#send") == "Stop"
        page.click("#send")
        page.wait_for_selector(".message.assistant[data-state=stopped]")
        assert page.inner_text("#send") == "Send"
        assert page.locator(".message.error").count() == 0
        send(page, "next message")
        assert answers(page, 1)[-1].endswith(": next message")


def test_a_conversation_the_host_forgot_is_reported_and_restarted(page: Any, demo_url: str) -> None:
    page.goto(demo_url + "/")
    page.evaluate(
        """url => localStorage.setItem("agent-framework-webchat:" + url,
             JSON.stringify({conversationId: "conv_forgotten", messages: [{role: "user", text: "old"}]}))""",
        demo_url + "/responses",
    )
    page.reload()
    send(page, "hello again")
    page.locator(".message.error").wait_for()
    assert "no longer knows this conversation" in page.locator(".message.error").inner_text()
    send(page, "what is my name?")
    assert answers(page, 1)[-1].startswith("You haven't told me your name yet.")


def test_a_host_with_an_api_key_asks_for_it_once(page: Any) -> None:
    agent = Agent(client=OfflineChatClient(), name="echo")
    for url in serve(ResponsesChannel(api_key="sk-page-key"), WebChatChannel(), agent=agent):
        page.goto(url + "/")
        send(page, "hello")
        page.locator("#auth").wait_for(state="visible")
        assert "needs an API key" in page.locator(".message.error").inner_text()
        page.fill("#api-key", "sk-page-key")
        page.click("#auth button")
        assert page.locator("#auth").is_hidden()
        send(page, "hello with a key")
        assert answers(page, 1) == ["echo 1: hello with a key"]


def stop_mid_answer(page: Any, question: str) -> str:
    send(page, question)
    page.wait_for_function("() => ((document.querySelector('.message.assistant') || {}).textContent || '').length > 12")
    page.click("#send")
    page.wait_for_selector(".message.assistant[data-state=stopped]")
    return page.locator(".message.assistant").first.inner_text()


def test_after_stop_the_next_message_continues_from_the_stopped_answer(page: Any) -> None:
    agent = Agent(client=OfflineChatClient(chunk_delay=0.2), name="echo")
    for url in serve(ResponsesChannel(), WebChatChannel(), agent=agent):
        page.goto(url + "/")
        partial = stop_mid_answer(page, "a long question that takes a while to answer word by word")
        assert partial.startswith("echo 1: a long")
        send(page, "next message")
        assert answers(page, 1)[-1] == "echo 2: next message", "the second turn continues the first conversation"
        stored = page.evaluate("Object.values(localStorage).map(JSON.parse)[0]")
        assert [m["role"] for m in stored["messages"]] == ["user", "assistant", "user", "assistant"]
        assert stored["messages"][1] == {"role": "assistant", "text": partial, "stopped": True, "id": ANY}
        assert stored["messages"][1]["id"].startswith("msg_"), "the conversation item it shows"


def test_a_stopped_answer_survives_a_reload_and_the_chat_continues(page: Any) -> None:
    agent = Agent(client=OfflineChatClient(chunk_delay=0.2), name="echo")
    for url in serve(ResponsesChannel(), WebChatChannel(), agent=agent):
        page.goto(url + "/")
        partial = stop_mid_answer(page, "another long question that takes a while to answer word by word")
        page.reload()
        assert page.locator(".message").all_inner_texts() == [
            "another long question that takes a while to answer word by word",
            partial,
        ]
        assert page.locator(".message.assistant[data-state=stopped]").count() == 1
        send(page, "and after the reload?")
        assert answers(page, 1)[-1] == "echo 2: and after the reload?"


# --- messages the host delivers on its own (host.deliver into the page's Conversation) ------------------

ADMIN = "admin-token-0123456789"


def conversation_id(page: Any) -> str:
    return str(page.evaluate("Object.values(localStorage).map(JSON.parse)[0].conversationId"))


def deliver(url: str, conversation: str, text: str) -> None:
    """`host.deliver` from outside the process (POST /admin/deliver) into the page's conversation."""
    body = {"to": f"conversation:{conversation}", "text": text}
    response = httpx.post(url + "/admin/deliver", json=body, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
    assert response.status_code == 200 and response.json()["results"][0]["delivered"], response.text


def delivered_host(chunk_delay: float = 0.0) -> Iterator[str]:
    agent = Agent(client=OfflineChatClient(chunk_delay=chunk_delay), name="echo")
    return serve(ResponsesChannel(), WebChatChannel(), agent=agent, admin_token=ADMIN)


def test_a_message_the_host_delivers_shows_up_in_an_idle_page(page: Any) -> None:
    for url in delivered_host():
        page.goto(url + "/")
        send(page, "hello")
        assert answers(page, 1) == ["echo 1: hello"]
        deliver(url, conversation_id(page), "Your **parcel** arrived.")
        assert answers(page, 2)[1] == "Your parcel arrived."
        page.reload()
        assert page.locator(".message").all_inner_texts() == ["hello", "echo 1: hello", "Your parcel arrived."]
        page.wait_for_timeout(2500)  # a few more polls add nothing
        assert page.locator(".message.assistant").count() == 2
        send(page, "thanks")
        assert answers(page, 3)[2] == "echo 2: thanks", "the agent's history holds the delivered message"


def test_a_message_delivered_during_a_streamed_answer_appears_in_it_as_its_own_message(page: Any) -> None:
    for url in delivered_host(chunk_delay=0.15):
        page.goto(url + "/")
        send(page, "a long question that takes a while to answer word by word")
        page.wait_for_function("() => ((document.querySelector('.message.assistant') || {}).textContent || '').length")
        deliver(url, conversation_id(page), "Meanwhile: your build passed.")
        page.wait_for_function("() => document.querySelectorAll('.message.assistant').length === 2")
        assert page.locator(".message.assistant[data-state=streaming]").count() == 2, "it came while streaming"
        done = answers(page, 2)
        assert done[1] == "Meanwhile: your build passed."
        assert done[0] == "echo 1: a long question that takes a while to answer word by word"
        page.wait_for_timeout(2500)
        assert page.locator(".message.assistant").count() == 2, "polling does not show it twice"
        page.reload()
        assert page.locator(".message.assistant").all_inner_texts() == done


def test_a_message_delivered_while_the_page_was_closed_shows_up_when_it_opens(page: Any) -> None:
    for url in delivered_host():
        page.goto(url + "/")
        send(page, "remind me later")
        answers(page, 1)
        conversation = conversation_id(page)
        page.goto("about:blank")
        deliver(url, conversation, "It is later now.")
        page.goto(url + "/")
        assert answers(page, 2)[1] == "It is later now."
