"""The training job: set up, run ticks, report, save — one process or many (torchrun).

Progress is counted in images shown to D (kimg). Once per tick rank 0 writes a line to
``stats.jsonl`` and a grid ``fakes{kimg:06d}.png`` from fixed latents; every ``snap_ticks``
ticks a snapshot and a training state; metrics when they are due. SIGINT/SIGTERM save a
training state and stop cleanly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from pathlib import Path

import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from transgan import presets
from transgan.data import InfiniteLoader, ShardSampler, build_dataset
from transgan.data.labels import build_labeled_dataset, class_shares
from transgan.distributed import DistInfo, any_rank, init_distributed, shutdown
from transgan.fileio import append_jsonl, check_writable_folder, write_json_atomic
from transgan.images import save_grid
from transgan.runtime import seed_everything
from transgan.training.autoprecision import choose_precision
from transgan.training.config import TrainConfig
from transgan.training.control import StopRequest
from transgan.training.evaluation import TrainingMetrics
from transgan.training.precision import PrecisionChoice, precision_for_resume, precision_history
from transgan.training.report import TickReporter
from transgan.training.runlock import RunDirectoryBusyError, run_directory_lock
from transgan.training.setup import (
    Counters,
    build_networks,
    wrap_for_training,
)
from transgan.training.start import discard_unstarted, prepare_run_dir, resume_point
from transgan.training.steps import Networks
from transgan.training.tensorboard_log import TensorBoardLog
from transgan.training.ticks import TickRun, TrainingError

__all__ = ["TickRun", "TrainingError", "train"]

# ---------------------------------------------------------------------------------------
# The job
# ---------------------------------------------------------------------------------------


def train(
    cfg: TrainConfig,
    *,
    out: Path,
    desc: str = "",
    resume: Path | None = None,
    run_dir: Path | None = None,
    restart: bool = False,
) -> Path:
    """Train according to ``cfg``; returns the run directory.

    Args:
        cfg: the run's settings.
        out: parent folder of new run directories.
        desc: extra words for the run directory's name.
        resume: an existing run directory to continue from its newest training state.
        run_dir: start the new run in exactly this directory instead of a numbered one.
        restart: with ``resume``, start that run over in place (its files are moved into
            an ``abandoned-*`` folder inside it), as when it has no loadable state.
    """
    with StopRequest() as stop, contextlib.ExitStack() as held:  # held: the run dir's lock
        info = init_distributed(cfg.device)
        try:
            created: list[Path] = []
            if resume is None:  # a new run's folder: refused before the data, probe, networks
                flag, folder = ("--run-dir", run_dir) if run_dir is not None else ("--out", out)
                check_writable_folder(Path(folder), flag)
            existing = resume if resume is not None else run_dir
            if existing is not None:  # a run directory that may be in use: lock it first
                if not existing.exists() and info.is_main:
                    existing.mkdir(parents=True)
                    created.append(existing)
                hold_run_dir(held, existing, info)
            choice = None  # auto on a new run: measured once the data and model are known
            if resume is not None and not restart:
                choice = precision_for_resume(resume, cfg.precision, info.device)
            elif cfg.precision != "auto":
                choice = PrecisionChoice(cfg.precision, "asked for")
            # resolved once here, not in every iteration (mirror_used builds the preset config)
            run_cfg = dataclasses.replace(cfg, mirror=cfg.mirror_used())
            try:
                return _train(
                    run_cfg,
                    info,
                    out=out,
                    desc=desc,
                    resume=resume,
                    run_dir=run_dir,
                    requested=cfg,
                    precision=choice,
                    restart=restart,
                    created=created,
                    stop=stop,
                    held=held,
                )
            except Exception:  # StoppedDuringStartup too: a new run's empty folder goes
                discard_unstarted(created)
                raise
        finally:
            shutdown(info)


def hold_run_dir(held: contextlib.ExitStack, run_dir: Path, info: DistInfo) -> None:
    """Rank 0 takes ``run_dir``'s lock for the rest of the run (``held``); every rank stops
    with the holder's name if another live training has it."""
    busy = None
    if info.is_main:
        try:
            held.enter_context(run_directory_lock(run_dir))
        except RunDirectoryBusyError as err:
            busy = err
    if any_rank(busy is not None, info):
        raise TrainingError(str(busy) if busy else f"{run_dir} is in use by another training")


