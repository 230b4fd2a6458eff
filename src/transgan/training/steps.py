"""One training iteration: ``n_critic`` D steps, then one G step — no host synchronisation.

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
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from transgan.training.ada import AugmentProbability
from transgan.training.augment import AugmentConfig, diff_augment, random_xflip
from transgan.training.config import TrainConfig
from transgan.training.ema import EMA
from transgan.training.losses import discriminator_loss, generator_loss
from transgan.training.regularizers import LeCamAnchors

BCR_TRANSLATION = AugmentConfig(policy=("translation",), translation_ratio=0.125)
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


class WithLabels:
    """D (or its DDP wrapper) with labels bound: ``self(x)`` = ``d(x, labels)``.

    The losses call D on reals, fakes, both concatenated, or interpolates; in the D step
    fakes get the reals' labels, so a batch k times the labels' length takes them k times.
    """

    def __init__(self, d: Callable[..., torch.Tensor], labels: torch.Tensor) -> None:
        self.d, self.labels = d, labels

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        repeats = x.shape[0] // self.labels.shape[0]
        return self.d(x, self.labels.repeat(repeats))


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


def _backward(loss: torch.Tensor, scaler: torch.amp.GradScaler | None) -> None:
    (scaler.scale(loss) if scaler is not None else loss).backward()


def _split(batch: torch.Tensor | tuple | list) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A loader batch -> (images, labels or None)."""
    if isinstance(batch, tuple | list):
        return batch[0], batch[1]
    return batch, None


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
    g, d = nets.generator, nets.discriminator
    latent_dim = g.config.latent_dim
    mirror = cfg.mirror_used()

    def augment_all(x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, cfg.augment)

    def augment(x: torch.Tensor) -> torch.Tensor:
        if nets.augment_p is None:
            return augment_all(x)
        return nets.augment_p.apply(x, augment_all)

    # bCR's second view: the run's augmentation drawn again, through the same p as every
    # other image D sees (with p = 0 it is the image itself); bCR's own translation (1/8 of
    # the side) only when the run has no augmentation at all
    def consistency_view(x: torch.Tensor) -> torch.Tensor:
        if not cfg.augment.policy:
            return diff_augment(x, BCR_TRANSLATION)
        return augment(x)

    # where the run is (kimg before this iteration), for scheduled γ
    gamma_scale = cfg.loss.gamma_scale((nimg_after - nimg_step) / 1000)
    separate = getattr(d, "batch_statistics", False)  # BatchNorm: reals and fakes apart
    k = cfg.accum_steps  # micro-batches per optimizer step; gradients add up (mean losses / k)
    every = cfg.penalty_every
    d_params = list(d.parameters())
    real = None
    kept_fakes: list[torch.Tensor] = []  # --reuse-fakes: the D step's fakes, with G's graph
    for j in range(cfg.n_critic):
        penalty_weight = float(every) if (first_d_step + j) % every == 0 else 0.0
        penalty_weight *= gamma_scale  # --r1-gamma-end: γ decays over the run
        real, labels = _split(next(data))
        real = real.to(device, non_blocking=True)
        if mirror:
            real = random_xflip(real)
        if labels is not None:
            labels = labels.to(device, non_blocking=True)
        z = torch.randn(local_batch, latent_dim, device=device)
        nets.opt_d.zero_grad(set_to_none=True)  # never carry gradients into a D step
        # fp16: the penalty's input gradient is taken at the scaler's scale (no host sync)
        grad_scale = None
        if nets.scaler is not None:
            grad_scale = nets.scaler.scale(torch.ones((), device=device))
        sums = MicroBatchMeans(k, device)
        label_chunks = labels.chunk(k) if labels is not None else [None] * k
        for i, (real_i, z_i, y_i) in enumerate(
            zip(real.chunk(k), z.chunk(k), label_chunks, strict=True)
        ):
            if cfg.reuse_fakes:  # made once with G's graph; G's step below reuses them
                with _no_sync(nets.g_train, i < k - 1), autocast(cfg, device):
                    fake = nets.g_train(z_i) if y_i is None else nets.g_train(z_i, y_i)
                kept_fakes.append(fake)
            else:
                with torch.no_grad(), autocast(cfg, device):
                    fake = g(z_i) if y_i is None else g(z_i, y_i)  # fakes get the reals' labels
            d_call = nets.d_train
            if penalty_weight > 0 and cfg.loss.has_penalty and nets.d_penalty is not None:
                d_call = nets.d_penalty
            d_fn = d_call if y_i is None else WithLabels(d_call, y_i)
            with _no_sync(d_call, i < k - 1), autocast(cfg, device):
                loss, parts = discriminator_loss(
                    d_fn,
                    real_i,
                    fake.float(),
                    cfg.loss,
                    augment,
                    separate_batches=separate,
                    penalty_weight=penalty_weight,
                    grad_scale=grad_scale,
                    consistency_augment=consistency_view,
                    lecam=nets.lecam,
                )
                _backward(loss / k, nets.scaler)
            sums.add(loss, parts)
        if nets.lecam is not None:  # once per D step, from the whole (global) batch's means
            nets.lecam.update(sums.stats["d_real"], sums.stats["d_fake"])
        if nets.augment_p is not None:  # ADA: p follows E[sign D(real)]
            nets.augment_p.observe(sums.stats["d_real_sign"])
            sums.stats["augment_p"] = nets.augment_p.p.clone()
        # fp16: a penalty taken at a too-large scale overflows as the gradients do (the
        # scaler skips the step and lowers its scale): routine, so the loss counts as a
        # failure only where the penalty is finite
        finite_penalty = torch.isfinite(sums.stats["penalty"])
        check = torch.where(finite_penalty, sums.loss, torch.zeros_like(sums.loss))
        step = optimizer_step(nets.opt_d, d_params, cfg.grad_clip, nets.scaler, check)
        stats.add({**sums.stats, **{f"d_{key}": v for key, v in step.items()}})

    # G step. D's parameters are frozen so G's backward writes no gradient into D.
    d.requires_grad_(False)
    nets.opt_g.zero_grad(set_to_none=True)
    if cfg.reuse_fakes:  # G's step on the D step's latents, labels and fakes
        label_chunks = labels.chunk(k) if labels is not None else [None] * k
    else:
        z = torch.randn(local_g_batch, latent_dim, device=device)
        g_labels = None
        if nets.class_probs is not None:  # G's classes in the data's proportions
            g_labels = torch.multinomial(nets.class_probs, local_g_batch, replacement=True)
        label_chunks = g_labels.chunk(k) if g_labels is not None else [None] * k
    real_label_chunks = labels.chunk(k) if labels is not None else [None] * k
    relativistic = cfg.loss.kind == "relativistic"
    sums = MicroBatchMeans(k, device)
    for i, (z_i, real_i, y_i, y_real) in enumerate(
        zip(z.chunk(k), real.chunk(k), label_chunks, real_label_chunks, strict=True)
    ):
        with _no_sync(nets.g_train, i < k - 1), autocast(cfg, device):
            if cfg.reuse_fakes:
                fake = kept_fakes[i]
            else:
                fake = nets.g_train(z_i) if y_i is None else nets.g_train(z_i, y_i)
            d_fake = d(augment(fake)) if y_i is None else d(augment(fake), y_i)
            d_real = None
            if relativistic:  # R3GAN pairs each fake with a real in G's loss too
                with torch.no_grad():
                    d_real = d(augment(real_i)) if y_real is None else d(augment(real_i), y_real)
            g_adv = generator_loss(d_fake, cfg.loss, d_real)
            parts = {"g_loss": g_adv.detach()}
            loss = g_adv
            if cfg.mtct_weight > 0:
                mtct = mtct_loss(g, real_i)
                loss = loss + cfg.mtct_weight * mtct
                parts["mtct_loss"] = mtct.detach()
            _backward(loss / k, nets.scaler)
        sums.add(loss, parts)
    step = optimizer_step(nets.opt_g, list(g.parameters()), cfg.grad_clip, nets.scaler, sums.loss)
    d.requires_grad_(True)
    stats.add({**sums.stats, **{f"g_{key}": v for key, v in step.items()}})
    nets.ema.update(g, nimg_step, nimg_after)


