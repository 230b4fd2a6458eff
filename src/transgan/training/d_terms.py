"""The discriminator's loss as a list of terms, each with one job.

A D step shows D one batch of views in one forward pass — reals and fakes, and whatever
each term adds (the gradient penalty's interpolates, bCR's second views) — then asks each
term for its part of the loss and its statistics, and adds them up in the list's order:

| term | adds to D's pass | its part of the loss |
|---|---|---|
| ``AdversarialTerm`` | reals, fakes | WGAN + drift, hinge, logistic or relativistic |
| ``GradientPenalty`` | interpolates (WGAN-GP) | GP / R1 / R1 + R2, lazily weighted, γ scheduled |
| ``ConsistencyTerm`` | bCR's second views | λ·E‖D(x) − D(T(x))‖² on reals and fakes |
| ``LeCamTerm`` | — | λ·(E‖D(x) − α_F‖² + E‖D(G(z)) − α_R‖²) |

Adding a term is one class here and one line in ``DiscriminatorLoss``. A D with batch
statistics (BatchNorm) gets one pass per view instead, as DCGAN trains. The penalty
differentiates D twice, which the fused attention kernels cannot do: a pass with it runs on
the math kernel (``double_backward_attention``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from transgan.training.d_inputs import DInputs
from transgan.training.losses import (
    LossConfig,
    d_adversarial_loss,
    double_backward_attention,
    input_gradients,
)
from transgan.training.regularizers import LeCamAnchors, consistency_penalty

Tensor = torch.Tensor


@dataclass
class DBatch:
    """One D micro-step: its reals and (detached) fakes, the views D is shown by name, and
    after D's pass its logits by the same names."""

    real: Tensor
    fake: Tensor
    penalty_weight: float = 1.0  # lazy regularisation × γ's schedule (0: no penalty now)
    grad_scale: Tensor | None = None  # fp16: the GradScaler's scale, for the penalty
    views: dict[str, Tensor] = field(default_factory=dict)
    logits: dict[str, Tensor] = field(default_factory=dict)


class DTerm:
    """A part of D's loss: what it adds to D's pass, and its loss from D's logits."""

    def before_views(self, batch: DBatch) -> None:
        """Prepare the batch before any view is made (the penalty marks its inputs)."""

    def add_views(self, batch: DBatch, inputs: DInputs) -> None:
        """Add the images this term needs D's logits on to ``batch.views``."""

    def loss(self, batch: DBatch) -> tuple[Tensor | None, dict[str, Tensor]]:
        raise NotImplementedError

    def after_step(self, means: dict[str, Tensor]) -> None:
        """Once per D step, with the step's mean statistics (LeCam moves its anchors)."""


class AdversarialTerm(DTerm):
    """The GAN loss on D's logits of the (augmented) reals and fakes."""

    def __init__(self, config: LossConfig) -> None:
        self.config = config

    def add_views(self, batch: DBatch, inputs: DInputs) -> None:
        batch.views["real"] = inputs.augment(batch.real)
        batch.views["fake"] = inputs.augment(batch.fake)

    def loss(self, batch: DBatch) -> tuple[Tensor, dict[str, Tensor]]:
        d_real, d_fake = batch.logits["real"], batch.logits["fake"]
        stats = {
            "d_real": d_real.detach().mean(),
            "d_fake": d_fake.detach().mean(),
            "d_real_sign": d_real.detach().sign().mean(),  # ADA's overfitting measure
        }
        return d_adversarial_loss(self.config, d_real, d_fake), stats


class GradientPenalty(DTerm):
    """WGAN-GP's penalty at interpolates, R1 on reals, or R1 + R2 (relativistic): computed on
    every ``every``-th D step and weighted ×``every`` (lazy regularisation), γ following its
    schedule (``LossConfig.gamma_scale``). Reports 0 on steps without it, and for losses
    without a penalty."""

    def __init__(self, config: LossConfig, every: int = 1) -> None:
        self.config, self.every = config, every
        self.inputs: list[Tensor] = []  # what this step differentiates D at

    def weight_at(self, d_step: int, kimg: float) -> float:
        """The penalty's weight on the run's D step ``d_step``, ``kimg`` into the run."""
        weight = float(self.every) if d_step % self.every == 0 else 0.0
        return weight * self.config.gamma_scale(kimg)

    def active(self, batch: DBatch) -> bool:
        return self.config.has_penalty and batch.penalty_weight > 0

    def before_views(self, batch: DBatch) -> None:
        self.inputs = []
        if not self.active(batch):
            return
        if self.config.kind == "wgangp-eps":
            real, fake = batch.real, batch.fake
            alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
            self.inputs = [(alpha * real + (1 - alpha) * fake).requires_grad_(True)]
            return
        batch.real = batch.real.detach().requires_grad_(True)  # R1 on reals
        self.inputs = [batch.real]
        if self.config.kind == "relativistic":  # and R2 on fakes
            batch.fake = batch.fake.requires_grad_(True)
            self.inputs.append(batch.fake)

    def add_views(self, batch: DBatch, inputs: DInputs) -> None:
        if self.active(batch) and self.config.kind == "wgangp-eps":
            batch.views["interpolates"] = inputs.augment(self.inputs[0])

    def loss(self, batch: DBatch) -> tuple[Tensor, dict[str, Tensor]]:
        penalty = torch.zeros((), device=batch.real.device)
        if self.active(batch):
            penalty = self._penalty(batch)
            if batch.penalty_weight != 1.0:
                penalty = penalty * batch.penalty_weight
        self.inputs = []
        return penalty, {"penalty": penalty.detach()}

    def _penalty(self, batch: DBatch) -> Tensor:
        if self.config.kind == "wgangp-eps":
            outputs, weight = batch.logits["interpolates"], self.config.gp_weight
            (grad,) = input_gradients(outputs, tuple(self.inputs), batch.grad_scale)
            return weight * (grad.float().norm(2, dim=1) - 1).square().mean()
        outputs = batch.logits["real"]
        if len(self.inputs) == 2:
            outputs = torch.cat([outputs, batch.logits["fake"]])
        grads = input_gradients(outputs, tuple(self.inputs), batch.grad_scale)
        return 0.5 * self.config.r1_gamma * sum(g.float().square().sum(1).mean() for g in grads)


