"""GAN losses: WGAN-GP with drift (the paper's), hinge, non-saturating logistic + R1, and
R3GAN's relativistic pairing + R1 + R2 (Huang et al., NeurIPS 2024) — their settings
(``LossConfig``), the adversarial losses of D and G, and the gradient machinery of the
penalties. D's loss as a whole, with bCR and LeCam on top, is ``d_terms.DiscriminatorLoss``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

LOSSES = ("wgangp-eps", "hinge", "logistic", "relativistic")

Augment = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class LossConfig:
    kind: str = "wgangp-eps"  # "wgangp-eps", "hinge", "logistic" or "relativistic" (R3GAN)
    gp_weight: float = 10.0  # WGAN-GP penalty weight
    eps_weight: float = 0.001  # drift term weight on E[D(x)²] (wgangp-eps)
    # R1 weight γ (penalty = γ/2·E‖∇D(x)‖²) of the logistic loss; the relativistic loss
    # takes the same γ for R1 and R2 (R2: the same penalty on fakes), as R3GAN does
    r1_gamma: float = 1.0
    bcr_weight: float = 0.0  # λ of balanced consistency regularisation; 0 = off
    lecam_weight: float = 0.0  # λ of the LeCam regulariser; 0 = off
    # R3GAN's decaying γ: from r1_gamma at the start to this after r1_gamma_kimg (a cosine),
    # then held; None = fixed. The horizon defaults to the run's --kimg when the run starts
    # (TrainConfig fills it in, and config.json keeps it: a resume with a larger --kimg does
    # not stretch the schedule and raise γ again).
    r1_gamma_end: float | None = None
    r1_gamma_kimg: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.kind!r}")
        end = self.r1_gamma_end
        if end is not None and not (isinstance(end, int | float) and end >= 0):
            raise ValueError(f"loss r1_gamma_end must be a number >= 0 or None, got {end!r}")
        if end is not None and self.kind not in ("logistic", "relativistic"):
            raise ValueError(
                f"--r1-gamma-end schedules R1 (/ R2) of the logistic and relativistic losses, "
                f"not {self.kind!r}"
            )
        horizon = self.r1_gamma_kimg
        if horizon is not None and not (isinstance(horizon, int | float) and horizon > 0):
            raise ValueError(f"loss r1_gamma_kimg must be a number > 0, got {horizon!r}")
        if horizon is not None and end is None:
            raise ValueError(
                f"--r1-gamma-kimg {horizon:g} is the horizon of --r1-gamma-end's schedule; "
                "give --r1-gamma-end too, or drop --r1-gamma-kimg"
            )
        if end is not None and self.r1_gamma == 0:
            raise ValueError(
                f"--r1-gamma 0 turns R1 off, so --r1-gamma-end {end:g} would schedule nothing; "
                "give --r1-gamma > 0 to decay from, or drop --r1-gamma-end"
            )
        for name in ("gp_weight", "eps_weight", "r1_gamma", "bcr_weight", "lecam_weight"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value >= 0):
                raise ValueError(f"loss {name} must be a number >= 0, got {value!r}")

    def gamma_scale(self, kimg: float) -> float:
        """γ after ``kimg`` thousand real images over γ at the start: 1 when fixed; else a
        cosine from 1 down to r1_gamma_end / r1_gamma over ``r1_gamma_kimg``, then held
        (R3GAN decays γ over a fixed horizon)."""
        if self.r1_gamma_end is None:
            return 1.0
        if self.r1_gamma_kimg is None:
            raise ValueError("the γ schedule needs its horizon r1_gamma_kimg")
        t = min(max(kimg / self.r1_gamma_kimg, 0.0), 1.0)
        end = self.r1_gamma_end / self.r1_gamma
        return end + (1.0 - end) * 0.5 * (1.0 + math.cos(math.pi * t))

    @property
    def has_penalty(self) -> bool:
        """Whether the loss has a gradient penalty (a double backward)."""
        if self.kind == "wgangp-eps":
            return True
        return self.kind in ("logistic", "relativistic") and self.r1_gamma > 0


@contextlib.contextmanager
def double_backward_attention(enabled: bool = True) -> Iterator[None]:
    """Route SDPA to its math kernel, the one that supports create_graph backward."""
    if not enabled:
        yield
        return
    with sdpa_kernel([SDPBackend.MATH]):
        yield


def input_gradients(
    outputs: torch.Tensor, inputs: tuple[torch.Tensor, ...], scale: torch.Tensor | None = None
) -> list[torch.Tensor]:
    """d(Σ outputs)/d input for each of ``inputs``, each (B, C·H·W).

    With ``scale`` (fp16: the GradScaler's), the backward starts from the mean of the
    outputs times ``scale`` — the magnitude the scaled loss's own backward has — and the
    gradients are unscaled after, in fp32, so small half-precision gradients do not
    underflow to 0 (AMP's gradient-penalty recipe). Starting from the sum would put
    ``scale`` itself (2¹⁶ at first) into fp16, which overflows."""
    if scale is None:
        grads = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
        return [g.flatten(1) for g in grads]
    n = outputs.numel()
    grads = torch.autograd.grad(outputs.float().sum() * (scale / n), inputs, create_graph=True)
    return [(g.float() * (n / scale)).flatten(1) for g in grads]


def d_adversarial_loss(
    config: LossConfig, d_real: torch.Tensor, d_fake: torch.Tensor
) -> torch.Tensor:
    """D's adversarial loss from its float logits on (augmented) reals and fakes."""
    if config.kind == "wgangp-eps":
        return d_fake.mean() - d_real.mean() + config.eps_weight * d_real.square().mean()
    if config.kind == "hinge":
        return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
    if config.kind == "relativistic":
        return F.softplus(d_fake - d_real).mean()  # −log σ(D(x) − D(G(z))), paired
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def generator_loss(
    d_fake: torch.Tensor, config: LossConfig, d_real: torch.Tensor | None = None
) -> torch.Tensor:
    """G's adversarial loss from D's logits on (augmented) fakes; the relativistic loss also
    takes D's logits on reals (fake i is paired with real i, the reals repeated if fewer)."""
    d_fake = d_fake.float()
    if config.kind == "logistic":
        return F.softplus(-d_fake).mean()
    if config.kind == "relativistic":
        if d_real is None:
            raise ValueError("the relativistic loss needs D's logits on reals for G's step")
        paired = d_real.detach().float().repeat(-(-d_fake.shape[0] // d_real.shape[0]))
        return F.softplus(paired[: d_fake.shape[0]] - d_fake).mean()
    return -d_fake.mean()  # WGAN and hinge: G maximises D(G(z))
