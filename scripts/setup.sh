#!/usr/bin/env bash
# Create .venv and install every package of this repository (editable) with its extras.
# pip is skipped when no pyproject.toml (nor this script) changed since the last install; one setup at a time (flock).
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

install_python_packages() {
    if [ ! -x .venv/bin/python ]; then
        say "creating .venv"
        "$PYTHON" -m venv .venv
    fi
    say "upgrading pip"
    quiet_pip .venv/bin/python -m pip install --quiet --upgrade pip
    local specs=("-e" "packages/hosting[serve,redis,postgres,openai,otlp,test]") names=("hosting") pyproject dir
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
    say "installing ${#names[@]} packages (${names[*]}); the first run takes a few minutes"
    quiet_pip .venv/bin/python -m pip install --quiet "${specs[@]}"
}

stamp=.venv/.setup-stamp
fingerprint=$(cat scripts/setup.sh packages/*/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ]; then
    say "Python packages are up to date"
else
    rm -f "$stamp"
    install_python_packages
    echo "$fingerprint" > "$stamp"
fi
# Test peers from npm (packages/*/tests/peer): installed from their lock file, again only when it changed.
for lock in packages/*/tests/peer/package-lock.json; do
    [ -f "$lock" ] || continue
    peer=$(dirname "$lock")
    if command -v npm >/dev/null 2>&1 && [ ! "$peer/node_modules/.package-lock.json" -nt "$lock" ]; then
        say "installing the npm test peer in $peer"
        (cd "$peer" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
done
say "ready"
