#!/usr/bin/env bash
# Set up the environment (skipped when nothing changed), then serve the demo agent on http://127.0.0.1:8000 (PORT overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/agent-framework-host serve --port "${PORT:-8000}" "$@"
