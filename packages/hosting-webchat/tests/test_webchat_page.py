"""The page and its assets: served from package data, self-contained, escaped, locked down."""

from __future__ import annotations

import re

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient
from agent_framework_hosting_webchat import WebChatChannel
from starlette.testclient import TestClient


def client_for(channel: WebChatChannel, name: str = "echo") -> TestClient:
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name=name), channels=[channel])
    return TestClient(host.app)


def test_the_page_is_served_at_the_root_with_its_assets() -> None:
    with client_for(WebChatChannel()) as client:
        page = client.get("/")
        script = client.get("/webchat/app.js")
        style = client.get("/webchat/style.css")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<meta name="responses-url" content="/responses">' in page.text
    assert "<title>echo</title>" in page.text
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "response.output_text.delta" in script.text
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")


def test_nothing_is_loaded_from_anywhere_else() -> None:
    with client_for(WebChatChannel()) as client:
        bodies = [client.get(path).text for path in ("/", "/webchat/app.js", "/webchat/style.css")]
    for body in bodies:
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", body, re.IGNORECASE)


def test_the_page_forbids_inline_and_foreign_code() -> None:
    with client_for(WebChatChannel()) as client:
        headers = client.get("/").headers
    policy = headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert headers["x-content-type-options"] == "nosniff"


def test_title_and_responses_url_are_escaped_into_the_page() -> None:
    channel = WebChatChannel(title='<script>alert("x")</script>', responses_url='/api/responses"><b>')
    with client_for(channel) as client:
        page = client.get("/").text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert 'content="/api/responses&quot;&gt;&lt;b&gt;"' in page


def test_an_absolute_responses_url_is_allowed_as_a_connection_target() -> None:
    with client_for(WebChatChannel(responses_url="https://agents.example.com/responses")) as client:
        policy = client.get("/").headers["content-security-policy"]
    assert "connect-src 'self' https://agents.example.com;" in policy


@pytest.mark.parametrize("path", ["/webchat/index.html", "/webchat/_page.py", "/webchat/..%2F_channel.py", "/webchat/"])
def test_only_the_known_assets_are_served(path: str) -> None:
    with client_for(WebChatChannel()) as client:
        assert client.get(path).status_code == 404


def test_a_page_under_a_path_redirects_to_its_folder_so_assets_resolve() -> None:
    with client_for(WebChatChannel(path="/chat/")) as client:
        redirect = client.get("/chat", follow_redirects=False)
        page = client.get("/chat/")
        script = client.get("/chat/webchat/app.js")
    assert redirect.status_code == 308 and redirect.headers["location"].endswith("/chat/")
    assert page.status_code == 200 and 'src="webchat/app.js"' in page.text
    assert script.status_code == 200


def test_the_page_does_not_answer_posts() -> None:
    with client_for(WebChatChannel()) as client:
        assert client.post("/", json={}).status_code == 405
