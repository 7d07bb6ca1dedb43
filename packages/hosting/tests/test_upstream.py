"""The private agent-framework-core names the host relies on (all in `_upstream`): fail loudly if upstream moves."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from agent_framework import FileCheckpointStorage, Message, WorkflowBuilder
from agent_framework_hosting import _upstream

from .workflows import Counter, build_counter


def test_checkpoint_values_round_trip_through_cores_encoding() -> None:
    value = {
        "when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        "messages": [Message(role="user", contents=["hi"])],
    }
    encoded = _upstream.encode_checkpoint_value(value)
    assert isinstance(encoded, dict)
    decoded = _upstream.decode_checkpoint_value(encoded, allowed_types=None)
    assert decoded["when"] == value["when"]
    assert decoded["messages"][0].text == "hi"


def test_a_workflow_says_whether_it_was_built_with_its_own_checkpoint_storage(tmp_path: Path) -> None:
    assert _upstream.workflow_has_checkpointing(build_counter()) is False
    own = WorkflowBuilder(
        start_executor=Counter(), name="c", checkpoint_storage=FileCheckpointStorage(tmp_path)
    ).build()
    assert _upstream.workflow_has_checkpointing(own) is True


def test_no_other_module_imports_private_core_names() -> None:
    sources = Path(_upstream.__file__).parent
    offenders = [
        path.name
        for path in sources.glob("*.py")
        if path.name != "_upstream.py" and ("agent_framework._" in path.read_text() or "._runner" in path.read_text())
    ]
    assert offenders == []
