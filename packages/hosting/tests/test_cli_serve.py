"""`agent-framework-host serve` end to end: the real command on a free port, talked to with httpx and the openai SDK."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from agent_framework_hosting.testing import free_port, running_server, wait_for_port
from openai import OpenAI

from .fake_openai import FakeOpenAI

SCRIPT = Path(sys.executable).with_name("agent-framework-host")
CHANNEL_VARIABLES = ("OPENAI_", "TELEGRAM_", "DISCORD_", "BOT_", "RESPONSES_", "PORT")


@dataclass
class Served:
    url: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    @property
    def banner(self) -> str:
        return self.stdout.read_text()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    started: list[Served] = []

    def start(*argv: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Served:
        port = free_port()
        environ = {k: v for k, v in os.environ.items() if not k.startswith(CHANNEL_VARIABLES)}
        environ.update(env or {})
        out, err = tmp_path / f"stdout-{port}.txt", tmp_path / f"stderr-{port}.txt"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                [str(SCRIPT), "serve", "--port", str(port), *argv],
                cwd=cwd or tmp_path,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
        served = Served(f"http://127.0.0.1:{port}", process, out, err)
        started.append(served)
        try:
            wait_for_port(port, timeout=30)
        except TimeoutError:
            process.kill()
            raise AssertionError(f"the host did not start: {err.read_text()}") from None
        return served

    yield start
    for served in started:
        stop(served)


def stop(served: Served) -> int:
    if served.process.poll() is None:
        served.process.send_signal(signal.SIGTERM)
        try:
            served.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait(timeout=5)
    return served.process.returncode


def sse_events(response: httpx.Response) -> Iterator[tuple[float, dict[str, object]]]:
    """(arrival time, payload) for each event of a streamed Responses answer, as curl -N would see them."""
    for line in response.iter_lines():
        if line.startswith("data: "):
            yield time.monotonic(), json.loads(line[len("data: ") :])


def test_the_demo_serves_the_web_chat_responses_and_invocations(serve: object) -> None:
    served = serve()  # type: ignore[operator]
    banner = served.banner
    assert f"  responses          {served.url}/responses" in banner
    assert f"  invocations        {served.url}/invocations" in banner
    assert f"  webchat            {served.url}/" in banner
    assert f"curl -N {served.url}/responses" in banner
    with httpx.Client(base_url=served.url, timeout=30) as http:
        page = http.get("/")
        assert page.status_code == 200 and '<meta name="responses-url" content="/responses">' in page.text
        invocation = http.post("/invocations", json={"message": "what is 12 * 7?"})
        assert invocation.json()["response"] == "12 * 7 = 84 (worked out by the calculate tool)."
        with http.stream("POST", "/responses", json={"model": "demo", "input": "hello", "stream": True}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = list(sse_events(response))
    kinds = [payload["type"] for _, payload in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    deltas = [(at, payload["delta"]) for at, payload in events if payload["type"] == "response.output_text.delta"]
    assert len(deltas) > 20
    assert "".join(delta for _, delta in deltas).startswith("Hello! I'm the offline demo model")
    assert deltas[-1][0] - deltas[0][0] > 0.3, "the answer arrived all at once, not streamed"


def test_the_openai_sdk_streams_and_chains_answers(serve: object) -> None:
    served = serve()  # type: ignore[operator]
    client = OpenAI(base_url=served.url + "/v1", api_key="unused", timeout=30, max_retries=0)
    deltas: list[str] = []
    with client.responses.create(model="demo", input="my name is Ada", stream=True) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
            elif event.type == "response.completed":
                first = event.response
    assert len(deltas) > 10
    assert first.output_text == "".join(deltas)
    assert first.output_text.startswith("Nice to meet you, Ada!")
    second = client.responses.create(model="demo", input="what is my name?", previous_response_id=first.id)
    assert second.output_text.startswith("Your name is Ada.")
    assert stop(served) == 0


def test_the_demo_uses_a_real_model_when_openai_settings_are_set(serve: object) -> None:
    fake = FakeOpenAI(chunk_delay=0.01)
    with running_server(fake.app) as fake_url:
        served = serve(env={"OPENAI_BASE_URL": fake_url + "/v1", "OPENAI_MODEL": "tiny"})  # type: ignore[operator]
        assert f"model: tiny at {fake_url}/v1 (Chat Completions)" in served.banner
        client = OpenAI(base_url=served.url, api_key="unused", timeout=30, max_retries=0)
        with client.responses.stream(model="demo", input="hi there") as stream:
            text = "".join(event.delta for event in stream if event.type == "response.output_text.delta")
    assert text == "fake tiny: 1 user message(s), last: hi there"
    assert fake.requests[-1]["headers"]["authorization"] == "Bearer not-needed"


def test_a_target_with_a_state_dir_keeps_conversations_across_restarts(serve: object, tmp_path: Path) -> None:
    (tmp_path / "echo_target.py").write_text(
        "from agent_framework import Agent\n"
        "from agent_framework_hosting.testing import OfflineChatClient\n"
        "agent = Agent(client=OfflineChatClient(), name='echo')\n"
    )
    argv = ("echo_target:agent", "--channel", "invocations", "--state-dir", str(tmp_path / "state"))
    first = serve(*argv, cwd=tmp_path)  # type: ignore[operator]
    assert "serving echo_target:agent (agent 'echo')" in first.banner
    before = httpx.post(first.url + "/invocations", json={"message": "one", "session_id": "s"}, timeout=30).json()
    assert stop(first) == 0
    second = serve(*argv, cwd=tmp_path)  # type: ignore[operator]
    after = httpx.post(second.url + "/invocations", json={"message": "two", "session_id": "s"}, timeout=30).json()
    assert (before["response"], after["response"]) == ("echo 1: one", "echo 2: two")


# -- a third-party channel package, found through its entry point --------------------------------------

CHANNEL_MODULE = textwrap.dedent(
    '''
    """A tiny channel: POST {"text": ...} to its path answers {"answer": ...}, prefixed from the environment."""

    from agent_framework_hosting import ChannelContribution, ChannelRequest, ChannelSession
    from agent_framework_hosting.plugins import ChannelPlugin, ChannelSetting
    from starlette.responses import JSONResponse
    from starlette.routing import Route


    class ShoutChannel:
        def __init__(self, *, prefix, path="/shout"):
            self.name = "shout"
            self.path = path
            self.prefix = prefix

        def contribute(self, context):
            async def post(request):
                body = await request.json()
                turn = ChannelRequest(
                    channel=self.name, operation="message", input=body["text"], session=ChannelSession(body.get("key"))
                )
                result = await context.run(turn)
                return JSONResponse({"answer": f"{self.prefix}{result.text.upper()}", "ran": result.request.channel})

            return ChannelContribution(routes=[Route("/", post, methods=["POST"])])


    PLUGIN = ChannelPlugin(
        name="shout",
        channel=ShoutChannel,
        title="Shout",
        settings=(ChannelSetting("SHOUT_PREFIX", "prefix", required=True), ChannelSetting("SHOUT_PATH", "path")),
        note="answers in capitals",
        example="curl {url} -d '{{\\"text\\": \\"hi\\"}}'",
    )
    '''
)


def install_shout(site: Path) -> None:
    """A distribution 'shout-channel' installed into `site`: its module and its dist-info with the entry point."""
    (site / "shout_channel.py").write_text(CHANNEL_MODULE)
    info = site / "shout_channel-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shout-channel\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[agent_framework_hosting.channels]\nshout = shout_channel:PLUGIN\n")


def test_a_third_party_channel_package_is_discovered_configured_and_served(serve: object, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_shout(site)
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]), "SHOUT_PREFIX": ">>"}
    served = serve("--channel", "shout", "--channel", "invocations", env=env)  # type: ignore[operator]
    banner = served.banner
    assert f"  shout              {served.url}/shout  (answers in capitals)" in banner
    assert f"  invocations        {served.url}/invocations" in banner
    with httpx.Client(base_url=served.url, timeout=30) as http:
        answer = http.post("/shout", json={"text": "what is 12 * 7?", "key": "k"})
    assert answer.json() == {"answer": ">>12 * 7 = 84 (WORKED OUT BY THE CALCULATE TOOL).", "ran": "shout"}
    assert stop(served) == 0


def test_a_third_party_channel_without_its_settings_is_skipped_with_the_reason(serve: object, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_shout(site)
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    served = serve(env=env)  # type: ignore[operator]
    assert "  shout              needs SHOUT_PREFIX" in served.banner
    with httpx.Client(base_url=served.url, timeout=30) as http:
        assert http.post("/shout", json={"text": "hi"}).status_code in (404, 405)


def test_deliver_sends_into_a_conversation_of_a_running_host(serve: object) -> None:
    token = "admin-token-0123456789"
    served = serve("--channel", "responses", env={"AFH_ADMIN_TOKEN": token})  # type: ignore[operator]
    client = OpenAI(base_url=served.url + "/v1", api_key="unused", max_retries=0)
    conversation = client.conversations.create()
    client.responses.create(model="demo", input="hello", conversation=conversation.id)
    key = f"conversation:{conversation.id}"

    def deliver(*argv: str, token: str | None = token) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if k != "AFH_ADMIN_TOKEN"}
        if token is not None:
            environ["AFH_ADMIN_TOKEN"] = token
        command = [str(SCRIPT), "deliver", "--url", served.url, *argv]
        return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=60)

    sent = deliver("--to", key, "--text", "Your order has shipped.")
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)[0]["delivered"] is True
    items = client.conversations.items.list(conversation.id, order="asc")
    assert [item.content[0].text for item in items.data if item.role == "assistant"][-1] == "Your order has shipped."
    unknown = deliver("--to", "conversation:conv_missing", "--text", "x")
    assert unknown.returncode == 2 and "no conversation" in unknown.stdout
    denied = deliver("--to", key, "--text", "x", token="wrong-token-0123456789")
    assert denied.returncode == 1 and "401" in denied.stderr
