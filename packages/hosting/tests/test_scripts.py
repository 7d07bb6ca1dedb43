"""`scripts/setup.sh`: skipped when nothing changed, and never two at once (the real script on this checkout)."""

from __future__ import annotations

import fcntl
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SETUP = ROOT / "scripts" / "setup.sh"


def test_an_unchanged_checkout_skips_pip() -> None:
    subprocess.run([str(SETUP)], cwd=ROOT, check=True, capture_output=True, timeout=900)
    started = time.monotonic()
    again = subprocess.run([str(SETUP)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "Python packages are up to date" in again.stderr
    assert "installing" not in again.stderr and "pip" not in again.stderr
    assert time.monotonic() - started < 60


def test_a_second_setup_waits_for_the_first() -> None:
    subprocess.run([str(SETUP)], cwd=ROOT, check=True, capture_output=True, timeout=900)
    with open(ROOT / ".setup.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        waiting = subprocess.Popen([str(SETUP)], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(2.0)
            assert waiting.poll() is None, "setup.sh ran while another held the lock"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
        _, stderr = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, stderr
    assert "another setup is running; waiting for it" in stderr
