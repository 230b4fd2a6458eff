"""Training states: everything needed to continue a run exactly, loadable without pickle code.

A state holds only tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(weights_only=True)`` — a state file from a stranger cannot run code. It is
written atomically as ``training-state-{nimg:012d}.pt``; older states are removed only after
the new one is complete, and ``load_latest_state`` returns the newest one that loads, with
the newer ones it had to skip and why.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from transgan.fileio import atomic_path, error_detail

STATE_FORMAT = "transgan-train-state/1"
STATE_PATTERN = re.compile(r"^training-state-(\d{12})\.pt$")


class StateError(ValueError):
    """A file that is not a loadable training state."""


def state_path(run_dir: Path, nimg: int) -> Path:
    return run_dir / f"training-state-{nimg:012d}.pt"


def save_state(run_dir: Path, nimg: int, state: dict[str, Any], keep: int) -> Path:
    """Write ``state`` atomically, then delete all but the newest ``keep`` states."""
    path = state_path(run_dir, nimg)
    state = {"format": STATE_FORMAT, **state}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    for old in list_states(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def list_states(run_dir: Path) -> list[Path]:
    """Training states in ``run_dir``, oldest first."""
    return sorted(p for p in run_dir.iterdir() if STATE_PATTERN.match(p.name))


def load_state(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict:
    """Load a training state with ``weights_only=True``; refuse anything else clearly."""
    p = Path(path)
    try:
        state = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as err:  # any damage: the unpickler raises IndexError, KeyError, …
        size = p.stat().st_size if p.exists() else 0
        raise StateError(
            f"{p} does not load ({type(err).__name__}: {error_detail(err)}; {size:,} bytes): it is "
            "damaged or truncated, or it needs more than tensors to load — training states "
            "are read with torch.load(weights_only=True), which refuses files that would run "
            "code; use a training-state-*.pt written by `transgan train`"
        ) from err
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise StateError(f"{p} is not a TransGAN training state (expected {STATE_FORMAT!r})")
    return state


@dataclass
class FoundState:
    """The newest training state of a run that loads, and the newer ones that did not."""

    path: Path
    state: dict
    skipped: list[tuple[Path, str]]  # (newer state file, why it does not load)

    @property
    def nimg(self) -> int:
        return int(self.state["counters"]["nimg"])


def load_latest_state(run_dir: Path, map_location: str | torch.device = "cpu") -> FoundState | None:
    """The newest state in ``run_dir`` that loads, and the newer ones skipped on the way.

    Returns None when the run has no state file at all. Raises StateError when states exist
    but none of them loads.
    """
    for stale in run_dir.glob(".training-state-*.tmp"):  # a write cut short by a crash
        stale.unlink(missing_ok=True)
    states = list_states(run_dir)
    skipped: list[tuple[Path, str]] = []
    for path in reversed(states):
        try:
            return FoundState(path, load_state(path, map_location), skipped)
        except StateError as err:
            skipped.append((path, str(err)))
    if states:
        raise StateError(
            f"no training state in {run_dir} loads: "
            + " | ".join(why for _, why in skipped)
            + ". Nothing was changed. Start a new run (without --resume), or start this one "
            "over in place with --restart (its files move to a folder abandoned-*/ inside it)"
        )
    return None
