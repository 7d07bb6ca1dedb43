"""Fixtures: the fake Slack server and a request signer."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from slack_fake import FakeSlack, Signer, fake_slack  # noqa: E402


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with fake_slack() as fake:
        yield fake


@pytest.fixture
def signer() -> Signer:
    return Signer()
