#!/usr/bin/env bash
# Create .venv and install every package of this repository (editable) with its extras.
# Skips pip when no pyproject.toml (nor this script) changed since the last install; one setup at a time (flock).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
say() { echo "setup: $*" >&2; }
quiet_pip() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }

exec 9>.setup.lock
if ! flock -n 9; then
    say "another setup is running; waiting for it"
    flock 9
fi

stamp=.venv/.setup-stamp
fingerprint=$(cat scripts/setup.sh packages/*/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ]; then
    say ".venv is up to date"
    exit 0
fi
rm -f "$stamp"
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    "$PYTHON" -m venv .venv
fi
say "upgrading pip"
quiet_pip .venv/bin/python -m pip install --quiet --upgrade pip
specs=("-e" "packages/hosting[serve,redis,openai,otlp,test]")
names=("hosting")
for pyproject in packages/*/pyproject.toml; do
    dir=$(dirname "$pyproject")
    [ "$dir" = "packages/hosting" ] && continue
    names+=("${dir#packages/}")
    if grep -q '^test = ' "$pyproject"; then
        specs+=("-e" "$dir[test]")
    else
        specs+=("-e" "$dir")
    fi
done
say "installing ${#names[@]} packages (${names[*]}); the first run takes a minute"
quiet_pip .venv/bin/python -m pip install --quiet "${specs[@]}"
echo "$fingerprint" > "$stamp"
say "done"
