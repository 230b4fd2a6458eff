"""Atomic file writes: a reader never sees a half-written file.

Every file is written to a temporary name beside its destination, flushed and fsynced,
then renamed over the destination (``os.replace`` is atomic on POSIX), and the folder is
fsynced so that the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path; on success it is fsynced and renamed to ``path``."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def append_jsonl(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one JSON line and fsync it (a torn last line is skipped by ``read_jsonl``)."""
    with open(path, "a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """All complete records of a jsonl file; a torn last line is ignored."""
    records = []
    for line in Path(path).read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


# Lines of a torch.load / safetensors error that say what is wrong with the file itself.
_TELLING = ("Unsupported", "invalid load key", "PytorchStreamReader")


def error_detail(err: BaseException) -> str:
    """The informative part of a (long, multi-line) loading error, for a one-line message:
    the line naming the bad pickle operand or archive entry if there is one, else the first
    two lines."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    telling = [line for line in lines if line.startswith(_TELLING)]
    return telling[0] if telling else " ".join(lines[:2]) or type(err).__name__


class OutputError(ValueError):
    """An output path that would lose data or cannot be written; the message says the fix."""

    usage = True  # the command line answers with exit status 2


NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems


def check_output(
    path: str | os.PathLike[str],
    option: str,
    *,
    inputs: tuple[str | os.PathLike[str] | None, ...] = (),
    force: bool = False,
) -> Path:
    """Refuse, before any work, to write ``path`` over one of the command's ``inputs`` (even
    with ``force``), over an existing file without ``force``, or where it cannot be written:
    a name too long, a parent that is a file, a folder without write permission."""
    out = Path(path)
    check_name_lengths(out, option)
    for given in inputs:
        same = given is not None and Path(given).exists() and out.exists()
        if same and os.path.samefile(out, given):
            raise OutputError(
                f"{option} {out} is also an input of this command ({given}); writing it "
                "would destroy the input. Choose another output name"
            )
    if out.exists() and out.is_dir():
        raise OutputError(f"{option} {out} is a folder; give a file name")
    if out.exists() and not force:
        raise OutputError(
            f"{option} {out} exists; pass --force to overwrite it, or choose another name"
        )
    check_writable_folder(out.parent, option, out)
    return out


def check_name_lengths(path: Path, option: str) -> None:
    """Refuse a path with a part longer than file systems allow (before it is looked at)."""
    for part in path.parts:
        if len(part.encode()) > NAME_MAX:
            raise OutputError(
                f"{option}: the name {part[:40]!r}… is {len(part.encode())} bytes long; file "
                f"systems allow {NAME_MAX}. Choose a shorter name"
            )


def check_writable_folder(folder: Path, option: str, target: Path | None = None) -> None:
    """Refuse a folder (to be created if missing) that cannot receive files."""
    target = target or folder
    check_name_lengths(target, option)
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise OutputError(f"{option} {target}: {existing} is a file, not a folder")
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(
            f"{option} {target}: cannot write into {existing} (permission denied); choose "
            "a folder you can write to"
        )
