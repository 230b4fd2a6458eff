"""Run directories: ``{out}/{id:05d}-{desc}/`` with config.json, stats.jsonl, grids, files."""

from __future__ import annotations

import json
import re
from pathlib import Path

from transgan.fileio import read_jsonl, write_text_atomic

RUN_PATTERN = re.compile(r"^(\d{5})-")


def new_run_dir(out: Path, desc: str) -> Path:
    """Create the next numbered run directory below ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    ids = [int(m.group(1)) for p in out.iterdir() if (m := RUN_PATTERN.match(p.name))]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", desc).strip("_") or "run"
    run_dir = out / f"{max(ids, default=-1) + 1:05d}-{safe}"
    run_dir.mkdir()
    return run_dir


def truncate_jsonl(path: Path, max_nimg: int) -> None:
    """Drop records written after ``max_nimg`` images (work lost to a crash is redone)."""
    if not path.exists():
        return
    kept = [r for r in read_jsonl(path) if r.get("nimg", 0) <= max_nimg]
    write_text_atomic(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))
