"""``--precision auto``: time this run's own training iteration in fp32 and bf16, keep the faster.

The figures are real training iterations (``n_critic`` D steps and a G step, with the run's
loss, augmentation and batch, over a whole cycle of ``--penalty-every`` so the penalty counts
as often as it will in training) of throw-away copies of the run's networks, fed one real
batch over and over, so the data loader is left out of both. The two precisions are timed
alternately (best of a few rounds each), so a burst of load from another process hits both
rather than one. Everything runs inside ``torch.random.fork_rng``: the run's random streams
are untouched, and a run with auto draws exactly what a run with the chosen precision would.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable

import torch
from torch.utils.data import Dataset, default_collate

from transgan import presets
from transgan.distributed import DistInfo
from transgan.training.config import TrainConfig
from transgan.training.precision import PrecisionChoice, bf16_candidate, device_name
from transgan.training.precision_cache import cache_key, cached_choice, remember
from transgan.training.setup import build_networks
from transgan.training.steps import TickStats, train_iteration

# bf16 must beat fp32 by this factor on the run's own iteration; below it, timing noise
# could pick the slower one, and fp32 is the safer arithmetic.
AUTO_MARGIN = 1.05
ROUNDS = 3  # alternating timing rounds per precision (fewer for slow iterations)
BUDGET_S = 20.0  # stop adding rounds once the measurement has taken this long


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def sample_batch(dataset: Dataset, size: int) -> torch.Tensor | list:
    """``size`` items of ``dataset`` (repeated if it is smaller), collated like the loader."""
    n = len(dataset)  # type: ignore[arg-type]
    return default_collate([dataset[i % n] for i in range(size)])


def iteration_seconds(
    cfg: TrainConfig,
    model_config: presets.ModelConfig,
    info: DistInfo,
    batch: torch.Tensor | list,
    precisions: tuple[str, ...] = ("fp32", "bf16"),
) -> dict[str, float]:
    """Seconds per training iteration of fresh copies of the run's networks in each
    precision (best of alternating rounds); the global RNG states are restored after."""
    device = info.device
    # with --penalty-every k the penalty falls on every k-th D step: time whole cycles after
    # which the pattern repeats, or the penalty's double backward would count on every one
    cycle = cfg.penalty_every // math.gcd(cfg.penalty_every, cfg.n_critic)
    local_batch = cfg.batch // info.world_size
    local_g_batch = cfg.g_batch // info.world_size
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        runs = {}
        for precision in precisions:
            run_cfg = dataclasses.replace(cfg, precision=precision)
            nets = build_networks(run_cfg, model_config, info)
            if cfg.cond:
                classes = len(cfg.class_names)
                nets.class_probs = torch.full((classes,), 1.0 / classes, device=device)
            runs[precision] = (run_cfg, nets)

        def once(precision: str) -> float:
            """Seconds per iteration over one cycle of the lazy penalty's pattern."""
            run_cfg, nets = runs[precision]
            _sync(device)
            start = time.perf_counter()
            for i in range(cycle):
                train_iteration(
                    nets,
                    itertools.repeat(batch),
                    run_cfg,
                    device=device,
                    local_batch=local_batch,
                    local_g_batch=local_g_batch,
                    nimg_step=cfg.batch * cfg.n_critic,
                    nimg_after=cfg.batch * cfg.n_critic * (i + 1),
                    stats=TickStats(),
                    first_d_step=i * cfg.n_critic,
                )
            _sync(device)
            return (time.perf_counter() - start) / cycle

        began = time.perf_counter()
        for precision in precisions:  # warm-up: first calls allocate and pick kernels
            once(precision)
        best = {p: float("inf") for p in precisions}
        for _ in range(ROUNDS):
            for precision in precisions:
                best[precision] = min(best[precision], once(precision))
            if time.perf_counter() - began > BUDGET_S:
                break
        runs.clear()  # free the copies before the run builds its own networks
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return best


def decide(seconds: dict[str, float], images_per_iteration: int, where: str) -> PrecisionChoice:
    """bf16 where it beats fp32 by ``AUTO_MARGIN`` on the measured iteration, else fp32."""
    ips = {p: round(images_per_iteration / s, 1) for p, s in seconds.items()}
    figures = f"fp32 {ips['fp32']:g} img/s, bf16 {ips['bf16']:g} img/s on this run's iteration"
    if seconds["fp32"] >= AUTO_MARGIN * seconds["bf16"]:
        return PrecisionChoice("bf16", f"{where}: {figures}", ips)
    return PrecisionChoice("fp32", f"{where}: {figures} (bf16 not faster)", ips)


def choose_precision(
    cfg: TrainConfig,
    model_config: presets.ModelConfig,
    info: DistInfo,
    dataset: Dataset,
) -> PrecisionChoice:
    """What ``auto`` means for this run on this device (a real batch of its data), or what
    it meant for the same device, model and iteration before (``precision_cache``)."""
    key = cache_key(cfg, model_config, info)
    cached = cached_choice(key)
    if cached is not None:
        return cached
    choice = choose_for_batch(
        cfg, model_config, info, lambda: sample_batch(dataset, cfg.batch // info.world_size)
    )
    remember(key, choice)
    return choice


def choose_for_batch(
    cfg: TrainConfig,
    model_config: presets.ModelConfig,
    info: DistInfo,
    batch: Callable[[], torch.Tensor | list],
) -> PrecisionChoice:
    """``choose_precision`` on the batch ``batch()`` returns (made only when bf16 is worth
    timing here); the benchmark's ``auto`` row uses it too."""
    worth_it, why_not = bf16_candidate(info.device)
    if not worth_it:
        return PrecisionChoice("fp32", why_not)
    seconds = iteration_seconds(cfg, model_config, info, batch())
    return decide(seconds, cfg.batch * cfg.n_critic, device_name(info.device))
