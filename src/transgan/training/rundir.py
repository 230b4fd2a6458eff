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
RESTART_FILES = ("reals.png", "fakes-init.png", "data.jsonl", "curves.png")


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


def set_aside(run_dir: Path, nimg: int, unloadable: list[Path] = ()) -> Path | None:
    """Move the files of a run written after ``nimg`` images (a timeline that a resume
    abandons: later states, snapshots and grids, the ``unloadable`` states, and the records
    of stats.jsonl and metric-*.jsonl after ``nimg``) into ``run_dir/abandoned-<time>/``.

    ``nimg = -1`` sets aside the whole run (``--restart``). Nothing is deleted. Returns the
    folder, or None when there was nothing to move.
    """
    later = [p for p in unloadable if p.exists()]
    for path in sorted(run_dir.iterdir()):
        for pattern, per_count in TIMELINE:
            m = pattern.match(path.name)
            # a snapshot or grid is named by floor(kimg): one whose kimg is past the resume
            # point's kimg belongs to the abandoned timeline
            if m and int(m.group(1)) > (nimg // per_count if nimg >= 0 else -1):
                later.append(path)
        if nimg < 0 and path.name in RESTART_FILES:
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
