"""Layering: production code never imports the testing module; channel packages use only public core modules."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGES = Path(__file__).parents[2]
SOURCES = sorted(p for p in PACKAGES.glob("*/src/agent_framework_hosting*/**/*.py"))


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    package = path.parent.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                module = f"{package}.{module}" if module else package
            names.append(module)
            names.extend(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_the_sources_are_found() -> None:
    assert len(SOURCES) > 50


def test_production_code_never_imports_the_testing_module() -> None:
    offenders = [
        f"{path.relative_to(PACKAGES)} imports {name}"
        for path in SOURCES
        if path.name != "testing.py" and "testing" not in path.parts
        for name in _imports(path)
        if name.split(".")[:2] == ["agent_framework_hosting", "testing"]
    ]
    assert offenders == []


def test_channel_packages_import_only_public_core_modules() -> None:
    offenders = [
        f"{path.relative_to(PACKAGES)} imports {name}"
        for path in SOURCES
        if not path.is_relative_to(PACKAGES / "hosting")
        for name in _imports(path)
        if name.startswith("agent_framework_hosting.") and name.split(".")[1].startswith("_")
    ]
    assert offenders == []
