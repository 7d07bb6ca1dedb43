#!/usr/bin/env bash
# Create .venv and install every package of this repository (editable) with its extras.
set -euo pipefail
quiet_pip() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
quiet_pip .venv/bin/python -m pip install --quiet --upgrade pip
specs=("-e" "packages/hosting[serve,redis,openai,test]")
for pyproject in packages/*/pyproject.toml; do
    dir=$(dirname "$pyproject")
    [ "$dir" = "packages/hosting" ] && continue
    if grep -q '^test = ' "$pyproject"; then
        specs+=("-e" "$dir[test]")
    else
        specs+=("-e" "$dir")
    fi
done
quiet_pip .venv/bin/python -m pip install --quiet "${specs[@]}"
# Test peers from npm (packages/*/tests/peer): installed from their lock file, again only when it changed.
for lock in packages/*/tests/peer/package-lock.json; do
    [ -f "$lock" ] || continue
    peer=$(dirname "$lock")
    if command -v npm >/dev/null 2>&1 && [ ! "$peer/node_modules/.package-lock.json" -nt "$lock" ]; then
        (cd "$peer" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
done
