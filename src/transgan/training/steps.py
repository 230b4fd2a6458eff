"""One training iteration: ``n_critic`` D steps, then one G step — no host synchronisation.

The iteration reads as its phases: ``d_step`` (G's fakes, then D's loss — its terms,
``d_terms.py`` — on what the pipe ``d_inputs.DInputs`` shows D, then D's optimizer) and
``g_step`` (G's loss, ``g_terms.py``, from D's logits on its fakes, then G's optimizer).
Micro-batches, gradient accumulation, fp16 loss scaling and DDP's no-sync live in one place,
``MicroBatches``.

Statistics stay on the device as running sums and are read once per tick. A step whose
gradient norm is not finite is skipped inside the fused Adam kernel (``found_inf``), so
neither the skip nor its count needs the host. Under fp16 the GradScaler skips steps that
overflow while it finds its scale; those are counted apart (``*_overflow``) and are not
failures.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from transgan.training.ada import AugmentProbability
from transgan.training.config import TrainConfig
from transgan.training.d_inputs import DInputs
from transgan.training.d_terms import DBatch, DiscriminatorLoss
from transgan.training.ema import EMA
from transgan.training.g_terms import GeneratorLoss
from transgan.training.regularizers import LeCamAnchors

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class Networks:
    """The trained networks and what updates them."""

    generator: nn.Module  # the plain module (weights, EMA source, saving)
    discriminator: nn.Module
    g_train: Callable[[torch.Tensor], torch.Tensor]  # G as called in training (DDP/compiled)
    d_train: Callable[[torch.Tensor], torch.Tensor]  # D for its own step (DDP/compiled)
    ema: EMA
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None  # fp16 only
    class_probs: torch.Tensor | None = None  # --cond: the data's class shares (G's labels)
    # D for the penalty steps (DDP, never compiled: compiled graphs have no double backward);
    # None: ``d_train``
    d_penalty: Callable[[torch.Tensor], torch.Tensor] | None = None
    lecam: LeCamAnchors | None = None  # the LeCam regulariser's moving averages (if on)
    # --augment-p / --ada-target: the share of D's inputs augmented (None: all of them)
    augment_p: AugmentProbability | None = None


@dataclass
class TickStats:
    """Running sums on the device; ``read`` syncs once."""

    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, values: dict[str, torch.Tensor]) -> None:
        for key, value in values.items():
            v = value.detach().float()
            self.sums[key] = self.sums[key] + v if key in self.sums else v.clone()
            self.counts[key] = self.counts.get(key, 0) + 1


def autocast(cfg: TrainConfig, device: torch.device) -> contextlib.AbstractContextManager:
    if cfg.precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=AUTOCAST_DTYPES[cfg.precision])


# Under fp16 the GradScaler halves its scale on every overflow and retries with the next
# batch; that is normal. An overflow that persists down to this scale is a real failure.
FP16_FLOOR_SCALE = 1.0


def optimizer_step(
    opt: torch.optim.Optimizer,
    params: list[nn.Parameter],
    grad_clip: float,
    scaler: torch.amp.GradScaler | None,
    loss: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """Clip and step; skip the step (on the device) if the gradient is not finite.

    Returns 0-dim float tensors (no host sync):
        ``skipped``: 1.0 for a failed step — a non-finite gradient without fp16; with fp16,
        a non-finite loss or an overflow at the scaler's floor scale. ``overflow`` (fp16
        only): 1.0 when the scaler skipped the step to lower its scale, which is routine.
    """
    if scaler is not None:
        scaler.unscale_(opt)
    max_norm = grad_clip if grad_clip > 0 else float("inf")
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
    nonfinite = ~torch.isfinite(norm)
    if scaler is None:
        opt.found_inf = nonfinite.float()  # read by the fused Adam kernel: skip without a sync
        opt.step()
        return {"skipped": nonfinite.float()}
    # The scale this step used (a device tensor; GradScaler has no sync-free public getter).
    at_floor = scaler._scale.detach().reshape(()) <= FP16_FLOOR_SCALE
    scaler.step(opt)
    scaler.update()
    failed = ~torch.isfinite(loss.detach().float()) | (nonfinite & at_floor)
    return {"skipped": failed.float(), "overflow": nonfinite.float()}


def train_iteration(
    nets: Networks,
    data: Iterator[torch.Tensor | tuple[torch.Tensor, torch.Tensor]],
    cfg: TrainConfig,
    *,
    device: torch.device,
    local_batch: int,
    local_g_batch: int,
    nimg_step: int,
    nimg_after: int,
    stats: TickStats,
    first_d_step: int = 0,
) -> None:
    """``n_critic`` D steps and one G step; updates the EMA.

    Args:
        nimg_step: real images this iteration shows D over all ranks (batch · n_critic);
            the EMA's half-life is counted in these images, like kimg.
        nimg_after: the run's real-image counter after this iteration.
        first_d_step: the run's count of D steps before this iteration; with
            ``cfg.penalty_every`` = k the penalty is computed on D steps 0, k, 2k, … ×k.
    """
    inputs = DInputs(cfg.augment, nets.augment_p, cfg.mirror_used(), device)
    d_loss = DiscriminatorLoss(
        cfg.loss,
        penalty_every=cfg.penalty_every,
        lecam=nets.lecam,
        separate_batches=getattr(nets.discriminator, "batch_statistics", False),
    )
    kimg = (nimg_after - nimg_step) / 1000  # where the run is before this iteration
    fakes: list[torch.Tensor] = []
    for j in range(cfg.n_critic):
        real, labels = inputs.reals(next(data))
        weight = d_loss.penalty.weight_at(first_d_step + j, kimg)
        fakes = d_step(nets, cfg, d_loss, inputs, real, labels, weight, local_batch, stats)
    g_step(nets, cfg, inputs, real, labels, fakes, local_g_batch, stats)
    nets.ema.update(nets.generator, nimg_step, nimg_after)


def d_step(
    nets: Networks,
    cfg: TrainConfig,
    d_loss: DiscriminatorLoss,
    inputs: DInputs,
    real: torch.Tensor,
    labels: torch.Tensor | None,
    penalty_weight: float,
    local_batch: int,
    stats: TickStats,
) -> list[torch.Tensor]:
    """One D step on ``real``: fakes from new latents (they get the reals' labels), D's loss
    over the micro-batches, D's optimizer. Returns the fakes with G's graph under
    ``--reuse-fakes`` (G's step takes them), else an empty list."""
    g = nets.generator
    z = torch.randn(local_batch, g.config.latent_dim, device=inputs.device)
    nets.opt_d.zero_grad(set_to_none=True)  # never carry gradients into a D step
    micro = MicroBatches(cfg, nets.scaler, inputs.device)
    d_call = nets.d_train  # the penalty's double backward needs D uncompiled
    if penalty_weight > 0 and cfg.loss.has_penalty and nets.d_penalty is not None:
        d_call = nets.d_penalty
    kept: list[torch.Tensor] = []
    for i, (real_i, z_i, y_i) in enumerate(micro.split(real, z, labels)):
        if cfg.reuse_fakes:  # made once with G's graph; G's step reuses them
            with micro.context(nets.g_train, i):
                kept.append(_generate(nets.g_train, z_i, y_i))
            fake = kept[-1]
        else:
            with torch.no_grad(), autocast(cfg, inputs.device):
                fake = _generate(g, z_i, y_i)
        batch = DBatch(real_i, fake.float(), penalty_weight, micro.penalty_grad_scale())
        with micro.context(d_call, i):
            loss, parts = d_loss(inputs.bind(d_call, y_i), batch, inputs)
            micro.backward(loss, parts)
    d_loss.after_step(micro.stats)  # LeCam's anchors move once per step
    micro.stats.update(inputs.after_d_step(micro.stats))  # ADA's p follows D's sign on reals
    # fp16: a penalty taken at a too-large scale overflows as the gradients do (the scaler
    # skips the step and lowers its scale): routine, so the loss counts as a failure only
    # where the penalty is finite
    finite_penalty = torch.isfinite(micro.stats["penalty"])
    check = torch.where(finite_penalty, micro.loss, torch.zeros_like(micro.loss))
    d_params = list(nets.discriminator.parameters())
    step = optimizer_step(nets.opt_d, d_params, cfg.grad_clip, nets.scaler, check)
    stats.add({**micro.stats, **{f"d_{key}": v for key, v in step.items()}})
    return kept


def g_step(
    nets: Networks,
    cfg: TrainConfig,
    inputs: DInputs,
    real: torch.Tensor,
    labels: torch.Tensor | None,
    kept_fakes: list[torch.Tensor],
    local_g_batch: int,
    stats: TickStats,
) -> None:
    """One G step: fakes (new, or the D step's under ``--reuse-fakes``), D's logits on them
    — and on the last D step's reals for the relativistic pairing — G's loss, G's
    optimizer. D's parameters are frozen so G's backward writes no gradient into D."""
    g, d = nets.generator, nets.discriminator
    d.requires_grad_(False)
    nets.opt_g.zero_grad(set_to_none=True)
    z, g_labels = None, labels  # --reuse-fakes: the D step's fakes and labels
    if not cfg.reuse_fakes:
        z = torch.randn(local_g_batch, g.config.latent_dim, device=inputs.device)
        g_labels = None
        if nets.class_probs is not None:  # G's classes in the data's proportions
            g_labels = torch.multinomial(nets.class_probs, local_g_batch, replacement=True)
    g_loss = GeneratorLoss(cfg.loss, cfg.mtct_weight, g)
    micro = MicroBatches(cfg, nets.scaler, inputs.device)
    for i, (z_i, real_i, y_i, y_real) in enumerate(micro.split(z, real, g_labels, labels)):
        with micro.context(nets.g_train, i):
            fake = kept_fakes[i] if cfg.reuse_fakes else _generate(nets.g_train, z_i, y_i)
            d_fake = inputs.bind(d, y_i)(inputs.augment(fake))
            d_real = None
            if cfg.loss.kind == "relativistic":  # R3GAN pairs each fake with a real
                with torch.no_grad():
                    d_real = inputs.bind(d, y_real)(inputs.augment(real_i))
            loss, parts = g_loss(d_fake, d_real, real_i)
            micro.backward(loss, parts)
    step = optimizer_step(nets.opt_g, list(g.parameters()), cfg.grad_clip, nets.scaler, micro.loss)
    d.requires_grad_(True)
    stats.add({**micro.stats, **{f"g_{key}": v for key, v in step.items()}})


def _generate(g: Callable, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    return g(z) if labels is None else g(z, labels)


class MicroBatches:
    """One optimizer step over ``--accum-steps`` micro-batches, in one place: the split, DDP's
    no-sync on all but the last (one all-reduce per step), autocast, fp16 loss scaling, and
    the step's loss and statistics averaged over the micro-batches (losses are divided by k,
    so the gradients add up to the whole batch's)."""

    def __init__(
        self, cfg: TrainConfig, scaler: torch.amp.GradScaler | None, device: torch.device
    ) -> None:
        self.k, self.cfg, self.scaler, self.device = cfg.accum_steps, cfg, scaler, device
        self.loss = torch.zeros((), device=device)
        self.stats: dict[str, torch.Tensor] = {}

    def split(self, *tensors: torch.Tensor | None) -> list[tuple]:
        """Each tensor in k chunks (None: k Nones), zipped by micro-batch."""
        chunks = [t.chunk(self.k) if t is not None else [None] * self.k for t in tensors]
        return list(zip(*chunks, strict=True))

    def context(self, module: object, i: int) -> contextlib.ExitStack:
        """Autocast, and DDP's ``no_sync`` of ``module`` unless micro-batch i is the last."""
        stack = contextlib.ExitStack()
        stack.enter_context(_no_sync(module, i < self.k - 1))
        stack.enter_context(autocast(self.cfg, self.device))
        return stack

    def penalty_grad_scale(self) -> torch.Tensor | None:
        """fp16: the scale the penalty's input gradient is taken at (no host sync)."""
        if self.scaler is None:
            return None
        return self.scaler.scale(torch.ones((), device=self.device))

    def backward(self, loss: torch.Tensor, parts: dict[str, torch.Tensor]) -> None:
        scaled = loss / self.k
        (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
        self.loss = self.loss + loss.detach() / self.k
        for key, value in parts.items():
            self.stats[key] = self.stats.get(key, 0) + value / self.k


def _no_sync(module: object, skip: bool) -> contextlib.AbstractContextManager:
    """DDP's ``no_sync`` for all but the last micro-batch: one all-reduce per step."""
    inner = getattr(module, "_orig_mod", module)  # under torch.compile
    if skip and isinstance(inner, DistributedDataParallel):
        return inner.no_sync()
    return contextlib.nullcontext()
