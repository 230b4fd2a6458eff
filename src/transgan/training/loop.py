"""The training job: set up, run ticks, report, save — one process or many (torchrun).

Progress is counted in images shown to D (kimg). Once per tick rank 0 writes a line to
``stats.jsonl``, a grid ``fakes{kimg:06d}.png`` from fixed latents, and every
``snap_ticks`` ticks a snapshot and a training state. SIGINT/SIGTERM save a state and stop.
"""

from __future__ import annotations

import contextlib
import json
import resource
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from transgan import presets
from transgan.data import InfiniteLoader, ShardSampler, build_dataset
from transgan.distributed import DistInfo, all_reduce_sum, any_rank, init_distributed, shutdown
from transgan.ema import EMA
from transgan.fileio import append_jsonl, write_json_atomic
from transgan.images import save_grid
from transgan.locality import LocalityMasks, LocalitySchedule
from transgan.runtime import seed_everything
from transgan.sampling import generate_images, latents
from transgan.snapshot import save_snapshot
from transgan.training import rng
from transgan.training.config import TrainConfig
from transgan.training.rundir import new_run_dir, truncate_jsonl
from transgan.training.state import load_latest_state, save_state
from transgan.training.steps import Networks, TickStats, train_iteration


class TrainingError(RuntimeError):
    """The run stopped for a reason the user must see (non-finite training, bad setup)."""


@dataclass
class Counters:
    nimg: int = 0  # real images shown to D, over all ranks
    tick: int = 0  # completed ticks
    iteration: int = 0  # completed iterations (n_critic D steps + 1 G step)
    data_consumed: int = 0  # samples this rank's loader has delivered
    bad_steps: int = 0  # steps skipped for non-finite gradients

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


# ---------------------------------------------------------------------------------------
# Set-up
# ---------------------------------------------------------------------------------------


def build_networks(cfg: TrainConfig, model_config: presets.ModelConfig, info: DistInfo) -> Networks:
    gan = presets.build_gan(model_config)
    g = gan.generator.to(info.device)
    d = gan.discriminator.to(info.device)
    if cfg.grad_checkpointing:
        for net in (g, d):
            if hasattr(net, "set_grad_checkpointing"):
                net.set_grad_checkpointing(True)
    ema = EMA(g, half_life_kimg=cfg.ema_kimg, rampup=cfg.ema_rampup)
    betas = (float(cfg.beta1), float(cfg.beta2))
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr_g, betas=betas, fused=True)
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr_d, betas=betas, fused=True)
    scaler = torch.amp.GradScaler(info.device.type) if cfg.precision == "fp16" else None
    return Networks(g, d, g, d, ema, opt_g, opt_d, scaler)


def wrap_for_training(nets: Networks, cfg: TrainConfig, info: DistInfo) -> None:
    """DDP (several ranks) and torch.compile around the modules used in the step."""
    g_train, d_train = nets.generator, nets.discriminator
    if info.enabled:
        ids = [info.device.index] if info.device.type == "cuda" else None
        g_train = DistributedDataParallel(g_train, device_ids=ids, broadcast_buffers=False)
        d_train = DistributedDataParallel(d_train, device_ids=ids, broadcast_buffers=False)
    if cfg.compile:
        g_train = torch.compile(g_train)
        if not cfg.loss.has_penalty:  # compiled graphs do not support double backward
            d_train = torch.compile(d_train)
    nets.g_train, nets.d_train = g_train, d_train


def training_state(nets: Networks, counters: Counters, cfg: TrainConfig, info: DistInfo) -> dict:
    """Everything to resume exactly (a collective: every rank must call it)."""
    return {
        "generator": nets.generator.state_dict(),
        "discriminator": nets.discriminator.state_dict(),
        "ema": nets.ema.module.state_dict(),
        "opt_g": nets.opt_g.state_dict(),
        "opt_d": nets.opt_d.state_dict(),
        "scaler": nets.scaler.state_dict() if nets.scaler is not None else {},
        "counters": counters.as_dict(),
        "rng": rng.gather_states(info),
        "config": json.dumps(cfg.to_dict(), sort_keys=True),
    }


