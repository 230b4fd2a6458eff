"""The generator's loss: the adversarial term and, with ``--mtct-weight``, MT-CT."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from transgan.training.losses import LossConfig, generator_loss


def mtct_loss(generator: nn.Module, real: torch.Tensor) -> torch.Tensor:
    """MT-CT (paper §3.3): MSE between G's super-resolution of a downsampled real and it."""
    width = generator.config.stage_widths[1]
    low = F.interpolate(real, size=(width, width), mode="area")  # (B,3,H,W) -> (B,3,W₂,W₂)
    return F.mse_loss(generator.super_resolve(low).float(), real.float())


class GeneratorLoss:
    """G's loss on one micro-batch from D's logits on its (augmented) fakes — and on reals,
    for the relativistic pairing — plus MT-CT on the reals when it is on."""

    def __init__(self, config: LossConfig, mtct_weight: float, generator: nn.Module) -> None:
        self.config, self.mtct_weight, self.generator = config, mtct_weight, generator

    def __call__(
        self, d_fake: torch.Tensor, d_real: torch.Tensor | None, real: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        adversarial = generator_loss(d_fake, self.config, d_real)
        loss, stats = adversarial, {"g_loss": adversarial.detach()}
        if self.mtct_weight > 0:
            mtct = mtct_loss(self.generator, real)
            loss = loss + self.mtct_weight * mtct
            stats["mtct_loss"] = mtct.detach()
        return loss, stats
