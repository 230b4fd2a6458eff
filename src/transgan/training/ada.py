"""Augmentation with a probability: fixed (``--augment-p``), or adaptive (ADA: Karras et al.,
"Training Generative Adversarial Networks with Limited Data", NeurIPS 2020).

Each of D's input images (reals and fakes alike, in D's and G's steps) is augmented with
probability p, else passed as it is. ADA measures overfitting by r = E[sign D(real)] over the
last few D steps: above the target, D is too sure of the reals and p rises; below, p falls —
by (images in those steps) / (``ada_kimg`` · 1000) each time, so p may move from 0 to 1 in
``ada_kimg`` thousand images. p and its running sum are buffers: the training state carries
them, so a resume continues exactly; under DDP the signs are averaged over ranks, so every
rank holds the same p. Device ops only: no host sync.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist
from torch import nn

from transgan.training.augment import AugmentConfig

Augment = Callable[[torch.Tensor], torch.Tensor]
ADA_INTERVAL = 4  # D steps between adjustments (ADA's paper)


class AugmentProbability(nn.Module):
    """The augmentation probability p of a run, fixed or adaptive (``config.ada_target``)."""

    def __init__(self, config: AugmentConfig, images_per_step: int) -> None:
        super().__init__()
        self.target = config.ada_target
        self.adaptive = config.ada_target > 0
        self.step_size = images_per_step * ADA_INTERVAL / (config.ada_kimg * 1000)
        self.register_buffer("p", torch.tensor(float(config.prob)))
        self.register_buffer("sign_sum", torch.zeros(()))  # Σ E[sign D(real)] since the last move
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def apply(
        self, x: torch.Tensor, augment: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        """``augment(x)`` for a p share of the samples (B, C, H, W), ``x`` for the rest."""
        chosen = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < self.p
        return torch.where(chosen, augment(x), x)

    @torch.no_grad()
    def observe(self, real_sign: torch.Tensor) -> None:
        """One D step's E[sign D(real)] (0-dim); every ``ADA_INTERVAL`` steps p moves
        towards keeping it at the target. A no-op when p is fixed; a collective under DDP."""
        if not self.adaptive:
            return
        sign = real_sign.detach().float().reshape(1)
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(sign)
            sign = sign / dist.get_world_size()
        sign = torch.where(torch.isfinite(sign), sign, 0.0)[0]  # a bad step says nothing
        self.sign_sum.add_(sign)
        self.steps.add_(1)
        due = self.steps % ADA_INTERVAL == 0
        r = self.sign_sum / ADA_INTERVAL
        moved = (self.p + torch.sign(r - self.target) * self.step_size).clamp(0.0, 1.0)
        self.p.copy_(torch.where(due, moved, self.p))
        self.sign_sum.copy_(torch.where(due, torch.zeros_like(self.sign_sum), self.sign_sum))
