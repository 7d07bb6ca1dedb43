"""One error tree: every exception class the host and its channel packages define derives from HostingError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import agent_framework_hosting
import pytest
from agent_framework_hosting import BUSY_REPLY, HostingError, SessionBusyError, StateUnavailableError, chat_reply

PACKAGES = sorted(m.name for m in pkgutil.iter_modules() if m.name.startswith("agent_framework_hosting"))


def _exception_classes() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for name in PACKAGES:
        package = importlib.import_module(name)
        modules = [package]
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            if info.name.endswith(".__main__"):
                continue
            modules.append(importlib.import_module(info.name))
        for module in modules:
            for _, value in inspect.getmembers(module, inspect.isclass):
                if issubclass(value, BaseException) and value.__module__ == module.__name__:
                    found.append(value)
    return found


def test_every_error_class_of_every_package_derives_from_hosting_error() -> None:
    classes = _exception_classes()
    assert len(classes) >= 15
    outside = sorted(f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, HostingError))
    assert outside == []


@pytest.mark.parametrize("error_class", sorted(set(_exception_classes()), key=lambda c: c.__qualname__))
def test_each_error_has_a_status_a_code_and_a_public_message(error_class: type[HostingError]) -> None:
    assert 100 <= error_class.status_code < 600
    assert isinstance(error_class.code, str) and error_class.code


def test_chat_channels_share_one_busy_reply() -> None:
    assert chat_reply(SessionBusyError("'turn:k' is busy")) == BUSY_REPLY
    assert "k" not in chat_reply(StateUnavailableError("redis at 10.0.0.1 refused"))
    assert agent_framework_hosting.HostingError is HostingError
