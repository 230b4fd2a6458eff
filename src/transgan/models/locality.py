"""Locality-aware attention (paper §3.4): each query sees only nearby keys at first.

Two mask kinds on a stage's W×W token grid (True = may attend):
- ``2d``: the paper's window, Chebyshev distance max(|Δy|, |Δx|) <= radius;
- ``1d``: the authors' released band on the raster order, |i − j| <= radius.
A schedule widens the radius as training goes on (in kimg) and then drops the mask, so
attention ends global. Masks are built once per (kind, grid, radius, device) and cached.

The mask is applied to the trained generator *and* its EMA copy. A snapshot taken while a
mask is in force holds the EMA weights plus that mask (kind, blocks, radius) in its
metadata; ``load_generator`` re-installs it, so a mid-schedule snapshot generates exactly
what the run's grids and metrics showed at that kimg. Once the schedule ends, snapshots
record no mask and attention is global.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

import torch

MASK_KINDS = ("2d", "1d")


def window_mask(width: int, radius: int, kind: str = "2d") -> torch.Tensor:
    """Boolean (W², W²) mask: entry [i, j] is True when token j is within token i's window."""
    if kind not in MASK_KINDS:
        raise ValueError(f"mask kind must be one of {MASK_KINDS}, got {kind!r}")
    idx = torch.arange(width * width)
    if kind == "1d":
        return (idx[:, None] - idx[None, :]).abs() <= radius
    y, x = idx // width, idx % width
    dy = (y[:, None] - y[None, :]).abs()
    dx = (x[:, None] - x[None, :]).abs()
    return torch.maximum(dy, dx) <= radius


@dataclass(frozen=True)
class LocalitySchedule:
    windows: tuple[int, ...]  # radii, in the order they are used
    until_kimg: tuple[float, ...]  # window k is used while kimg < until_kimg[k]

    def __post_init__(self) -> None:
        if len(self.windows) != len(self.until_kimg):
            raise ValueError("locality schedule needs one end (kimg) per window")
        if list(self.until_kimg) != sorted(self.until_kimg):
            raise ValueError(f"locality window ends must increase, got {self.until_kimg}")

    def radius_at(self, kimg: float) -> int | None:
        """The radius in force at ``kimg``; None once attention is global."""
        k = bisect.bisect_right(self.until_kimg, kimg)
        return self.windows[k] if k < len(self.windows) else None


class LocalityMasks:
    """Installs cached masks into a Generator's ``block_masks`` for a radius."""

    def __init__(self, kind: str, blocks: str = "last") -> None:
        if kind not in MASK_KINDS:
            raise ValueError(f"mask kind must be one of {MASK_KINDS}, got {kind!r}")
        if blocks not in ("last", "all"):
            raise ValueError(f"masked blocks must be 'last' or 'all', got {blocks!r}")
        self.kind, self.blocks = kind, blocks
        self._cache: dict[tuple[int, int, str], torch.Tensor] = {}
        self.radius: int | None = None

    def mask(self, width: int, radius: int, device: torch.device) -> torch.Tensor:
        key = (width, radius, str(device))
        if key not in self._cache:
            self._cache[key] = window_mask(width, radius, self.kind).to(device)
        return self._cache[key]

    def apply(self, generators: Iterable[torch.nn.Module], radius: int | None) -> None:
        """Mask the chosen blocks of every generator with ``radius`` (None: unmask all).

        Training passes both the trained generator and its EMA copy: grids, snapshots and
        metrics come from the EMA, which must see the same attention as the trained net.
        """
        self.radius = radius
        for generator in generators:
            generator.block_masks.clear()
            if radius is None:
                continue
            device = generator.pos_embeds[0].device
            widths = generator.config.stage_widths
            stages = range(len(widths)) if self.blocks == "all" else [len(widths) - 1]
            for s in stages:
                depth = len(generator.stages[s])
                blocks = range(depth) if self.blocks == "all" else [depth - 1]
                for b in blocks:
                    generator.block_masks[(s, b)] = self.mask(widths[s], radius, device)

    def record(self) -> dict[str, object] | None:
        """What a snapshot stores about the mask in force (None when attention is global)."""
        if self.radius is None:
            return None
        return {"kind": self.kind, "blocks": self.blocks, "radius": self.radius}


def apply_recorded_mask(generator: torch.nn.Module, record: dict[str, object] | None) -> None:
    """Re-install the mask a snapshot recorded (see ``LocalityMasks.record``)."""
    if record is None:
        return
    masks = LocalityMasks(str(record["kind"]), str(record["blocks"]))
    masks.apply([generator], int(record["radius"]))
