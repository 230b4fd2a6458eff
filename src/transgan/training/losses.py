"""GAN losses: WGAN-GP with drift (the paper's), hinge, and non-saturating logistic + R1.

The discriminator sees real, fake and (for penalties) interpolated images in *one* forward
pass — a D without batch statistics computes the same as in separate passes, and it keeps
DDP to one forward per backward. A D with BatchNorm (the DCGAN reference) gets one pass
per set instead (``separate_batches``), as DCGAN trains. Penalties differentiate D twice,
which the fused attention kernels cannot do; that forward runs on the math kernel (see
``double_backward_attention``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

LOSSES = ("wgangp-eps", "hinge", "logistic")

Augment = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class LossConfig:
    kind: str = "wgangp-eps"  # "wgangp-eps", "hinge" or "logistic" (non-saturating)
    gp_weight: float = 10.0  # WGAN-GP penalty weight
    eps_weight: float = 0.001  # drift term weight on E[D(x)²] (wgangp-eps)
    r1_gamma: float = 1.0  # R1 weight γ for the logistic loss (penalty = γ/2·E‖∇D(x)‖²)

    def __post_init__(self) -> None:
        if self.kind not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.kind!r}")

    @property
    def has_penalty(self) -> bool:
        return self.kind == "wgangp-eps" or (self.kind == "logistic" and self.r1_gamma > 0)


@contextlib.contextmanager
def double_backward_attention(enabled: bool = True) -> Iterator[None]:
    """Route SDPA to its math kernel, the one that supports create_graph backward."""
    if not enabled:
        yield
        return
    with sdpa_kernel([SDPBackend.MATH]):
        yield


def _input_grad(
    outputs: torch.Tensor, inputs: torch.Tensor, scale: torch.Tensor | None = None
) -> torch.Tensor:
    """d(Σ outputs)/d inputs, (B, C·H·W).

    With ``scale`` (fp16: the GradScaler's), the backward starts from the mean of the
    outputs times ``scale`` — the magnitude the scaled loss's own backward has — and the
    gradient is unscaled after, in fp32, so small half-precision gradients do not underflow
    to 0 (AMP's gradient-penalty recipe). Starting from the sum would put ``scale`` itself
    (2¹⁶ at first) into fp16, which overflows."""
    if scale is None:
        (grad,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
        return grad.flatten(1)
    n = outputs.numel()
    (grad,) = torch.autograd.grad(outputs.float().sum() * (scale / n), inputs, create_graph=True)
    return (grad.float() * (n / scale)).flatten(1)


def _logits(
    discriminator: Callable[[torch.Tensor], torch.Tensor],
    parts: list[torch.Tensor],
    separate: bool,
) -> list[torch.Tensor]:
    """D's float logits for each batch in ``parts``: one forward pass over all of them, or
    one pass each when D has batch statistics (BatchNorm must not mix reals and fakes)."""
    if separate:
        return [discriminator(x).float() for x in parts]
    return list(discriminator(torch.cat(parts)).float().split(parts[0].shape[0]))


def discriminator_loss(
    discriminator: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    config: LossConfig,
    augment: Augment,
    separate_batches: bool = False,
    penalty_weight: float = 1.0,
    grad_scale: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """D's loss on a batch of real and (detached) fake images.

    ``separate_batches``: run reals, fakes (and interpolates) through D in separate passes,
    for discriminators with batch statistics. ``penalty_weight``: lazy regularisation —
    0 skips the gradient penalty / R1 (and its double backward) on this step, k > 0 scales
    it by k (computed every k-th step, StyleGAN2's "lazy regularisation"); 1 = every step.
    ``grad_scale``: under fp16, the GradScaler's scale, used for the penalty's input gradient.

    Returns:
        The scalar loss and detached statistics: ``d_real``, ``d_fake`` (mean logits),
        ``penalty`` (as added to the loss) and ``d_loss``.
    """
    b = real.shape[0]
    fake = fake.detach()
    penalize = config.has_penalty and penalty_weight > 0
    penalty = torch.zeros((), device=real.device)
    if config.kind == "wgangp-eps" and penalize:
        alpha = torch.rand(b, 1, 1, 1, device=real.device, dtype=real.dtype)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        with double_backward_attention():
            parts = [augment(real), augment(fake), augment(mixed)]
            d_real, d_fake, d_mixed = _logits(discriminator, parts, separate_batches)
            grad_norm = _input_grad(d_mixed, mixed, grad_scale).float().norm(2, dim=1)
        penalty = config.gp_weight * (grad_norm - 1).square().mean()
    elif config.kind == "logistic" and penalize:
        real = real.detach().requires_grad_(True)
        with double_backward_attention():
            parts = [augment(real), augment(fake)]
            d_real, d_fake = _logits(discriminator, parts, separate_batches)
            grad = _input_grad(d_real, real, grad_scale).float()
        penalty = 0.5 * config.r1_gamma * grad.square().sum(1).mean()
    else:
        d_real, d_fake = _logits(discriminator, [augment(real), augment(fake)], separate_batches)
    if penalize and penalty_weight != 1.0:
        penalty = penalty * penalty_weight
    if config.kind == "wgangp-eps":
        adv = d_fake.mean() - d_real.mean() + config.eps_weight * d_real.square().mean()
    elif config.kind == "hinge":
        adv = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
    else:
        adv = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    loss = adv + penalty
    stats = {
        "d_real": d_real.detach().mean(),
        "d_fake": d_fake.detach().mean(),
        "penalty": penalty.detach(),
        "d_loss": loss.detach(),
    }
    return loss, stats


def generator_loss(d_fake: torch.Tensor, config: LossConfig) -> torch.Tensor:
    """G's adversarial loss from D's logits on (augmented) fakes."""
    d_fake = d_fake.float()
    if config.kind == "logistic":
        return F.softplus(-d_fake).mean()
    return -d_fake.mean()  # WGAN and hinge: G maximises D(G(z))
