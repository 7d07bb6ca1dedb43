"""Fixtures: the fake Bot API server."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
from agent_framework_hosting.testing import running_server

sys.path.insert(0, os.path.dirname(__file__))
from telegram_fake import FakeBotApi  # noqa: E402


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    api = FakeBotApi()
    with running_server(api.app) as url:
        api.url = url
        yield api
