"""Where a run starts: a new run directory (removed again when the run fails before its
first snapshot), or the newest loadable state of an existing run, with the files of an
abandoned timeline moved aside."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from transgan.distributed import DistInfo, any_rank
from transgan.training.config import TrainConfig
from transgan.training.rundir import new_run_dir, set_aside
from transgan.training.runlock import LOCK_NAME
from transgan.training.setup import Counters, restore
from transgan.training.state import StateError, load_latest_state
from transgan.training.steps import Networks


def prepare_run_dir(
    cfg: TrainConfig, info: DistInfo, out: Path, desc: str, fixed: Path | None, created: list
) -> Path:
    """The new run's directory; a directory made here is added to ``created``."""
    if fixed is not None:
        if not fixed.exists():
            created.append(fixed)
        fixed.mkdir(parents=True, exist_ok=True)
        return fixed
    run_dir = None
    if info.is_main:
        run_dir = new_run_dir(out, "-".join(filter(None, [cfg.model, Path(cfg.data).name, desc])))
        created.append(run_dir)
    if info.enabled:
        holder = [str(run_dir) if run_dir else None]
        torch.distributed.broadcast_object_list(holder, src=0)
        run_dir = Path(holder[0])
    return run_dir


def discard_unstarted(created: list[Path]) -> None:
    """A run that failed before its first snapshot leaves no directory behind (only one
    made by this process, holding nothing but what a start writes)."""
    start_files = {"config.json", "reals.png", "fakes-init.png", "data.jsonl", "stats.jsonl"}
    start_files.add(LOCK_NAME)
    for run_dir in created:
        names = {p.name for p in run_dir.iterdir()} if run_dir.is_dir() else {"?"}
        if names <= start_files | {"tensorboard"}:
            shutil.rmtree(run_dir, ignore_errors=True)


def resume_point(
    nets: Networks, run_dir: Path, info: DistInfo, restart: bool, fixed: bool
) -> Counters:
    """Restore the newest loadable state of ``run_dir`` and say so; move the files of any
    later (abandoned) timeline aside. Refuses a run without a loadable state unless
    ``restart`` — or ``fixed`` (``--run-dir``) and the run has no snapshot yet (a job killed
    before its first state: nothing of value to lose)."""
    found = None if restart else load_latest_state(run_dir, info.device)
    snapshots = list(run_dir.glob("network-snapshot-*.safetensors"))
    if found is None and not restart and not (fixed and not snapshots):
        raise StateError(
            f"{run_dir} has no training state to resume from"
            + (
                f" (it holds network snapshots, {len(snapshots)} of them, but no "
                "training-state-*.pt)"
                if snapshots
                else ""
            )
            + ". Nothing was changed. Start a new run (drop --resume, or use another "
            "--run-dir), or start this one over in place with --restart (its files move to a "
            "folder abandoned-*/ inside it)"
        )
    counters = Counters() if found is None else restore(nets, found.state, info)
    if info.enabled:
        any_rank(False, info)  # every rank has read its state before files are moved
    if not info.is_main:
        return counters
    nimg = found.nimg if found is not None else -1
    aside = set_aside(run_dir, nimg, [p for p, _ in found.skipped] if found else [])
    if found is not None:
        tqdm.write(f"resuming from {found.path.name} (kimg {nimg / 1000:g})", file=sys.stderr)
        for path, why in found.skipped:
            tqdm.write(f"skipped newer {path.name}: {why}", file=sys.stderr)
    else:
        tqdm.write(f"starting {run_dir} over from kimg 0", file=sys.stderr)
    if aside is not None:
        tqdm.write(
            f"files of the abandoned timeline (after kimg {max(nimg, 0) / 1000:g}) moved to "
            f"{aside}",
            file=sys.stderr,
        )
    return counters
