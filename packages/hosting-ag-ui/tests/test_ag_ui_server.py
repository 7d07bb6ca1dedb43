"""Against a real server: threads in parallel, one thread serialised, history that survives a restart on a folder."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, os.path.dirname(__file__))
from ag_ui_helpers import events_of, run_input, text_of, types_of, user  # noqa: E402

LONG = " ".join(f"w{n}" for n in range(30))


async def post_run(url: str, body: dict[str, Any]) -> list[Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(url + "/ag-ui", json=body)
    assert response.status_code == 200
    return events_of(response.text)


async def test_two_threads_run_in_parallel(serve: Any) -> None:
    hosted = serve(chunk_delay=0.03, real=True)
    results = await asyncio.gather(
        post_run(hosted.url, run_input("a", [user(LONG, "u1")])),
        post_run(hosted.url, run_input("b", [user(LONG, "u1")])),
    )
    assert [text_of(events) for events in results] == [f"echo 1: {LONG}"] * 2
    assert hosted.model.most_active == 2


async def test_one_thread_runs_one_at_a_time_and_adds_each_message_once(serve: Any) -> None:
    hosted = serve(chunk_delay=0.03, real=True)
    results = await asyncio.gather(
        post_run(hosted.url, run_input("same", [user("first " + LONG, "u1")], runId="r1")),
        post_run(hosted.url, run_input("same", [user("first " + LONG, "u1"), user("second", "u2")], runId="r2")),
    )
    assert hosted.model.most_active == 1
    texts = sorted(text_of(events) for events in results)
    assert all(types_of(events)[-1] == "RUN_FINISHED" for events in results)
    users = [m.text for m in hosted.model.calls[-1] if m.role == "user"]
    assert sorted(users) == sorted(["first " + LONG, "second"]), users
    assert texts[0].startswith("echo ")


async def test_stream_events_arrive_while_the_agent_is_still_answering(serve: Any) -> None:
    hosted = serve(chunk_delay=0.05, real=True)
    async with httpx.AsyncClient(timeout=30) as client:
        async with client.stream("POST", hosted.url + "/ag-ui", json=run_input("live", [user(LONG, "u1")])) as response:
            async for line in response.aiter_lines():
                if "TEXT_MESSAGE_CONTENT" in line:
                    assert hosted.model.active == 1
                    break


async def test_a_thread_survives_a_restart_on_a_folder(serve: Any, tmp_path: Path) -> None:
    first = serve(real=True, host_options={"state_dir": str(tmp_path)})
    events = await post_run(first.url, run_input("keep", [user("my name is Ada", "u1")], state={"step": 1}))
    assert text_of(events) == "echo 1: my name is Ada"
    second = serve(real=True, host_options={"state_dir": str(tmp_path)})
    history = [user("my name is Ada", "u1"), {"id": events[2].message_id, "role": "assistant", "content": "x"}]
    again = await post_run(second.url, run_input("keep", [*history, user("who am I?", "u2")]))
    assert again[1].snapshot == {"step": 1}
    assert text_of(again) == "echo 2: who am I?"
