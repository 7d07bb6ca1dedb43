"""Whole-file writes that a crash leaves either old or new, never cut short."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def fsync_folder(folder: Path) -> None:
    """Make a file's creation or rename in `folder` durable."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms whose folders cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def temp_beside(path: Path, data: bytes, *, sync: bool = True) -> Path:
    """A new hidden file next to `path` holding `data` (fsynced unless `sync` is false)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)  # a full disk: leave nothing half-written behind
        raise
    return temp


def replace_file(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Write `data` to a file beside `path` and rename it over `path`."""
    temp = temp_beside(path, data, sync=sync)
    try:
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
