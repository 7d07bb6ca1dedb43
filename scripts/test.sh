#!/usr/bin/env bash
# Set up the environment (Python packages and the servers tests need), check lint and types, then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/system-deps.sh
./scripts/setup.sh
./scripts/check.sh
exec .venv/bin/python -m pytest "$@"
