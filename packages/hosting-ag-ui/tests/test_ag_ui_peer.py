"""The official AG-UI TypeScript client (`@ag-ui/client`, from npm) as the peer, in a small node script.

`./scripts/setup.sh` installs it into tests/peer/node_modules (node and npm come from scripts/system-deps.sh).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))
from ag_ui_helpers import DELETED  # noqa: E402

PEER = Path(__file__).parent / "peer"


def test_the_typescript_client_holds_a_conversation_and_a_second_client_joins_it(
    serve: Any,
) -> None:
    node = shutil.which("node")
    assert node, "node is missing: run scripts/system-deps.sh"
    assert (PEER / "node_modules" / "@ag-ui" / "client").is_dir(), "@ag-ui/client is missing: run ./scripts/setup.sh"
    hosted = serve(real=True)
    finished = subprocess.run(
        [node, "peer.mjs", hosted.url + "/ag-ui"], cwd=PEER, capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 0, finished.stderr
    seen = json.loads(finished.stdout.strip().splitlines()[-1])
    assert seen["first"]["text"] == "echo 1: hello from node"
    assert seen["first"]["types"][0] == "RUN_STARTED" and seen["first"]["types"][-1] == "RUN_FINISHED"
    assert seen["second"]["text"] == "echo 2: second", "the client resent its history; each message counted once"
    assert seen["asked"]["calls"][0]["name"] == "get_weather"
    assert seen["asked"]["calls"][0]["args"] == {"city": "Oslo"}
    assert seen["answered"]["text"] == "tool said: sunny in Oslo"
    assert seen["messages"] == ["user", "assistant", "user", "assistant", "user", "assistant", "tool", "assistant"]
    joined = seen["joined"]["types"]
    assert joined[0] == "RUN_STARTED" and "MESSAGES_SNAPSHOT" in joined and joined[-1] == "RUN_FINISHED"
    assert "TEXT_MESSAGE_START" not in joined, "nothing new: the agent did not run"
    assert seen["joined"]["roles"] == seen["messages"], "the joining client holds the whole conversation"
    assert seen["joined"]["text"] == "echo 4: joined", "the snapshot it sent back was not added again"
    approval = seen["approval"]
    assert approval["outcome"] == "interrupt" and approval["pending"][0]["reason"] == "tool_approval"
    assert approval["text"] == "tool said: deleted /tmp/node" and approval["left"] == 0
    assert "/tmp/node" in DELETED
    reasoning = seen["reasoning"]
    assert reasoning["thought"] == "Let me think about in node" and reasoning["encrypted"] == 1
    assert "reasoning" in reasoning["roles"] and reasoning["roles"][-1] == "assistant"
