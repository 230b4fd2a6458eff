"""Run directories: ``{out}/{id:05d}-{desc}/`` with config.json, stats.jsonl, grids, files."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from transgan.fileio import read_jsonl, write_text_atomic

RUN_PATTERN = re.compile(r"^(\d{5})-")
MAX_DESC = 120  # characters of model, data and --desc in a run directory's name
# Files of a run named by the kimg (or nimg) they were written at.
TIMELINE = (
    (re.compile(r"^training-state-(\d{12})\.pt$"), 1),
    (re.compile(r"^network-snapshot-(\d{6})\.safetensors$"), 1000),
    (re.compile(r"^fakes(\d{6})\.png$"), 1000),
)
# What a start writes besides the timeline: set aside too when a run starts over.
RESTART_FILES = (
    "config.json",
    "reals.png",
    "fakes-init.png",
    "data.jsonl",
    "curves.png",
    "tensorboard",
)


def new_run_dir(out: Path, desc: str) -> Path:
    """Create the next numbered run directory below ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    ids = [int(m.group(1)) for p in out.iterdir() if (m := RUN_PATTERN.match(p.name))]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", desc).strip("_") or "run"
    safe = safe[:MAX_DESC]  # a file name has at most 255 bytes
    run_dir = out / f"{max(ids, default=-1) + 1:05d}-{safe}"
    run_dir.mkdir()
    return run_dir


def truncate_jsonl(path: Path, max_nimg: int) -> None:
    """Drop records written after ``max_nimg`` images (work lost to a crash is redone)."""
    if not path.exists():
        return
    kept = [r for r in read_jsonl(path) if r.get("nimg", 0) <= max_nimg]
    write_text_atomic(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))


def nimg_written(path: Path, stats: list[dict] = ()) -> int | None:
    """The image count at which a timeline file (``TIMELINE``) was written, from what it
    holds: a snapshot's header, a grid's PNG metadata, a state's name (its exact count).
    A snapshot or grid without that record falls back to the newest stats row of its kimg
    (a grid is rewritten every tick), then to its name's kimg. None: not a timeline file."""
    for pattern, per_count in TIMELINE:
        m = pattern.match(path.name)
        if m is None:
            continue
        named = int(m.group(1))
        if per_count == 1:
            return named
        recorded = _recorded_nimg(path)
        if recorded is not None:
            return recorded
        rows = [int(r["nimg"]) for r in stats if int(r.get("nimg", -1)) // per_count == named]
        return max(rows) if rows else named * per_count
    return None


def _recorded_nimg(path: Path) -> int | None:
    from transgan.images import png_text
    from transgan.snapshot import SnapshotError, read_snapshot_extra

    try:
        if path.suffix == ".png":
            value = png_text(path).get("nimg")
        else:
            value = read_snapshot_extra(path).get("nimg")
        return int(value) if value is not None else None
    except (SnapshotError, OSError, ValueError, TypeError):
        return None


def set_aside(run_dir: Path, nimg: int, unloadable: list[Path] = ()) -> Path | None:
    """Move the files of a run written after ``nimg`` images (a timeline that a resume
    abandons: later states, snapshots and grids, the ``unloadable`` states, and the records
    of stats.jsonl and metric-*.jsonl after ``nimg``) into ``run_dir/abandoned-<time>/``.

    ``nimg = -1`` sets aside the whole run (``--restart``). Nothing is deleted. Returns the
    folder, or None when there was nothing to move.
    """
    later = [p for p in unloadable if p.exists()]
    stats = read_jsonl(run_dir / "stats.jsonl") if (run_dir / "stats.jsonl").exists() else []
    for path in sorted(run_dir.iterdir()):
        if nimg < 0 and path.name in RESTART_FILES:
            later.append(path)
            continue
        written = nimg_written(path, stats)
        if written is not None and written > nimg:
            later.append(path)
    logs = [run_dir / "stats.jsonl", *sorted(run_dir.glob("metric-*.jsonl"))]
    dropped = {
        log: [r for r in read_jsonl(log) if r.get("nimg", 0) > nimg] for log in logs if log.exists()
    }
    if not later and not any(dropped.values()):
        return None
    base = time.strftime(f"abandoned-%Y%m%d-%H%M%S-after-{max(nimg, 0)}img")
    folder, n = run_dir / base, 1
    while folder.exists():
        folder, n = run_dir / f"{base}-{n}", n + 1
    folder.mkdir()
    for path in dict.fromkeys(later):
        path.rename(folder / path.name)
    for log, records in dropped.items():
        if records:
            text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
            write_text_atomic(folder / log.name, text)
            truncate_jsonl(log, nimg)
    return folder
