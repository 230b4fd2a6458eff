"""What the discriminator is shown: one pipe for every image D sees.

Reals are x-flipped as they are loaded (``--mirror``); every image D is shown — reals and
fakes in the D step, the penalty's interpolates, bCR's second views, G's fakes and the
relativistic pairs' reals in the G step — is augmented through the run's probability p
(``--augment-p``, or ADA's adaptive p; all of them without either); and labels (``--cond``)
are bound to D here. Nothing reaches D another way, so p = 0 means D sees no augmented
image and p = 1 that it sees only augmented ones.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from transgan.training.ada import AugmentProbability
from transgan.training.augment import AugmentConfig, diff_augment, random_xflip

# bCR's own second view when the run has no augmentation: a shift of up to 1/8 of the side
BCR_TRANSLATION = AugmentConfig(policy=("translation",), translation_ratio=0.125)

Batch = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | list[torch.Tensor]


class WithLabels:
    """D (or its DDP wrapper) with labels bound: ``self(x)`` = ``d(x, labels)``.

    D is called on reals, fakes, both concatenated, or interpolates; fakes get the reals'
    labels, so a batch k times the labels' length takes them k times."""

    def __init__(self, d: Callable[..., torch.Tensor], labels: torch.Tensor) -> None:
        self.d, self.labels = d, labels

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        repeats = x.shape[0] // self.labels.shape[0]
        return self.d(x, self.labels.repeat(repeats))


class DInputs:
    """The run's pipe from images to what D sees (see the module's docstring)."""

    def __init__(
        self,
        augment: AugmentConfig,
        augment_p: AugmentProbability | None,
        mirror: bool,
        device: torch.device,
    ) -> None:
        self.policy, self.p, self.mirror, self.device = augment, augment_p, mirror, device

    def reals(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A loader batch on the device: the images (x-flipped with ``--mirror``) and the
        labels (None without them)."""
        real, labels = (batch[0], batch[1]) if isinstance(batch, tuple | list) else (batch, None)
        real = real.to(self.device, non_blocking=True)
        if self.mirror:
            real = random_xflip(real)
        if labels is not None:
            labels = labels.to(self.device, non_blocking=True)
        return real, labels

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """The run's augmentation, applied to a p share of the samples (all of them when the
        run has no p)."""
        if self.p is None:
            return diff_augment(x, self.policy)
        return self.p.apply(x, lambda images: diff_augment(images, self.policy))

    def second_view(self, x: torch.Tensor) -> torch.Tensor:
        """bCR's second view T(x): the run's augmentation drawn again, through the same p;
        bCR's own translation only when the run has no augmentation at all."""
        if not self.policy.policy:
            return diff_augment(x, BCR_TRANSLATION)
        return self.augment(x)

    def after_d_step(self, means: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """ADA: p follows the D step's E[sign D(real)]; returns p for the statistics."""
        if self.p is None:
            return {}
        self.p.observe(means["d_real_sign"])
        return {"augment_p": self.p.p.clone()}

    @staticmethod
    def bind(d: Callable[..., torch.Tensor], labels: torch.Tensor | None) -> Callable:
        """D as called on this batch: with its labels bound, if it has any."""
        return d if labels is None else WithLabels(d, labels)
