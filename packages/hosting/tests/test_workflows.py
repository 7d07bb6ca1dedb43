"""Workflow targets: one workflow per conversation, checkpoints per isolation key, human-in-the-loop."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from agent_framework import FileCheckpointStorage, InMemoryCheckpointStorage, WorkflowBuilder
from agent_framework_hosting import AgentFrameworkHost, HostStatePaths

from .conftest import turn
from .workflows import Counter, build_counter, counter_builder


def texts(result) -> str:
    return result.text


async def test_a_factory_gives_each_conversation_its_own_workflow() -> None:
    host = AgentFrameworkHost(build_counter, channels=[])
    assert texts(await host.context.run(turn("a", "alice"))) == "1: a"
    assert texts(await host.context.run(turn("b", "alice"))) == "2: b"
    assert texts(await host.context.run(turn("c", "bob"))) == "1: c", "bob must not see alice's workflow state"


async def test_a_workflow_builder_is_accepted_as_a_target() -> None:
    host = AgentFrameworkHost(counter_builder(), channels=[])
    assert texts(await host.context.run(turn("a", "k"))) == "1: a"
    assert texts(await host.context.run(turn("b", "k"))) == "2: b"


async def test_checkpoints_resume_a_conversation_across_a_restart(tmp_path: Path) -> None:
    first = AgentFrameworkHost(build_counter, channels=[], checkpoint_location=tmp_path)
    await first.context.run(turn("a", "alice"))
    await first.context.run(turn("b", "alice"))
    await first.context.run(turn("x", "bob"))
    second = AgentFrameworkHost(build_counter, channels=[], checkpoint_location=tmp_path)
    assert texts(await second.context.run(turn("c", "alice"))) == "3: c"
    assert texts(await second.context.run(turn("y", "bob"))) == "2: y"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alice", "bob"]


async def test_state_dir_derives_the_checkpoint_folder_for_workflows(tmp_path: Path) -> None:
    host = AgentFrameworkHost(build_counter, channels=[], state_dir=tmp_path)
    await host.context.run(turn("a", "telegram:42"))
    assert (tmp_path / "checkpoints" / "telegram%3A42").is_dir()
    again = AgentFrameworkHost(build_counter, channels=[], state_dir=tmp_path)
    assert texts(await again.context.run(turn("b", "telegram:42"))) == "2: b"


async def test_isolation_keys_cannot_escape_the_checkpoint_folder(tmp_path: Path) -> None:
    host = AgentFrameworkHost(build_counter, channels=[], checkpoint_location=tmp_path / "cp")
    await host.context.run(turn("a", "../../etc"))
    assert [p.name for p in (tmp_path / "cp").iterdir()] == ["..%2F..%2Fetc"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cp"]


async def test_a_shared_checkpoint_storage_is_scoped_per_isolation_key() -> None:
    storage = InMemoryCheckpointStorage()
    first = AgentFrameworkHost(build_counter, channels=[], checkpoint_location=storage)
    await first.context.run(turn("a", "alice"))
    await first.context.run(turn("b", "alice"))
    second = AgentFrameworkHost(build_counter, channels=[], checkpoint_location=storage)
    assert texts(await second.context.run(turn("x", "bob"))) == "1: x", "bob must not restore alice's checkpoint"
    assert texts(await second.context.run(turn("c", "alice"))) == "3: c"


async def test_reset_session_starts_a_workflow_conversation_over(tmp_path: Path) -> None:
    host = AgentFrameworkHost(build_counter, channels=[], checkpoint_location=tmp_path)
    await host.context.run(turn("a", "k"))
    await host.reset_session_async("k")
    assert texts(await host.context.run(turn("b", "k"))) == "1: b"


async def test_a_bare_workflow_instance_runs_one_turn_at_a_time() -> None:
    host = AgentFrameworkHost(build_counter(), channels=[])
    results = await asyncio.gather(*(host.context.run(turn(f"m{i}", f"user{i}")) for i in range(5)))
    assert sorted(int(texts(r).split(":")[0]) for r in results) == [1, 2, 3, 4, 5]


async def test_pending_requests_are_reported_and_the_next_message_answers_them(tmp_path: Path) -> None:
    host = AgentFrameworkHost(build_counter, channels=[], checkpoint_location=tmp_path)
    await host.context.run(turn("a", "k"))
    question = await host.context.run(turn("ask", "k"))
    assert texts(question) == "what is your name?"
    restarted = AgentFrameworkHost(build_counter, channels=[], checkpoint_location=tmp_path)
    assert texts(await restarted.context.run(turn("Ada", "k"))) == "hello Ada (2)"
    assert texts(await restarted.context.run(turn("b", "k"))) == "3: b"


async def test_human_in_the_loop_works_without_checkpoints() -> None:
    host = AgentFrameworkHost(build_counter, channels=[])
    assert texts(await host.context.run(turn("ask", "k"))) == "what is your name?"
    assert texts(await host.context.run(turn("Ada", "k"))) == "hello Ada (1)"


async def test_streaming_a_workflow_maps_outputs_to_updates(tmp_path: Path) -> None:
    host = AgentFrameworkHost(build_counter, channels=[], checkpoint_location=tmp_path)
    stream = await host.context.run_stream(turn("a", "k"))
    updates = [u async for u in stream]
    assert [u.text for u in updates] == ["1: a"]
    assert updates[0].author_name == "counter" and updates[0].raw_representation.type == "output"
    assert (await stream.get_final_response()).text == "1: a"
    again = await host.context.run_stream(turn("ask", "k"))
    assert [u.text async for u in again] == ["what is your name?"]
    assert texts(await host.context.run(turn("Bo", "k"))) == "hello Bo (2)"


def test_state_dir_mapping_accepts_known_components_only(tmp_path: Path) -> None:
    paths: HostStatePaths = {"sessions": tmp_path / "s", "checkpoints": tmp_path / "c"}
    host = AgentFrameworkHost(build_counter, channels=[], state_dir=paths)
    assert host.state_location == tmp_path / "s"
    for bad in ("runner", "links", "identities"):
        with pytest.raises(ValueError, match="unknown component key"):
            AgentFrameworkHost(build_counter, channels=[], state_dir={"sessions": tmp_path, bad: tmp_path})
    with pytest.raises(TypeError):
        AgentFrameworkHost(build_counter, channels=[], state_dir={"sessions": 42})
    with pytest.raises(TypeError):
        AgentFrameworkHost(build_counter, channels=[], state_dir=42)


async def test_checkpoint_location_wins_over_state_dir_with_a_warning(tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        host = AgentFrameworkHost(
            build_counter, channels=[], state_dir=tmp_path / "state", checkpoint_location=tmp_path / "cp"
        )
    assert "both set" in caplog.text
    await host.context.run(turn("a", "k"))
    assert (tmp_path / "cp" / "k").is_dir() and not (tmp_path / "state" / "checkpoints").exists()


def test_a_workflow_with_its_own_checkpoint_storage_and_a_host_location_is_refused(tmp_path: Path) -> None:
    workflow = WorkflowBuilder(
        start_executor=Counter(), name="c", checkpoint_storage=FileCheckpointStorage(tmp_path / "own")
    ).build()
    with pytest.raises(RuntimeError, match="already has its own checkpoint storage"):
        AgentFrameworkHost(workflow, channels=[], checkpoint_location=tmp_path / "host")


def test_checkpoint_location_on_an_agent_target_is_ignored_with_a_warning(agent, tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        host = AgentFrameworkHost(agent, channels=[], checkpoint_location=tmp_path)
    assert "not a workflow" in caplog.text and host.workflows is None


async def test_a_factory_building_unnamed_workflows_is_warned_about(tmp_path: Path, caplog) -> None:
    host = AgentFrameworkHost(
        lambda: WorkflowBuilder(start_executor=Counter()).build(), channels=[], checkpoint_location=tmp_path
    )
    with caplog.at_level(logging.WARNING):
        await host.context.run(turn("a", "k"))
        await host.context.run(turn("b", "k"))
    assert "give WorkflowBuilder a name=" in caplog.text
