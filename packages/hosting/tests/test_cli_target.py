"""TARGET (`module:attribute`): an agent, a workflow, a factory of either, or a ready host."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from agent_framework import Workflow
from agent_framework_hosting import AgentFrameworkHost, ChannelRequest, ChannelSession
from agent_framework_hosting._target import TargetError, load_target
from agent_framework_hosting._workflow import FirstThenBuild
from agent_framework_hosting.testing import JsonChannel

TARGETS = textwrap.dedent(
    """
    from agent_framework import Agent, Executor, WorkflowBuilder, WorkflowContext, handler
    from typing_extensions import Never
    from agent_framework_hosting import AgentFrameworkHost
    from agent_framework_hosting.testing import JsonChannel, OfflineChatClient

    class Shout(Executor):
        def __init__(self):
            super().__init__(id="shout")
            self.seen = 0

        @handler
        async def on_text(self, text: str, ctx: WorkflowContext[Never, str]) -> None:
            self.seen += 1
            await ctx.yield_output(f"{self.seen}: {text.upper()}")

    agent = Agent(client=OfflineChatClient(), name="echo")

    def make_agent():
        return Agent(client=OfflineChatClient(), name="made")

    async def make_agent_async():
        return Agent(client=OfflineChatClient(), name="made-async")

    def build_workflow():
        return WorkflowBuilder(start_executor=Shout(), name="shout").build()

    workflow = build_workflow()
    builder = WorkflowBuilder(start_executor=Shout(), name="shout")
    host = AgentFrameworkHost(agent, channels=[JsonChannel()])

    def make_host():
        return host

    class Holder:
        inner = agent

    number = 42

    def needs_args(model):
        return agent

    def broken():
        raise RuntimeError("no model configured")

    def returns_text():
        return "hello"
    """
)


@pytest.fixture
def targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """Write the targets module under a fresh name; returns a function making 'module:attribute'."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    name = f"cli_targets_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(TARGETS)
    monkeypatch.chdir(tmp_path)
    yield lambda attribute: f"{name}:{attribute}"
    sys.modules.pop(name, None)


def load(spec: str) -> object:
    return load_target(spec, search_path=str(Path.cwd()))


def ask(text: str, key: str) -> ChannelRequest:
    return ChannelRequest(channel="test", operation="message", input=text, session=ChannelSession(key))


def test_an_agent_is_served_as_it_is(targets: Callable[[str], str]) -> None:
    target = load(targets("agent"))
    assert target.kind == "agent" and target.value.name == "echo"


def test_a_dotted_attribute_is_followed(targets: Callable[[str], str]) -> None:
    target = load(targets("Holder.inner"))
    assert target.kind == "agent" and target.value.name == "echo"


def test_a_zero_argument_factory_is_called_once(targets: Callable[[str], str]) -> None:
    target = load(targets("make_agent"))
    assert target.kind == "agent" and target.value.name == "made"


def test_an_async_factory_is_awaited(targets: Callable[[str], str]) -> None:
    target = load(targets("make_agent_async"))
    assert target.kind == "agent" and target.value.name == "made-async"


def test_a_workflow_instance_is_served_as_it_is(targets: Callable[[str], str]) -> None:
    target = load(targets("workflow"))
    assert target.kind == "workflow" and isinstance(target.value, Workflow)


def test_a_workflow_builder_is_served_as_it_is(targets: Callable[[str], str]) -> None:
    target = load(targets("builder"))
    assert target.kind == "workflow" and callable(target.value.build)


async def test_a_workflow_factory_gives_each_conversation_its_own_workflow(targets: Callable[[str], str]) -> None:
    target = load(targets("build_workflow"))
    assert isinstance(target.value, FirstThenBuild)
    host = AgentFrameworkHost(target.value, channels=[JsonChannel()])
    first = await host.context.run(ask("hi", "a"))
    again = await host.context.run(ask("again", "a"))
    other = await host.context.run(ask("hello", "b"))
    assert (first.text, again.text, other.text) == ("1: HI", "2: AGAIN", "1: HELLO")


def test_a_ready_host_is_served_as_it_is(targets: Callable[[str], str]) -> None:
    direct, made = load(targets("host")), load(targets("make_host"))
    assert direct.kind == made.kind == "host"
    assert isinstance(direct.value, AgentFrameworkHost) and made.value is direct.value


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        ("number", "is an int; expected an agent, a workflow"),
        ("Holder", "{spec}() returned a Holder; expected"),
        ("needs_args", "needs arguments; expected"),
        ("broken", "calling {spec}() failed: RuntimeError: no model configured"),
        ("returns_text", "() returned a str; expected"),
        ("missing", "has no attribute 'missing'"),
    ],
)
def test_a_wrong_attribute_is_a_target_error(targets: Callable[[str], str], attribute: str, message: str) -> None:
    spec = targets(attribute)
    with pytest.raises(TargetError) as raised:
        load(spec)
    assert message.format(spec=spec) in str(raised.value)


@pytest.mark.parametrize("spec", ["no_colon_here", ":agent", "module:", ""])
def test_a_target_without_module_and_attribute_is_refused(spec: str) -> None:
    with pytest.raises(TargetError, match="TARGET must look like 'module:attribute'"):
        load(spec)


def test_a_missing_module_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(TargetError, match="cannot import 'no_such_module_here': no module named 'no_such_module_here'"):
        load_target("no_such_module_here:agent", search_path=str(tmp_path))


def test_a_module_that_fails_to_import_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    name = f"cli_needs_dep_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text("import a_dependency_that_is_not_installed\nagent = None\n")
    with pytest.raises(
        TargetError, match=f"importing '{name}' failed: No module named 'a_dependency_that_is_not_installed'"
    ):
        load_target(f"{name}:agent", search_path=str(tmp_path))
