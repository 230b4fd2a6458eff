"""Discriminator regularisers without a double backward: bCR and LeCam.

- Balanced consistency regularisation (bCR; Zhao et al., "Improved Consistency
  Regularization for GANs", AAAI 2021): D should give an image and another augmented view of
  it the same logit, on reals and on fakes: λ·(E‖D(x) − D(T(x))‖² + E‖D(G(z)) − D(T(G(z)))‖²).
  ViTGAN trains its ViT discriminator with it (λ = 10).
- LeCam (Tseng et al., "Regularizing Generative Adversarial Networks under Limited Data",
  CVPR 2021): D's logits are pulled towards the moving averages of the *other* side's
  logits, λ·(E‖D(x) − α_F‖² + E‖D(G(z)) − α_R‖²), α_R / α_F the exponential moving averages
  (decay 0.99) of the mean logits on reals / fakes. It keeps D's outputs from drifting apart
  on limited data. The anchors move once per D step, after its penalty (see
  ``LeCamAnchors``).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

LECAM_DECAY = 0.99  # the paper's moving-average decay of the anchors


def consistency_penalty(
    d_view: torch.Tensor, d_other_view: torch.Tensor, weight: float
) -> torch.Tensor:
    """bCR for one set of images: weight · E‖D(view) − D(other view)‖² (mean over the
    batch; both arguments are logits (B,) of the same images)."""
    return weight * (d_view.float() - d_other_view.float()).square().mean()


class LeCamAnchors(nn.Module):
    """The moving averages α_R, α_F of D's mean logits on reals and fakes (buffers, so the
    training state carries them and a resume continues them exactly).

    A D step computes its penalty against the anchors as they stand (``penalty``), then moves
    them once with the whole step's mean logits (``update``): every micro-batch of an
    ``--accum-steps`` step sees the same anchors, so accumulation computes the same update
    as one big batch; under DDP the means are averaged over ranks, so every rank holds the
    same anchors (the global batch's). Until the first update the anchors are 0.
    """

    def __init__(self, decay: float = LECAM_DECAY) -> None:
        super().__init__()
        self.decay = decay
        self.register_buffer("real", torch.zeros(()))
        self.register_buffer("fake", torch.zeros(()))
        self.register_buffer("started", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def update(self, mean_real: torch.Tensor, mean_fake: torch.Tensor) -> None:
        """Move the anchors towards one D step's mean logits on reals and fakes (0-dim; the
        first finite step sets them). Under DDP the means are first averaged over ranks (a
        collective: every rank must call it). A step with a non-finite mean leaves the
        anchors as they were: one bad step must not poison every later one. Device ops
        only: no host sync."""
        means = torch.stack([mean_real.detach().float(), mean_fake.detach().float()])
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(means)
            means = means / dist.get_world_size()
        finite = torch.isfinite(means).all()
        keep = torch.where(self.started, torch.tensor(self.decay, device=means.device), 0.0)
        keep = torch.where(finite, keep, 1.0)  # a non-finite step: the anchors stay
        means = torch.where(finite, means, 0.0)  # (0 · NaN would still be NaN)
        self.real.copy_(keep * self.real + (1 - keep) * means[0])
        self.fake.copy_(keep * self.fake + (1 - keep) * means[1])
        self.started.logical_or_(finite)

    def penalty(self, d_real: torch.Tensor, d_fake: torch.Tensor, weight: float) -> torch.Tensor:
        """weight · (E‖D(x) − α_F‖² + E‖D(G(z)) − α_R‖²) at the anchors as they stand (they
        are constants: no gradient flows into them)."""
        reg = (d_real.float() - self.fake.clone()).square().mean()
        reg = reg + (d_fake.float() - self.real.clone()).square().mean()
        return weight * reg
