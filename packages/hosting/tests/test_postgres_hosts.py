"""Several host processes sharing one PostgreSQL database act as one host: the Redis scale-out tests, on PostgreSQL."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from redis_server import HostProcess, host_processes  # noqa: E402

from .conftest import postgres_url
from .test_redis_hosts import (  # noqa: F401  (collected here again, against PostgreSQL)
    test_a_conversation_alternating_between_processes_keeps_its_history,
    test_a_duplicate_update_delivered_to_both_processes_is_answered_once,
    test_a_process_killed_mid_turn_frees_the_session_when_its_lease_expires,
    test_a_process_stalled_past_its_lease_cannot_overwrite_newer_turns,
    test_concurrent_turns_for_one_key_on_both_processes_run_one_at_a_time,
)


@pytest.fixture(scope="module")
def state(postgres: Any) -> str:
    return postgres_url(postgres, lock_ttl=2.0)


@pytest.fixture(scope="module")
def hosts(state: str) -> Iterator[list[HostProcess]]:
    with host_processes(state, 2) as started:
        yield started
