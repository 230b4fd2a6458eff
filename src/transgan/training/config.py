"""TrainConfig: every setting of a training run, as one frozen dataclass saved to JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from transgan import presets
from transgan.data.datasets import BUILTIN_DATASETS
from transgan.data.prepared import is_digits, prepared_source
from transgan.models.fields import check_fields
from transgan.models.generator import GeneratorConfig
from transgan.training.augment import AugmentConfig
from transgan.training.losses import LossConfig

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# data sets the authors train with random x-flips: flipped unless --no-mirror
FLIPPED_BY_DEFAULT = ("cifar10", "stl10", "celeba", "lsun")


@dataclass(frozen=True)
class TrainConfig:
    # What to train on what
    model: str = "transgan_tiny"  # preset name
    model_overrides: dict[str, Any] = field(default_factory=dict)  # g_* / d_* config fields
    data: str = "digits"  # digits, cifar10, stl10, celeba, or a folder of images
    data_root: str = "data"  # where torchvision data sets are downloaded / found
    max_broken_fraction: float = 0.1  # folder data: stop if more files than this are broken
    # How long, and how often to report
    kimg: float = 100.0  # total length, in thousands of real images shown to D
    max_time: float = 0.0  # also stop (snapshot + state) after this many seconds of training
    tick_kimg: float = 4.0  # one status line, stats.jsonl record and grid per tick
    snap_ticks: int = 10  # snapshot + training state every this many ticks (and at the end)
    keep_states: int = 2  # training states kept on disk (the newest ones)
    grid_size: int = 64  # images in each fakes*.png grid (fixed latents)
    # Optimisation (SPEC §4)
    batch: int = 64  # D batch per step, summed over all ranks
    g_batch: int = 128  # G batch per step, summed over all ranks
    n_critic: int = 5  # D steps per G step
    accum_steps: int = 1  # micro-batches per optimizer step (same math, less memory)
    reuse_fakes: bool = False  # G's step reuses the D step's fakes (one G forward, n_critic 1)
    loss: LossConfig = field(default_factory=LossConfig)
    penalty_every: int = 1  # lazy regularisation: GP / R1 on every k-th D step, weighted ×k
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    lr_rampdown: float = 0.0  # both lrs fall linearly to 0 over this last fraction of the run
    beta1: float = 0.0
    beta2: float = 0.99
    grad_clip: float = 5.0  # max gradient norm per network; 0 turns clipping off
    ema_kimg: float = 500.0  # EMA half-life of G's weights, in kimg
    ema_rampup: float | None = 0.1  # EMA half-life <= rampup · images seen; None: no ramp
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    mtct_weight: float = 0.0  # λ of the MT-CT super-resolution loss (paper: 50); 0 = off
    # Locality-aware attention (SPEC §7): window sizes and when each one ends
    local_kind: str = "none"  # "none", "2d" (Chebyshev window) or "1d" (raster band)
    local_windows: tuple[int, ...] = ()  # window radii, widening
    local_until_kimg: tuple[float, ...] = ()  # kimg at which each window ends -> then global
    local_blocks: str = "last"  # which G blocks are masked: "last" or "all"
    # Metrics during training (rank 0 evaluates the EMA generator; see metrics.py)
    metrics: tuple[str, ...] = ()  # e.g. ("fid10k",); empty = none
    metrics_every_kimg: float = 0.0  # evaluate every this many kimg; 0 = at each snapshot
    metrics_max_real: int | None = None  # real images for the reference statistics; None = all
    inception_weights: str | None = None  # local Inception weights file (offline machines)
    dinov2_weights: str | None = None  # local DINOv2 ViT-L/14 weights file, for fdd metrics
    # Runtime
    seed: int = 0  # each rank seeds with seed · world_size + rank
    device: str = "auto"
    workers: int = 2  # data loader worker processes (file data sets only)
    precision: str = "auto"  # auto, fp32, bf16 or fp16 (autocast; fp32 master weights)
    compile: bool = False  # torch.compile G and D
    grad_checkpointing: bool = False  # recompute each block in backward to save memory
    max_bad_steps: int = 20  # stop after this many steps skipped for non-finite gradients
    cond: bool = False  # class-conditional G and D (labels from the data set)
    mirror: bool | None = None  # x-flip reals; None = the data's default (mirror_resolved)
    tensorboard: bool | None = None  # event files under RUN_DIR/tensorboard; None = if installed
    class_names: tuple[str, ...] = ()  # the data set's classes, filled in when it is read

    def __post_init__(self) -> None:
        check_fields(self, "train", positive=("kimg", "tick_kimg", "batch", "g_batch"))
        checks = [
            (self.kimg > 0, f"kimg must be > 0, got {self.kimg}"),
            (self.max_time >= 0, f"max_time must be >= 0 seconds, got {self.max_time}"),
            (self.tick_kimg > 0, f"tick_kimg must be > 0, got {self.tick_kimg}"),
            (self.snap_ticks >= 1, f"snap_ticks must be >= 1, got {self.snap_ticks}"),
            (self.keep_states >= 1, f"keep_states must be >= 1, got {self.keep_states}"),
            (self.batch >= 1 and self.g_batch >= 1, "batch sizes must be >= 1"),
            (self.n_critic >= 1, f"n_critic must be >= 1, got {self.n_critic}"),
            (self.accum_steps >= 1, f"accum_steps must be >= 1, got {self.accum_steps}"),
            (
                self.batch % self.accum_steps == 0 and self.g_batch % self.accum_steps == 0,
                f"--batch {self.batch} and --g-batch {self.g_batch} must both be divisible by "
                f"--accum-steps {self.accum_steps} (each batch is split into that many "
                "micro-batches)",
            ),
            (
                not self.reuse_fakes
                or (self.n_critic == 1 and self.g_batch == self.batch and self.accum_steps == 1),
                "--reuse-fakes needs --n-critic 1, --g-batch equal to --batch and --accum-steps "
                f"1 (got {self.n_critic}, {self.g_batch} vs {self.batch}, {self.accum_steps}): "
                "G's step takes the one D step's fakes",
            ),
            (
                0 <= self.lr_rampdown <= 1,
                f"lr_rampdown must be a fraction of the run in [0, 1], got {self.lr_rampdown}",
            ),
            (self.penalty_every >= 1, f"penalty_every must be >= 1, got {self.penalty_every}"),
            (self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}"),
            (self.mtct_weight >= 0, f"mtct_weight must be >= 0, got {self.mtct_weight}"),
            (self.local_kind in ("none", "1d", "2d"), "local_kind must be none, 1d or 2d"),
            (self.local_blocks in ("last", "all"), "local_blocks must be last or all"),
            (self.metrics_every_kimg >= 0, "metrics_every_kimg must be >= 0"),
            (
                len(self.local_windows) == len(self.local_until_kimg),
                "local_windows and local_until_kimg need one entry each per window",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if self.loss.r1_gamma_end is not None and self.loss.r1_gamma_kimg is None:
            # γ's schedule runs over the run's length as it starts; kept from then on
            loss = dataclasses.replace(self.loss, r1_gamma_kimg=float(self.kimg))
            object.__setattr__(self, "loss", loss)

    def check_metrics(self) -> None:
        """Refuse unknown metric names before any work (imports the metrics module)."""
        if self.metrics:
            from transgan.evaluation.metrics import parse_metrics

            parse_metrics(",".join(self.metrics))

    def model_config(self) -> presets.ModelConfig:
        """The resolved architecture (preset + overrides + MT-CT embedding if used, and the
        class count under ``cond`` once ``class_names`` is known)."""
        config = presets.get_config(self.model, **self.model_overrides)
        transformer_g = isinstance(config.generator, GeneratorConfig)
        if self.cond:
            transformer_d = hasattr(config.discriminator, "num_classes")
            if not (transformer_g and transformer_d):
                raise ValueError(
                    "--cond needs the TransGAN generator and a transformer discriminator (the "
                    "conv and DCGAN baselines and the ViTGAN generator are unconditional); drop "
                    "--cond, the g_arch/d_arch override or the vitgan_* preset"
                )
            if self.mtct_weight > 0:
                raise ValueError("--cond cannot be combined with MT-CT (--mtct-weight)")
            n = len(self.class_names)
            config = dataclasses.replace(
                config,
                generator=dataclasses.replace(config.generator, num_classes=n),
                discriminator=dataclasses.replace(config.discriminator, num_classes=n),
            )
        if not transformer_g and (self.mtct_weight > 0 or self.local_kind != "none"):
            raise ValueError(
                "MT-CT (--mtct-weight) and locality-aware attention (--local) need the "
                "transformer generator; drop them or use --set g_arch=transformer"
            )
        self.check_mbstd_groups(config, world_size=1)
        if self.mtct_weight > 0:
            generator = dataclasses.replace(config.generator, mtct=True)
            config = dataclasses.replace(config, generator=generator)
        return config

    def check_mbstd_groups(self, config: presets.ModelConfig, world_size: int) -> None:
        """Refuse a minibatch-std group that does not divide what one rank's D sees at once.

        Each rank's D takes ``cat(reals, fakes)`` of its own micro-batch (``--batch`` / ranks
        / ``--accum-steps`` images each); a group that does not divide that count would put
        reals and fakes in one group, and D could tell them apart by the group's spread."""
        group = getattr(config.discriminator, "mbstd_group", 0)
        if not group:
            return
        parts = world_size * self.accum_steps
        micro = (self.batch // parts, self.g_batch // parts)
        if any(m % group for m in micro):
            where = f"{world_size} ranks × " if world_size > 1 else ""
            raise ValueError(
                f"d_mbstd_group={group} must divide each rank's micro-batch (--batch {self.batch}"
                f" / {where}--accum-steps {self.accum_steps} = {micro[0]} images, --g-batch "
                f"{self.g_batch} / {where}{self.accum_steps} = {micro[1]}), so that no group "
                "mixes reals and fakes; choose a group size that divides both, or change the "
                "batch"
            )

    def mirror_used(self) -> bool:
        """Whether the reals are x-flipped (see ``mirror_resolved``)."""
        return self.mirror_resolved()[0]

    def mirror_resolved(self) -> tuple[bool, str]:
        """``mirror`` as given, else off unless ``--data`` is a data set the authors trained
        with x-flips (CIFAR-10, STL-10, CelebA, LSUN, or a folder prepared from one). A
        folder may hold text, digits, logos or maps that a flip spoils, so it is never
        flipped unless asked (as in stylegan2-ada). Returns the value and why, in words."""
        if self.mirror is not None:
            return self.mirror, "--mirror" if self.mirror else "--no-mirror"
        source = prepared_source(self.data) or self.data
        if source in FLIPPED_BY_DEFAULT:
            return True, f"{source}: the authors train it with x-flips; --no-mirror to stop"
        if is_digits(self.data) or source.startswith("mnist"):
            return False, "handwritten digits: a flipped 2 is not a 2"
        if source in BUILTIN_DATASETS:
            return False, f"{source}: --mirror if its images may be flipped"
        return False, "a folder: --mirror if your images may be flipped"

    def tensorboard_used(self) -> bool:
        """``tensorboard`` as given, else on exactly when the package is installed."""
        from transgan.training.tensorboard_log import available

        if self.tensorboard and not available():
            raise ValueError(
                "--tensorboard needs the tensorboard package: pip install 'transgan[tensorboard]'"
            )
        return available() if self.tensorboard is None else self.tensorboard

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        data["loss"] = LossConfig(**data.get("loss", {}))
        aug = dict(data.get("augment", {}))
        if "policy" in aug:
            aug["policy"] = tuple(aug["policy"])
        data["augment"] = AugmentConfig(**aug)
        for key in ("local_windows", "local_until_kimg", "metrics", "class_names"):
            data[key] = tuple(data.get(key, ()))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown training config keys {sorted(unknown)}")
        return cls(**data)
