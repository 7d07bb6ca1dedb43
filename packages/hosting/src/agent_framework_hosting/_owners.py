"""Owner tokens for ledger entries and claims: unique per call, without a system call each."""

from __future__ import annotations

import itertools
import os
import secrets
import socket

_PROCESS: tuple[str, str, itertools.count[int]] | None = None


def _process() -> tuple[str, str, itertools.count[int]]:
    """`host:pid`, a random name for this process's life and its counter; made again in a forked child."""
    global _PROCESS
    if _PROCESS is None:
        _PROCESS = (f"{socket.gethostname()}:{os.getpid()}", secrets.token_hex(8), itertools.count(1))
    return _PROCESS


def _forget_process() -> None:
    global _PROCESS
    _PROCESS = None


# Noticing a fork here spares an os.getpid() system call on every delivery.
os.register_at_fork(after_in_child=_forget_process)


def unique_token() -> str:
    """``host:pid:<life>-<n>``: never the same twice, here or in any other process (or life of this one).

    The life part is random per process start (a restarted container often has the same pid) and `n`
    counts, so no call needs the system's randomness; the ledger reads the pid back (`_owner_is_dead`).
    """
    place, life, counter = _process()
    return f"{place}:{life}-{next(counter):x}"
