"""The Starlette app: readiness, mounting channel routes, lifespan callbacks, serving."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost, Channel, ChannelContext, ChannelContribution
from agent_framework_hosting._errors import StartupError
from agent_framework_hosting.testing import JsonChannel, OfflineChatClient, running_server
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send


class RouteChannel:
    def __init__(self, name: str, path: str, *, startup=(), shutdown=()) -> None:
        self.name = name
        self.path = path
        self.startup = startup
        self.shutdown = shutdown
        self.contexts: list[ChannelContext] = []

    def contribute(self, context: ChannelContext) -> ChannelContribution:
        self.contexts.append(context)

        async def root(request: Request) -> PlainTextResponse:
            return PlainTextResponse(f"{self.name} root {request.method}")

        async def item(request: Request) -> PlainTextResponse:
            return PlainTextResponse(f"{self.name} item {request.path_params['id']}")

        return ChannelContribution(
            routes=[Route("/", root, methods=["GET", "POST"]), Route("/items/{id}", item)],
            on_startup=self.startup,
            on_shutdown=self.shutdown,
        )


def test_readiness_answers_ok(agent: Agent) -> None:
    with TestClient(AgentFrameworkHost(agent, channels=[]).app) as client:
        response = client.get("/readiness")
    assert (response.status_code, response.text) == (200, "ok")


def test_post_to_exactly_the_channel_path_reaches_its_root_route_without_a_redirect(agent: Agent) -> None:
    host = AgentFrameworkHost(agent, channels=[RouteChannel("a", "/alpha")])
    with TestClient(host.app) as client:
        exact = client.post("/alpha", follow_redirects=False)
        slash = client.post("/alpha/", follow_redirects=False)
        item = client.get("/alpha/items/7")
    assert (exact.status_code, exact.text) == (200, "a root POST")
    assert (slash.status_code, slash.text) == (200, "a root POST")
    assert item.text == "a item 7"


class ContributedChannel:
    """A channel contributing exactly `routes`."""

    def __init__(self, name: str, path: str, routes: list[BaseRoute]) -> None:
        self.name, self.path, self.routes = name, path, routes

    def contribute(self, context: ChannelContext) -> ChannelContribution:
        return ChannelContribution(routes=self.routes)


def _text(text: str) -> Callable[[Request], Awaitable[PlainTextResponse]]:
    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse(text)

    return endpoint


class Forbid:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("forbidden", status_code=403)(scope, receive, send)


def test_a_channel_route_keeps_its_own_middleware_at_its_full_path(agent: Agent) -> None:
    admin = Route("/admin", _text("admin"), middleware=[Middleware(Forbid)])
    host = AgentFrameworkHost(agent, channels=[ContributedChannel("c", "/c", [admin])])
    with TestClient(host.app) as client:
        assert client.get("/c/admin").status_code == 403


def test_a_channel_route_after_a_path_parameter_is_matched_in_the_channels_order(agent: Agent) -> None:
    routes = [Route("/ping", _text("ping")), Route("/{item}", _text("item")), Route("/export", _text("export"))]
    host = AgentFrameworkHost(agent, channels=[ContributedChannel("c", "/c", routes)])
    with TestClient(host.app) as client:
        assert client.get("/c/ping").text == "ping"
        assert client.get("/c/export").text == "item", "the channel listed /{item} first"


def test_a_channel_with_an_empty_path_mounts_at_the_root(agent: Agent) -> None:
    host = AgentFrameworkHost(agent, channels=[RouteChannel("r", "")])
    with TestClient(host.app) as client:
        assert client.get("/").text == "r root GET"
        assert client.get("/items/x").text == "r item x"
        assert client.get("/readiness").text == "ok", "a root channel must not shadow readiness"


def test_app_is_built_once_and_each_channel_contributes_once(agent: Agent) -> None:
    channel = RouteChannel("a", "/a")
    host = AgentFrameworkHost(agent, channels=[channel])
    assert host.app is host.app
    assert len(channel.contexts) == 1 and channel.contexts[0].target is agent


def test_duplicate_channel_names_or_paths_are_refused(agent: Agent) -> None:
    with pytest.raises(ValueError, match="named"):
        AgentFrameworkHost(agent, channels=[RouteChannel("a", "/a"), RouteChannel("a", "/b")])
    with pytest.raises(ValueError, match="mounted"):
        AgentFrameworkHost(agent, channels=[RouteChannel("a", "/a"), RouteChannel("b", "/a")])
    with pytest.raises(TypeError, match="not a Channel"):
        AgentFrameworkHost(agent, channels=[object()])  # type: ignore[list-item]


def test_every_startup_callback_runs_and_the_first_failure_stops_the_server(agent: Agent, caplog) -> None:
    calls: list[str] = []

    async def ok() -> None:
        calls.append("ok")

    async def boom() -> None:
        calls.append("boom")
        raise RuntimeError("first")

    async def boom2() -> None:
        calls.append("boom2")
        raise ValueError("second")

    host = AgentFrameworkHost(
        agent, channels=[RouteChannel("a", "/a", startup=(boom, ok)), RouteChannel("b", "/b", startup=(boom2,))]
    )
    with pytest.raises(RuntimeError, match="first"):
        with TestClient(host.app):
            pass
    assert calls == ["boom", "ok", "boom2"]
    assert isinstance(host.startup_error, StartupError)
    assert str(host.startup_error) == (
        "channel 'a' failed to start: RuntimeError: first; channel 'b' failed to start: ValueError: second"
    )


def test_every_shutdown_callback_runs_even_when_one_fails(agent: Agent) -> None:
    calls: list[str] = []

    async def fail() -> None:
        calls.append("fail")
        raise RuntimeError("shutdown failed")

    async def ok() -> None:
        calls.append("ok")

    host = AgentFrameworkHost(agent, channels=[RouteChannel("a", "/a", shutdown=(fail, ok))])
    with pytest.raises(RuntimeError, match="shutdown failed"):
        with TestClient(host.app):
            assert calls == []
    assert calls == ["fail", "ok"]


def test_seed_quickstart_runs_with_the_offline_client() -> None:
    agent = OfflineChatClient().as_agent(name="Assistant")
    channels: list[Channel] = [JsonChannel()]
    host = AgentFrameworkHost(target=agent, channels=channels)
    with TestClient(host.app) as client:
        assert client.post("/json", json={"text": "hi", "key": "u"}).json() == {"text": "echo 1: hi"}
        assert client.post("/json", json={"text": "again", "key": "u"}).json() == {"text": "echo 2: again"}


def test_the_app_serves_under_hypercorn_on_a_real_socket(agent: Agent) -> None:
    host = AgentFrameworkHost(agent, channels=[JsonChannel()])
    with running_server(host.app) as url:
        assert httpx.get(f"{url}/readiness").text == "ok"
        with httpx.stream(
            "POST", f"{url}/json", json={"text": "one two three", "key": "k", "stream": True}
        ) as response:
            chunks = list(response.iter_text())
        assert "".join(chunks) == "echo 1: one two three"
        assert httpx.post(f"{url}/json", json={"text": "x", "key": "k"}).json() == {"text": "echo 2: x"}


def test_bad_input_to_the_minimal_channel_is_a_4xx(agent: Agent) -> None:
    with TestClient(AgentFrameworkHost(agent, channels=[JsonChannel()]).app) as client:
        assert client.post("/json", content=b"{not json").status_code == 400
        assert client.post("/json", json=["a"]).status_code == 400
        assert client.post("/json", json={"text": 3}).status_code == 400
        assert client.post("/json", content=b"x" * (1024 * 1024 + 1)).status_code == 413


def test_serve_without_hypercorn_names_the_extra(agent: Agent, monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_hypercorn(name, *args, **kwargs):
        if name.startswith("hypercorn"):
            raise ImportError("no hypercorn")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_hypercorn)
    with pytest.raises(RuntimeError, match=r"agent-framework-hosting\[serve\]"):
        AgentFrameworkHost(agent, channels=[]).serve(port=1)


def _isolation_app(agent: Agent):
    from agent_framework_hosting import get_current_isolation_keys

    class Probe:
        name = "probe"
        path = "/probe"

        def contribute(self, context: ChannelContext) -> ChannelContribution:
            async def show(request: Request) -> PlainTextResponse:
                keys = get_current_isolation_keys()
                return PlainTextResponse("none" if keys is None else f"{keys.user_key}|{keys.chat_key}")

            return ChannelContribution(routes=[Route("/", show)])

    return AgentFrameworkHost(agent, channels=[Probe()]).app


def test_foundry_isolation_headers_are_read_only_inside_foundry(agent: Agent, monkeypatch) -> None:
    headers = {"x-agent-user-isolation-key": "u1", "x-agent-chat-isolation-key": "c1"}
    monkeypatch.delenv("FOUNDRY_HOSTING_ENVIRONMENT", raising=False)
    with TestClient(_isolation_app(agent)) as client:
        assert client.get("/probe", headers=headers).text == "none"
    monkeypatch.setenv("FOUNDRY_HOSTING_ENVIRONMENT", "production")
    with TestClient(_isolation_app(agent)) as client:
        assert client.get("/probe", headers=headers).text == "u1|c1"
        assert client.get("/probe", headers={"x-agent-chat-isolation-key": "c2"}).text == "None|c2"
        assert client.get("/probe").text == "none"


def test_root_routes_are_added_at_the_app_root(agent: Agent) -> None:
    class WithAliases:
        name = "aliases"
        path = "/things"

        def contribute(self, context: ChannelContext) -> ChannelContribution:
            async def thing(request: Request) -> PlainTextResponse:
                return PlainTextResponse(request.url.path)

            return ChannelContribution(
                routes=[Route("/", thing)], root_routes=[Route("/v1/things", thing), Route("/liveness", thing)]
            )

    class AlsoLiveness(RouteChannel):
        def contribute(self, context: ChannelContext) -> ChannelContribution:
            return ChannelContribution(root_routes=[Route("/liveness", lambda r: PlainTextResponse("second"))])

    with TestClient(AgentFrameworkHost(agent, channels=[WithAliases(), AlsoLiveness("b", "/b")]).app) as client:
        assert client.get("/things").text == "/things"
        assert client.get("/v1/things").text == "/v1/things"
        assert client.get("/liveness").text == "/liveness", "the first channel to serve /liveness keeps it"

    class Clash(RouteChannel):
        def contribute(self, context: ChannelContext) -> ChannelContribution:
            return ChannelContribution(root_routes=[Route("/v1/things", lambda r: PlainTextResponse("clash"))])

    with pytest.raises(ValueError, match="already served"):
        _ = AgentFrameworkHost(agent, channels=[WithAliases(), Clash("c", "/c")]).app
