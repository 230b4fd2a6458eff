"""One training per run directory: an exclusive lock held for the life of a run.

A second ``transgan train`` into a directory a live run holds (a scheduler's retry, a
``--resume`` typed twice) would resume from the first's in-progress state, move its newest
files aside and interleave both runs' records. The lock is ``flock`` on ``RUN_DIR/.lock``:
the operating system drops it when the holding process dies, however it dies, so a killed
run never blocks the next one. The file says who holds it (pid, host, start time) for the
refusal message; under torchrun rank 0 holds it for all ranks.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; runs there are not guarded
    fcntl = None

LOCK_NAME = ".lock"


class RunDirectoryBusyError(RuntimeError):
    """Another live process trains in this run directory."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text())
        return f"pid {info['pid']} on {info['host']}, since {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not written its name yet"


@contextlib.contextmanager
def run_directory_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``run_dir``'s lock while the block runs; refuse at once if another process
    holds it (``RunDirectoryBusyError``, naming the holder)."""
    path = run_dir / LOCK_NAME
    if fcntl is None:
        yield
        return
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirectoryBusyError(
                f"{run_dir} is in use by another training ({_holder(path)}); nothing was "
                "changed. Wait for it to finish or stop it, or train into another --run-dir"
            ) from None
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started})
        )
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
