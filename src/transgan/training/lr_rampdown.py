"""Learning-rate ramp-down: both learning rates fall linearly to zero over the last part of
a run (``--lr-rampdown``), where the run ends at ``--kimg`` or at ``--max-time``, whichever
comes first.

Under DDP every rank must step with the same learning rate, but each rank has its own clock;
the ranks therefore take rank 0's progress at the points where they already agree on a stop
(``ticks.STOP_CHECK_EVERY``) and keep it in between.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from transgan.distributed import DistInfo
from transgan.training.config import TrainConfig
from transgan.training.setup import Counters
from transgan.training.steps import Networks


def run_progress(cfg: TrainConfig, counters: Counters) -> float:
    """How far the run is, 0 to 1: by images, or by training seconds when ``--max-time`` is
    set and nearer its end."""
    progress = counters.nimg / (cfg.kimg * 1000)
    if cfg.max_time > 0:
        progress = max(progress, counters.train_seconds / cfg.max_time)
    return min(progress, 1.0)


def lr_scale(rampdown: float, progress: float) -> float:
    """The factor on both learning rates: 1 until the last ``rampdown`` of the run, then a
    straight line down to 0 at its end. ``rampdown`` 0 keeps the rates constant."""
    if rampdown <= 0:
        return 1.0
    return min(1.0, max(0.0, (1.0 - progress) / rampdown))


def rank0_progress(progress: float, info: DistInfo) -> float:
    """Rank 0's progress on every rank (a collective: every rank must call it)."""
    if not info.enabled:
        return progress
    t = torch.tensor([progress], dtype=torch.float64, device=info.device)
    dist.broadcast(t, src=0)
    return float(t.item())


def set_learning_rates(nets: Networks, cfg: TrainConfig, scale: float) -> None:
    """Both optimizers at ``scale`` times their configured rates."""
    for opt, lr in ((nets.opt_g, cfg.lr_g), (nets.opt_d, cfg.lr_d)):
        for group in opt.param_groups:
            group["lr"] = lr * scale
