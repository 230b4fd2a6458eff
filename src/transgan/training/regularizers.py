"""Discriminator regularisers without a double backward: bCR and LeCam.

- Balanced consistency regularisation (bCR; Zhao et al., "Improved Consistency
  Regularization for GANs", AAAI 2021): D should give an image and another augmented view of
  it the same logit, on reals and on fakes: λ·(E‖D(x) − D(T(x))‖² + E‖D(G(z)) − D(T(G(z)))‖²).
  ViTGAN trains its ViT discriminator with it (λ = 10).
- LeCam (Tseng et al., "Regularizing Generative Adversarial Networks under Limited Data",
  CVPR 2021): D's logits are pulled towards the moving averages of the *other* side's
  logits, λ·(E‖D(x) − α_F‖² + E‖D(G(z)) − α_R‖²), α_R / α_F the exponential moving averages
  (decay 0.99) of the mean logits on reals / fakes. It keeps D's outputs from drifting apart
  on limited data.
"""

from __future__ import annotations

import torch
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
    training state carries them and a resume continues them exactly)."""

    def __init__(self, decay: float = LECAM_DECAY) -> None:
        super().__init__()
        self.decay = decay
        self.register_buffer("real", torch.zeros(()))
        self.register_buffer("fake", torch.zeros(()))
        self.register_buffer("started", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def update(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> None:
        """Move the anchors towards this batch's mean logits (device ops only: no host
        sync). The first batch sets them."""
        real, fake = d_real.detach().float().mean(), d_fake.detach().float().mean()
        keep = torch.where(self.started, torch.tensor(self.decay, device=real.device), 0.0)
        self.real.copy_(keep * self.real + (1 - keep) * real)
        self.fake.copy_(keep * self.fake + (1 - keep) * fake)
        self.started.fill_(True)

    def penalty(self, d_real: torch.Tensor, d_fake: torch.Tensor, weight: float) -> torch.Tensor:
        """The anchors move with this batch, then weight · (E‖D(x) − α_F‖² + E‖D(G(z)) − α_R‖²)."""
        self.update(d_real, d_fake)
        reg = (d_real.float() - self.fake.clone()).square().mean()
        reg = reg + (d_fake.float() - self.real.clone()).square().mean()
        return weight * reg
