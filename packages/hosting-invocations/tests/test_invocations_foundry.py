"""Inside a Foundry container (FOUNDRY_HOSTING_ENVIRONMENT set before the app is built) the isolation headers count."""

from __future__ import annotations

from typing import Any

import pytest

USER = "x-agent-user-isolation-key"
CHAT = "x-agent-chat-isolation-key"


@pytest.fixture
def hosted_in_foundry(monkeypatch: pytest.MonkeyPatch, serve: Any) -> Any:
    monkeypatch.setenv("FOUNDRY_HOSTING_ENVIRONMENT", "production")
    return serve()


def ask(client: Any, message: str, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/invocations", json={"message": message, **body}, headers=headers)


def test_isolation_headers_continue_a_conversation_without_a_session_id(hosted_in_foundry: Any) -> None:
    client = hosted_in_foundry.client
    headers = {USER: "user-1", CHAT: "chat-1"}
    assert ask(client, "one", headers).json() == {"response": "echo 1: one", "session_id": None}
    assert ask(client, "two", headers).json() == {"response": "echo 2: two", "session_id": None}


def test_a_chat_key_alone_names_a_conversation(hosted_in_foundry: Any) -> None:
    client = hosted_in_foundry.client
    ask(client, "one", {CHAT: "chat-only"})
    assert ask(client, "two", {CHAT: "chat-only"}).json()["response"] == "echo 2: two"


def test_streamed_turns_follow_the_isolation_headers_too(hosted_in_foundry: Any, sse: Any) -> None:
    client = hosted_in_foundry.client
    ask(client, "one", {CHAT: "c-stream"}, stream=True)
    frames = sse(ask(client, "two", {CHAT: "c-stream"}, stream=True).text)
    assert frames[-2].json()["response"] == "echo 2: two"


def test_each_chat_of_a_user_is_its_own_conversation(hosted_in_foundry: Any) -> None:
    client = hosted_in_foundry.client
    ask(client, "one", {USER: "u", CHAT: "c1"})
    assert ask(client, "other", {USER: "u", CHAT: "c2"}).json()["response"] == "echo 1: other"
    assert ask(client, "two", {USER: "u", CHAT: "c1"}).json()["response"] == "echo 2: two"


def test_without_session_id_or_headers_there_is_no_continuity_in_foundry(hosted_in_foundry: Any) -> None:
    client = hosted_in_foundry.client
    ask(client, "one", {})
    assert ask(client, "two", {}).json()["response"] == "echo 1: two"


def test_a_session_id_is_scoped_to_the_user_who_started_it(hosted_in_foundry: Any) -> None:
    client = hosted_in_foundry.client
    ask(client, "alice's secret", {USER: "alice"}, session_id="shared")
    bob = ask(client, "peek", {USER: "bob"}, session_id="shared")
    assert bob.json() == {"response": "echo 1: peek", "session_id": "shared"}
    assert ask(client, "again", {USER: "alice"}, session_id="shared").json()["response"] == "echo 2: again"


def test_the_user_key_is_recorded_as_the_senders_identity(hosted_in_foundry: Any) -> None:
    ask(hosted_in_foundry.client, "hi", {USER: "user-42", CHAT: "chat-9"})
    last_input = hosted_in_foundry.model.calls[-1][-1]
    hosting = last_input.additional_properties["hosting"]
    assert hosting["channel"] == "invocations"
    assert hosting["identity"] == {
        "channel": "invocations",
        "native_id": "user-42",
        "attributes": {"chat_isolation_key": "chat-9"},
    }


@pytest.mark.parametrize("headers", [{USER: "has space"}, {CHAT: "x" * 257}, {USER: "ok", CHAT: "sl/ash"}])
def test_malformed_isolation_headers_are_refused_without_running_the_agent(
    hosted_in_foundry: Any, headers: dict[str, str]
) -> None:
    response = ask(hosted_in_foundry.client, "hi", headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert hosted_in_foundry.model.calls == []


def test_outside_foundry_the_isolation_headers_are_ignored(monkeypatch: pytest.MonkeyPatch, serve: Any) -> None:
    monkeypatch.delenv("FOUNDRY_HOSTING_ENVIRONMENT", raising=False)
    hosted = serve()
    headers = {USER: "user-1", CHAT: "chat-1"}
    ask(hosted.client, "one", headers)
    assert ask(hosted.client, "two", headers).json()["response"] == "echo 1: two"
    assert ask(hosted.client, "bad", {USER: "not valid"}).status_code == 200
    assert "identity" not in hosted.model.calls[-1][-1].additional_properties["hosting"]