def _auto_precision(
    cfg: TrainConfig, model_config: presets.ModelConfig, info: DistInfo, dataset: Dataset
) -> PrecisionChoice:
    """Rank 0 times the run's iteration both ways and decides for every rank."""
    choice = None
    if info.is_main:
        tqdm.write(
            "precision auto: timing this run's iteration in fp32 and bf16 (unless cached)",
            file=sys.stderr,
        )
        choice = choose_precision(cfg, model_config, info, dataset)
    if info.enabled:
        holder = [choice]
        torch.distributed.broadcast_object_list(holder, src=0)
        choice = holder[0]
    return choice


def _local_batches(cfg: TrainConfig, info: DistInfo) -> tuple[int, int]:
    parts = info.world_size * cfg.accum_steps
    for name, total in (("--batch", cfg.batch), ("--g-batch", cfg.g_batch)):
        if total % parts:
            raise TrainingError(
                f"{name} {total} is not divisible by {info.world_size} ranks × "
                f"{cfg.accum_steps} accumulation steps; use a multiple of {parts}"
            )
    try:
        cfg.check_mbstd_groups(cfg.model_config(), info.world_size)
    except ValueError as err:
        raise TrainingError(str(err)) from None
    return cfg.batch // info.world_size, cfg.g_batch // info.world_size


def _already_there(cfg: TrainConfig, counters: Counters, run_dir: Path, info: DistInfo) -> bool:
    """Whether a resumed run has nothing left to train (it stops at the first iteration that
    reaches ``--kimg``, so it may be up to one iteration past it); refuses a ``--kimg``
    below where the run already is. Either way nothing is written."""
    total, step = int(cfg.kimg * 1000), cfg.batch * cfg.n_critic
    if counters.nimg < total:
        return False
    if counters.nimg >= total + step:
        raise TrainingError(
            f"--kimg {cfg.kimg:g} is below where {run_dir} already is "
            f"({counters.nimg / 1000:g} kimg); nothing was trained or changed. To train on, "
            f"give a --kimg above {counters.nimg / 1000:g}"
        )
    if info.is_main:
        tqdm.write(
            f"{run_dir} is already at --kimg {cfg.kimg:g} ({counters.nimg / 1000:g} kimg): "
            "nothing to train. To train on, give a larger --kimg",
            file=sys.stderr,
        )
    return True


def _train(
    cfg: TrainConfig,
    info: DistInfo,
    *,
    out: Path,
    desc: str,
    resume: Path | None,
    run_dir: Path | None,
    requested: TrainConfig,
    precision: PrecisionChoice | None,
    restart: bool = False,
    created: list[Path] | None = None,
    stop: StopRequest | None = None,
    held: contextlib.ExitStack | None = None,
) -> Path:
    created = [] if created is None else created
    run_dir_arg = run_dir
    _local_batches(cfg, info)  # refuse batches the ranks cannot split before any work
    cfg, dataset = _load_data(cfg, info)
    model_config = cfg.model_config()
    if precision is None:
        precision = _auto_precision(cfg, model_config, info, dataset)
    if info.is_main:
        _say_start(cfg, requested, precision, shown_precision=resume is not None)
    cfg = dataclasses.replace(cfg, precision=precision.precision)
    metrics = None
    if cfg.metrics and info.is_main:
        metrics = TrainingMetrics(
            cfg, dataset, model_config.img_size, model_config.generator.latent_dim
        )

    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    nets = build_networks(cfg, model_config, info)
    if cfg.cond:
        nets.class_probs = class_shares(dataset.labels, len(cfg.class_names)).to(info.device)
    seed_everything(cfg.seed * info.world_size + info.rank)
    counters = Counters()
    if resume is None:
        run_dir = prepare_run_dir(cfg, info, out, desc, run_dir, created)
        if held is not None and run_dir_arg is None:  # a new numbered directory: hold it too
            hold_run_dir(held, run_dir, info)
    else:
        run_dir = resume
        counters = resume_point(nets, run_dir, info, restart, fixed=resume == run_dir_arg)
        if _already_there(cfg, counters, run_dir, info):
            return run_dir
    _train_in(cfg, info, nets, counters, run_dir, dataset, requested, precision, metrics, stop)
    return run_dir