def restore(nets: Networks, state: dict[str, Any], info: DistInfo) -> Counters:
    nets.generator.load_state_dict(state["generator"])
    nets.discriminator.load_state_dict(state["discriminator"])
    nets.ema.module.load_state_dict(state["ema"])
    nets.opt_g.load_state_dict(state["opt_g"])
    nets.opt_d.load_state_dict(state["opt_d"])
    if nets.scaler is not None and state["scaler"]:
        nets.scaler.load_state_dict(state["scaler"])
    rng.restore_states(state["rng"], info)
    return Counters(**state["counters"])


# ---------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reduce_tick_stats(stats: TickStats, info: DistInfo) -> dict[str, float]:
    """Means over the tick and over ranks; the one host sync of a tick."""
    out = {}
    for key in sorted(stats.sums):
        total = all_reduce_sum(stats.sums[key], info).item()
        out[key] = total / (stats.counts[key] * info.world_size)
    return out


class _StopRequest:
    """Turns SIGINT/SIGTERM into a flag that the loop checks between iterations."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


# ---------------------------------------------------------------------------------------
# The job
# ---------------------------------------------------------------------------------------


def train(cfg: TrainConfig, *, out: Path, desc: str = "", resume: Path | None = None) -> Path:
    """Train according to ``cfg``; returns the run directory.

    Args:
        cfg: the run's settings.
        out: parent folder of new run directories.
        desc: extra words for the run directory's name.
        resume: an existing run directory to continue from its newest training state.
    """
    info = init_distributed(cfg.device)
    try:
        return _train(cfg, info, out=out, desc=desc, resume=resume)
    finally:
        shutdown(info)


def _prepare_run_dir(cfg: TrainConfig, info: DistInfo, out: Path, desc: str, resume: Path | None):
    if resume is not None:
        return resume
    run_dir = None
    if info.is_main:
        name = "-".join(filter(None, [cfg.model, Path(cfg.data).name, desc]))
        run_dir = new_run_dir(out, name)
    if info.enabled:
        holder = [str(run_dir) if run_dir else None]
        torch.distributed.broadcast_object_list(holder, src=0)
        run_dir = Path(holder[0])
    return run_dir


def _train(cfg: TrainConfig, info: DistInfo, *, out: Path, desc: str, resume: Path | None) -> Path:
    seed_everything(cfg.seed * info.world_size + info.rank)
    model_config = cfg.model_config()
    for name, total in (("batch", cfg.batch), ("g_batch", cfg.g_batch)):
        if total % info.world_size:
            raise ValueError(
                f"--{name.replace('_', '-')} {total} is not divisible by the "
                f"{info.world_size} ranks; use a multiple of {info.world_size}"
            )
    local_batch, local_g_batch = cfg.batch // info.world_size, cfg.g_batch // info.world_size
    # Rank 0 downloads first, the others then read what it wrote.
    if not info.is_main:
        any_rank(False, info)
    dataset = build_dataset(cfg.data, model_config.img_size, cfg.data_root)
    if info.is_main:
        any_rank(False, info)

    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    nets = build_networks(cfg, model_config, info)
    seed_everything(cfg.seed * info.world_size + info.rank)
    counters = Counters()
    run_dir = _prepare_run_dir(cfg, info, out, desc, resume)
    if resume is not None:
        found = load_latest_state(run_dir, map_location=info.device)
        if found is not None:
            counters = restore(nets, found[1], info)
    wrap_for_training(nets, cfg, info)
    locality = None
    if cfg.local_kind != "none":
        locality = LocalityMasks(cfg.local_kind, cfg.local_blocks)
        schedule = LocalitySchedule(cfg.local_windows, cfg.local_until_kimg)

    sampler = ShardSampler(
        len(dataset),
        rank=info.rank,
        world_size=info.world_size,
        seed=cfg.seed,
        start=counters.data_consumed,
    )
    loader = InfiniteLoader(
        dataset, sampler, local_batch, workers=cfg.workers, pin_memory=info.device.type == "cuda"
    )
    data: Iterator[torch.Tensor] = iter(loader)
    grid_z = latents(cfg.grid_size, model_config.generator.latent_dim, cfg.seed, info.device)
    total_nimg = int(cfg.kimg * 1000)
    tick_nimg = max(1, int(cfg.tick_kimg * 1000))

    if info.is_main:
        write_json_atomic(
            run_dir / "config.json",
            {
                "train": cfg.to_dict(),
                "model": model_config.to_dict(),
                "world_size": info.world_size,
            },
        )
        truncate_jsonl(run_dir / "stats.jsonl", counters.nimg)
        if counters.nimg == 0:
            save_grid(next(iter(loader))[: cfg.grid_size], run_dir / "reals.png")
            save_grid(generate_images(nets.ema.module, grid_z), run_dir / "fakes-init.png")
        scan = getattr(dataset, "scan", None)
        if scan is not None:
            append_jsonl(run_dir / "data.jsonl", scan.summary())
    bar = tqdm(
        total=cfg.kimg,
        initial=counters.nimg / 1000,
        unit="kimg",
        disable=not info.is_main,
        bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} kimg [{elapsed}<{remaining}{postfix}]",
    )

    stats, tick_start, tick_nimg_start = TickStats(), time.perf_counter(), counters.nimg
    with _StopRequest() as stop:
        while counters.nimg < total_nimg:
            if locality is not None:
                radius = schedule.radius_at(counters.nimg / 1000)
                if radius != locality.radius:
                    locality.apply(nets.generator, radius)
            counters.nimg += cfg.batch * cfg.n_critic
            counters.iteration += 1
            counters.data_consumed += local_batch * cfg.n_critic
            train_iteration(
                nets,
                data,
                cfg,
                device=info.device,
                local_batch=local_batch,
                local_g_batch=local_g_batch,
                global_g_batch=cfg.g_batch,
                nimg_after=counters.nimg,
                stats=stats,
            )
            bar.update(cfg.batch * cfg.n_critic / 1000)
            tick_done = counters.nimg >= min(total_nimg, (counters.tick + 1) * tick_nimg)
            stopping = any_rank(stop.requested, info) if info.enabled else stop.requested
            if not (tick_done or stopping):
                continue
            if tick_done:
                counters.tick += 1
            values = reduce_tick_stats(stats, info)
            bad = round(
                (
                    values.get("d_skipped", 0) * stats.counts.get("d_skipped", 0)
                    + values.get("g_skipped", 0) * stats.counts.get("g_skipped", 0)
                )
                * info.world_size
            )
            counters.bad_steps += bad
            elapsed = time.perf_counter() - tick_start
            kimg = counters.nimg / 1000
            record = {
                "kimg": round(kimg, 3),
                "nimg": counters.nimg,
                "tick": counters.tick,
                **{k: round(v, 6) for k, v in values.items()},
                "bad_steps_total": counters.bad_steps,
                "images_per_s": round((counters.nimg - tick_nimg_start) / elapsed, 2),
                "sec_per_tick": round(elapsed, 2),
                "peak_mem_mb": round(peak_memory_mb(info.device), 1),
                "locality_radius": locality.radius if locality else None,
                "time": time.time(),
            }
            snap_due = (
                counters.tick % cfg.snap_ticks == 0 or counters.nimg >= total_nimg or stopping
            )
            state = training_state(nets, counters, cfg, info) if snap_due else None
            if info.is_main:
                append_jsonl(run_dir / "stats.jsonl", record)
                save_grid(
                    generate_images(nets.ema.module, grid_z), run_dir / f"fakes{int(kimg):06d}.png"
                )
                if state is not None:
                    save_snapshot(
                        run_dir / f"network-snapshot-{int(kimg):06d}.safetensors",
                        nets.ema.module,
                        model_config,
                        extra={"kimg": kimg, "nimg": counters.nimg},
                    )
                    save_state(run_dir, counters.nimg, state, cfg.keep_states)
                bar.set_postfix_str(
                    f"D {values.get('d_loss', 0):.3f} G "
                    f"{values.get('g_loss', 0):.3f} "
                    f"{record['images_per_s']:.0f} img/s"
                )
            if counters.bad_steps > cfg.max_bad_steps:
                raise TrainingError(
                    f"{counters.bad_steps} steps had non-finite gradients (more than "
                    f"--max-bad-steps {cfg.max_bad_steps}); the last good training state is in "
                    f"{run_dir}. Lower the learning rate or try --precision fp32"
                )
            if stopping:
                if info.is_main:
                    tqdm.write(
                        f"stopped by signal; state saved in {run_dir}, resume with "
                        f"--resume {run_dir}"
                    )
                break
            stats, tick_start, tick_nimg_start = TickStats(), time.perf_counter(), counters.nimg
    bar.close()
    del nets, data, loader
    return run_dir
