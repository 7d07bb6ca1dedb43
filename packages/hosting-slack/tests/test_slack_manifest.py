"""The packaged app manifest asks for exactly what the channel uses and points at its routes."""

from __future__ import annotations

import yaml
from agent_framework_hosting_slack import app_manifest
from slack_kit import make_channel, make_host
from starlette.routing import Route


def test_the_manifest_subscribes_to_the_events_the_channel_handles_with_the_scopes_they_need() -> None:
    manifest = yaml.safe_load(app_manifest())
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert events == {
        "app_mention",
        "assistant_thread_started",
        "message.channels",
        "message.groups",
        "message.im",
        "message.mpim",
    }
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    needed = {
        "app_mentions:read",
        "assistant:write",
        "chat:write",
        "commands",
        "files:read",
        "channels:history",
        "groups:history",
        "im:history",
        "mpim:history",
    }
    assert scopes == needed
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/reset", "/stop"]


def test_its_request_urls_are_the_channels_routes() -> None:
    manifest = yaml.safe_load(app_manifest("https://bot.example.com/"))
    urls = {
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"]),
    }
    assert urls == {
        "https://bot.example.com/slack/events",
        "https://bot.example.com/slack/interactions",
        "https://bot.example.com/slack/commands",
    }
    app = make_host(make_channel(None)).app
    paths = {route.path for route in app.routes if isinstance(route, Route)}
    mounted = {
        f"{mount.path}{route.path}"
        for mount in app.routes
        if hasattr(mount, "routes") and not isinstance(mount, Route)
        for route in mount.routes
    }
    for url in urls:
        assert url.removeprefix("https://bot.example.com") in paths | mounted
