"""TensorBoard logging of a run (``--tensorboard``): every stats.jsonl field, every metric,
and the fixed-latent grid of each tick, under RUN_DIR/tensorboard (rank 0 only).

The x axis is the number of real images shown to D (like kimg, in images). A run purges
the events at and after its starting point (a resumed run's, or 0), so the curves never
double back; a run started over sets the old ``tensorboard/`` folder aside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

NOT_SCALARS = ("kimg", "nimg", "tick", "time")


def available() -> bool:
    """Whether the ``tensorboard`` package is installed (``pip install transgan[tensorboard]``)."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


class TensorBoardLog:
    """A SummaryWriter for one run directory."""

    def __init__(self, run_dir: Path, resume_nimg: int = 0) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=resume_nimg)

    def stats(self, record: dict[str, Any]) -> None:
        """One stats.jsonl record: its numeric fields as scalars ``stats/<field>``."""
        step = int(record["nimg"])
        for key, value in record.items():
            if key in NOT_SCALARS or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            self.writer.add_scalar(f"stats/{key}", value, step)
        self.writer.flush()

    def metrics(self, results: dict[str, float], nimg: int) -> None:
        for key, value in results.items():
            self.writer.add_scalar(f"metrics/{key}", value, nimg)
        self.writer.flush()

    def grid(self, images: torch.Tensor, nimg: int, nrow: int | None = None) -> None:
        """The fixed-latent grid, images (B, 3, H, W) in [-1, 1]."""
        from transgan.images import grid_image

        pixels = torch.from_numpy(np.array(grid_image(images, nrow)))  # (H, W, 3) uint8
        self.writer.add_image("fakes", pixels, nimg, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
