#!/usr/bin/env bash
# Set up the environment (Python packages and the servers tests need), then run every package's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/system-deps.sh
./scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