def _train_in(
    cfg: TrainConfig,
    info: DistInfo,
    nets: Networks,
    counters: Counters,
    run_dir: Path,
    dataset: Dataset,
    requested: TrainConfig,
    precision: PrecisionChoice,
    metrics: TrainingMetrics | None,
    stop: StopRequest | None = None,
) -> None:
    """Train the built networks in ``run_dir`` from ``counters`` on."""
    model_config = cfg.model_config()
    local_batch, local_g_batch = _local_batches(cfg, info)
    wrap_for_training(nets, cfg, info)
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
    tensorboard = None
    if info.is_main and cfg.tensorboard_used():
        tensorboard = TensorBoardLog(run_dir, counters.nimg)
    total_nimg = int(cfg.kimg * 1000)
    reporter = TickReporter(cfg, model_config, info, run_dir, metrics, total_nimg, tensorboard)
    if info.is_main:
        record = {
            "train": requested.to_dict(),  # as asked (precision may be "auto")
            "model": model_config.to_dict(),
            "world_size": info.world_size,
            "classes": list(cfg.class_names),
            "mirror": cfg.mirror_used(),
            "precision": {
                **precision.to_dict(),
                "history": precision_history(run_dir, precision, counters.nimg),
            },
        }
        _write_start(run_dir, record, counters, loader, reporter, nets, dataset, cfg.grid_size)
    run = TickRun(cfg, info, nets, counters, run_dir, reporter, local_batch, local_g_batch)
    run.train(iter(loader), stop if stop is not None else StopRequest())
    if tensorboard is not None:
        tensorboard.close()
    del nets, run, loader  # drop DDP modules and optimizers before the process group goes


def _load_data(cfg: TrainConfig, info: DistInfo) -> tuple[TrainConfig, Dataset]:
    """The run's data set (rank 0 first: it may download), with the class names filled in
    under ``--cond`` (refused when the data has no labels)."""
    if not info.is_main:  # rank 0 downloads first; the others then read what it wrote
        any_rank(False, info)
    img_size = cfg.model_config().img_size
    build = build_labeled_dataset if cfg.cond else build_dataset
    dataset = build(cfg.data, img_size, cfg.data_root, max_broken_fraction=cfg.max_broken_fraction)
    if cfg.cond:
        cfg = dataclasses.replace(cfg, class_names=tuple(dataset.class_names))
    if info.is_main:
        any_rank(False, info)
        if (source := getattr(dataset, "source", None)) is not None:  # which MNIST, e.g.
            tqdm.write(f"data: {source}", file=sys.stderr)
    return cfg, dataset


def _say_start(
    cfg: TrainConfig, requested: TrainConfig, precision: PrecisionChoice, shown_precision: bool
) -> None:
    """The start-up lines of what was resolved rather than given, and why."""
    if cfg.precision == "auto" or shown_precision:
        tqdm.write(f"precision: {precision.precision} ({precision.reason})", file=sys.stderr)
    flips, why = requested.mirror_resolved()
    tqdm.write(f"x-flips: {'on' if flips else 'off'} ({why})", file=sys.stderr)


def _write_start(
    run_dir: Path,
    record: dict,
    counters: Counters,
    loader: InfiniteLoader,
    reporter: TickReporter,
    nets: Networks,
    dataset: Dataset,
    grid_size: int,
) -> None:
    """Rank 0: config.json; on a new run the grids of reals and of G at init; the data's
    scan (folders)."""
    write_json_atomic(run_dir / "config.json", record)
    if counters.nimg == 0:
        reals = next(iter(loader))
        reals = reals[0] if isinstance(reals, tuple | list) else reals
        save_grid(reals[:grid_size], run_dir / "reals.png")
        reporter.save_fakes(nets, run_dir / "fakes-init.png")
    if (scan := getattr(dataset, "scan", None)) is not None:
        append_jsonl(run_dir / "data.jsonl", scan.summary())
