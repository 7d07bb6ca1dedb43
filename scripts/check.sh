#!/usr/bin/env bash
# The lint and type gate: ruff check, ruff format --check and mypy --strict on every package's src.
# Tool versions are pinned in packages/hosting's `test` extra (installed by ./scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff --version
.venv/bin/ruff check .
.venv/bin/ruff format --check --exclude '*.md' .
.venv/bin/mypy --version
.venv/bin/mypy --strict packages/*/src