class MicroBatchMeans:
    """Loss and statistics of one optimizer step, averaged over its ``k`` micro-batches."""

    def __init__(self, k: int, device: torch.device) -> None:
        self.k = k
        self.loss = torch.zeros((), device=device)
        self.stats: dict[str, torch.Tensor] = {}

    def add(self, loss: torch.Tensor, parts: dict[str, torch.Tensor]) -> None:
        self.loss = self.loss + loss.detach() / self.k
        for key, value in parts.items():
            self.stats[key] = self.stats.get(key, 0) + value / self.k


def _no_sync(module: object, skip: bool) -> contextlib.AbstractContextManager:
    """DDP's ``no_sync`` for all but the last micro-batch: one all-reduce per step."""
    inner = getattr(module, "_orig_mod", module)  # under torch.compile
    if skip and isinstance(inner, DistributedDataParallel):
        return inner.no_sync()
    return contextlib.nullcontext()


def mtct_loss(generator: nn.Module, real: torch.Tensor) -> torch.Tensor:
    """MT-CT (paper §3.3): MSE between G's super-resolution of a downsampled real and it."""
    width = generator.config.stage_widths[1]
    low = F.interpolate(real, size=(width, width), mode="area")  # (B,3,H,W) -> (B,3,W₂,W₂)
    return F.mse_loss(generator.super_resolve(low).float(), real.float())
