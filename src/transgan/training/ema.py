"""Exponential moving average of the generator, kept on the training device.

Unit: every count here is **real images shown to D** (over all ranks), the unit of kimg in
the whole run. One training iteration shows D ``batch · n_critic`` images, so the update
after it decays by β = 0.5 ** (batch · n_critic / ema_nimg), whatever G's batch is. With
a ramp-up, ema_nimg = min(half_life, rampup · images_seen) (SPEC §4); the half-life is then
exactly ``--ema-kimg`` kimg of training. (The authors' code uses D's batch per loader
iteration while updating once per G step — SPEC-v2 §6 — which is not the same thing.)
Parameters and buffers are averaged with foreach ops, so an update is a handful of kernel
launches and no host synchronisation.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Holds ``model``'s exponential moving average as a frozen copy."""

    def __init__(self, model: nn.Module, *, half_life_kimg: float, rampup: float | None) -> None:
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.half_life_nimg = half_life_kimg * 1000
        self.rampup = rampup

    def beta(self, batch_size: int, images_seen: int) -> float:
        """Decay for one update that follows ``batch_size`` real images (shown to D since
        the last update), ``images_seen`` real images into the run."""
        ema_nimg = self.half_life_nimg
        if self.rampup is not None:
            ema_nimg = min(ema_nimg, images_seen * self.rampup)
        return 0.5 ** (batch_size / max(ema_nimg, 1e-8))

    @torch.no_grad()
    def update(self, model: nn.Module, batch_size: int, images_seen: int) -> None:
        beta = self.beta(batch_size, images_seen)
        ema_params = list(self.module.parameters())
        params = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_params, params, 1.0 - beta)
        for ema_buf, buf in zip(self.module.buffers(), model.buffers(), strict=True):
            ema_buf.copy_(buf)