class ConsistencyTerm(DTerm):
    """bCR: D gives the second view T(x) of each real and fake the logit it gives x."""

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def add_views(self, batch: DBatch, inputs: DInputs) -> None:
        batch.views["real_view"] = inputs.second_view(batch.real.detach())
        batch.views["fake_view"] = inputs.second_view(batch.fake.detach())

    def loss(self, batch: DBatch) -> tuple[Tensor, dict[str, Tensor]]:
        logits = batch.logits
        bcr = consistency_penalty(logits["real"], logits["real_view"], self.weight)
        bcr = bcr + consistency_penalty(logits["fake"], logits["fake_view"], self.weight)
        return bcr, {"bcr": bcr.detach()}


class LeCamTerm(DTerm):
    """LeCam: D's logits pulled towards the other side's moving averages."""

    def __init__(self, weight: float, anchors: LeCamAnchors | None) -> None:
        if anchors is None:
            raise ValueError("lecam_weight > 0 needs the LeCam anchors (lecam=LeCamAnchors())")
        self.weight, self.anchors = weight, anchors

    def loss(self, batch: DBatch) -> tuple[Tensor, dict[str, Tensor]]:
        reg = self.anchors.penalty(batch.logits["real"], batch.logits["fake"], self.weight)
        return reg, {"lecam": reg.detach()}

    def after_step(self, means: dict[str, Tensor]) -> None:
        # from the whole (global) batch's means: accumulation computes one big batch's update
        self.anchors.update(means["d_real"], means["d_fake"])


class DiscriminatorLoss:
    """D's loss on one micro-batch: its terms, one pass of D over their views."""

    def __init__(
        self,
        config: LossConfig,
        *,
        penalty_every: int = 1,
        lecam: LeCamAnchors | None = None,
        separate_batches: bool = False,
    ) -> None:
        self.penalty = GradientPenalty(config, penalty_every)
        self.terms: list[DTerm] = [AdversarialTerm(config), self.penalty]
        if config.bcr_weight > 0:
            self.terms.append(ConsistencyTerm(config.bcr_weight))
        if config.lecam_weight > 0:
            self.terms.append(LeCamTerm(config.lecam_weight, lecam))
        self.separate = separate_batches  # BatchNorm: reals and fakes in passes of their own

    def __call__(
        self, d: Callable[[Tensor], Tensor], batch: DBatch, inputs: DInputs
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """The summed loss and the terms' detached statistics (and ``d_loss``)."""
        batch.fake = batch.fake.detach()
        for term in self.terms:
            term.before_views(batch)
        for term in self.terms:
            term.add_views(batch, inputs)
        total, stats = None, {}
        with double_backward_attention(self.penalty.active(batch)):
            batch.logits = self._logits(d, batch.views)
            for term in self.terms:
                part, term_stats = term.loss(batch)
                total = part if total is None else total + part
                stats.update(term_stats)
        stats["d_loss"] = total.detach()
        return total, stats

    def after_step(self, means: dict[str, Tensor]) -> None:
        for term in self.terms:
            term.after_step(means)

    def _logits(self, d: Callable[[Tensor], Tensor], views: dict[str, Tensor]) -> dict:
        """D's float logits for each view: one pass over all of them, or one pass each."""
        if self.separate:
            return {name: d(x).float() for name, x in views.items()}
        size = next(iter(views.values())).shape[0]
        logits = d(torch.cat(list(views.values()))).float().split(size)
        return dict(zip(views, logits, strict=True))


class _FixedViews(DInputs):
    """A pipe with given augmentations (for ``discriminator_loss``)."""

    def __init__(self, augment: Callable[[Tensor], Tensor], second: Callable | None) -> None:
        self._augment, self._second = augment, second or augment

    def augment(self, x: Tensor) -> Tensor:
        return self._augment(x)

    def second_view(self, x: Tensor) -> Tensor:
        return self._second(x)


def discriminator_loss(
    d: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    config: LossConfig,
    augment: Callable[[Tensor], Tensor] = lambda x: x,
    **options: object,
) -> tuple[Tensor, dict[str, Tensor]]:
    """``DiscriminatorLoss`` in one call, for checks of the loss by itself: ``augment`` is
    every view's augmentation; ``options``: ``consistency_augment`` (bCR's second view),
    ``penalty_weight``, ``grad_scale``, ``lecam``, ``separate_batches``."""
    loss = DiscriminatorLoss(
        config,
        lecam=options.pop("lecam", None),
        separate_batches=bool(options.pop("separate_batches", False)),
    )
    inputs = _FixedViews(augment, options.pop("consistency_augment", None))
    batch = DBatch(real, fake, float(options.pop("penalty_weight", 1.0)))
    batch.grad_scale = options.pop("grad_scale", None)
    if options:
        raise TypeError(f"unknown options {sorted(options)}")
    return loss(d, batch, inputs)
