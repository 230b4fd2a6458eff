"""The training job: set up, run ticks, report, save — one process or many (torchrun).

Progress is counted in images shown to D (kimg). Once per tick rank 0 writes a line to
``stats.jsonl`` and a grid ``fakes{kimg:06d}.png`` from fixed latents; every ``snap_ticks``
ticks a snapshot and a training state; metrics when they are due. SIGINT/SIGTERM save a
training state and stop cleanly.
"""

from __future__ import annotations

import dataclasses
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from transgan import presets, progress
from transgan.data import InfiniteLoader, ShardSampler, build_dataset
from transgan.data.labels import build_labeled_dataset, class_shares
from transgan.distributed import DistInfo, all_reduce_sum, any_rank, init_distributed, shutdown
from transgan.fileio import append_jsonl, write_json_atomic
from transgan.images import save_grid
from transgan.models.locality import LocalityMasks, LocalitySchedule
from transgan.runtime import seed_everything
from transgan.sampling import class_rows, generate_images, latents
from transgan.snapshot import save_snapshot
from transgan.training.autoprecision import choose_precision
from transgan.training.config import TrainConfig
from transgan.training.control import StopRequest, TrainingClock
from transgan.training.evaluation import TrainingMetrics
from transgan.training.precision import PrecisionChoice, precision_for_resume, precision_history
from transgan.training.rundir import new_run_dir, set_aside
from transgan.training.setup import (
    Counters,
    build_networks,
    restore,
    training_state,
    wrap_for_training,
)
from transgan.training.state import StateError, load_latest_state, save_state
from transgan.training.steps import FP16_FLOOR_SCALE, Networks, TickStats, train_iteration
from transgan.training.tensorboard_log import TensorBoardLog

# Under DDP, ranks agree on a stop request through a collective (a host sync), so they ask
# only every this many iterations and at tick ends; a lone process checks its flag freely.
STOP_CHECK_EVERY = 20


class TrainingError(RuntimeError):
    """The run stopped for a reason the user must see (non-finite training, bad setup)."""


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


class TickReporter:
    """Everything that happens at the end of a tick: stats, grids, snapshots, metrics."""

    def __init__(
        self,
        cfg: TrainConfig,
        model_config: presets.ModelConfig,
        info: DistInfo,
        run_dir: Path,
        metrics: TrainingMetrics | None,
        total_nimg: int,
        tensorboard: TensorBoardLog | None = None,
    ) -> None:
        self.cfg, self.model_config, self.info = cfg, model_config, info
        self.tensorboard = tensorboard
        self.run_dir, self.metrics, self.total_nimg = run_dir, metrics, total_nimg
        classes = getattr(model_config.generator, "num_classes", 0)
        per_row = max(1, cfg.grid_size // classes) if classes else None  # a row per class
        count = classes * per_row if classes else cfg.grid_size
        self.grid_z = latents(count, model_config.generator.latent_dim, cfg.seed, info.device)
        self.grid_labels = class_rows(classes, per_row) if classes else None
        self.grid_nrow = per_row
        self.start_time, self.start_nimg = time.perf_counter(), 0
        self.metrics_seconds = 0.0  # time spent evaluating, not counted as training time

    def save_fakes(self, nets: Networks, path: Path, nimg: int = 0) -> None:
        """The EMA generator's grid at the fixed latents (one row per class if conditional)."""
        images = generate_images(nets.ema.module, self.grid_z, labels=self.grid_labels)
        save_grid(images, path, self.grid_nrow)
        if self.tensorboard is not None:
            self.tensorboard.grid(images, nimg, self.grid_nrow)

    def begin(self, nimg: int) -> None:
        self.start_time, self.start_nimg = time.perf_counter(), nimg

    def end(
        self,
        nets: Networks,
        counters: Counters,
        stats: TickStats,
        stopping: bool,
        mask: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """Report one tick (a collective: every rank calls it); returns the stats record."""
        cfg, info = self.cfg, self.info
        values = reduce_tick_stats(stats, info)
        skipped = sum(
            values.get(k, 0.0) * stats.counts.get(k, 0) for k in ("d_skipped", "g_skipped")
        )
        # ``values`` are means over ranks; every rank skips the same (all-reduced) step, so
        # this sum is the number of skipped global steps — not to be multiplied by ranks.
        counters.bad_steps += round(skipped)
        elapsed = time.perf_counter() - self.start_time
        kimg = counters.nimg / 1000
        record = {
            "kimg": round(kimg, 3),
            "nimg": counters.nimg,
            "tick": counters.tick,
            **{k: round(v, 6) for k, v in values.items()},
            "bad_steps_total": counters.bad_steps,
            "images_per_s": round((counters.nimg - self.start_nimg) / elapsed, 2),
            "sec_per_tick": round(elapsed, 2),
            "peak_mem_mb": round(peak_memory_mb(info.device), 1),
            "train_seconds": round(counters.train_seconds, 2),
            "locality_radius": mask["radius"] if mask else None,
            "time": time.time(),
        }
        snap_due = (
            counters.tick % cfg.snap_ticks == 0 or counters.nimg >= self.total_nimg or stopping
        )
        state = training_state(nets, counters, cfg, info) if snap_due else None
        eval_due = self.metrics is not None and self.metrics.due(
            self.start_nimg, counters.nimg, snap_due
        )
        if info.is_main:
            self._write(nets, counters, record, state, eval_due, mask)
        return record

    def _write(
        self,
        nets: Networks,
        counters: Counters,
        record: dict[str, Any],
        state: dict | None,
        eval_due: bool,
        mask: dict[str, Any] | None,
    ) -> None:
        run_dir, kimg = self.run_dir, counters.nimg / 1000
        append_jsonl(run_dir / "stats.jsonl", record)
        if self.tensorboard is not None:
            self.tensorboard.stats(record)
        self.save_fakes(nets, run_dir / f"fakes{int(kimg):06d}.png", counters.nimg)
        snapshot = run_dir / f"network-snapshot-{int(kimg):06d}.safetensors"
        if state is not None or eval_due:
            extra: dict[str, Any] = {"kimg": kimg, "nimg": counters.nimg, "locality": mask}
            if self.cfg.cond:
                extra["class_names"] = list(self.cfg.class_names)
                extra["class_shares"] = nets.class_probs.tolist()
            save_snapshot(snapshot, nets.ema.module, self.model_config, extra=extra)
        if state is not None:
            save_state(run_dir, counters.nimg, state, self.cfg.keep_states)
        if eval_due:
            start = time.perf_counter()
            # Feature networks are built (and torch-fidelity draws) from the global RNG; the
            # training state above holds the streams as they were, so the run goes on with
            # exactly those: a resumed run then repeats an uninterrupted one bit for bit.
            devices = [self.info.device] if self.info.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):
                results = self.metrics.run(nets.ema.module, run_dir, counters.nimg, snapshot)
            if self.tensorboard is not None:
                self.tensorboard.metrics(results, counters.nimg)
            self.metrics_seconds += time.perf_counter() - start


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
    info = init_distributed(cfg.device)
    try:
        choice = None  # auto on a new run: measured once the data and model are known
        if resume is not None and not restart:
            choice = precision_for_resume(resume, cfg.precision, info.device)
        elif cfg.precision != "auto":
            choice = PrecisionChoice(cfg.precision, "asked for")
        # resolved once here, not in every iteration (mirror_used builds the preset config)
        run_cfg = dataclasses.replace(cfg, mirror=cfg.mirror_used())
        created: list[Path] = []
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
            )
        except Exception:
            _discard_unstarted(created)
            raise
    finally:
        shutdown(info)


def _discard_unstarted(created: list[Path]) -> None:
    """A run that failed before its first snapshot leaves no directory behind (only one
    made by this process, holding nothing but what a start writes)."""
    start_files = {"config.json", "reals.png", "fakes-init.png", "data.jsonl", "stats.jsonl"}
    for run_dir in created:
        names = {p.name for p in run_dir.iterdir()} if run_dir.is_dir() else {"?"}
        if names <= start_files | {"tensorboard"}:
            shutil.rmtree(run_dir, ignore_errors=True)


def _auto_precision(
    cfg: TrainConfig, model_config: presets.ModelConfig, info: DistInfo, dataset: Dataset
) -> PrecisionChoice:
    """Rank 0 times the run's iteration both ways and decides for every rank."""
    choice = None
    if info.is_main:
        tqdm.write("precision auto: timing this run's iteration in fp32 and bf16", file=sys.stderr)
        choice = choose_precision(cfg, model_config, info, dataset)
    if info.enabled:
        holder = [choice]
        torch.distributed.broadcast_object_list(holder, src=0)
        choice = holder[0]
    return choice


def _prepare_run_dir(
    cfg: TrainConfig, info: DistInfo, out: Path, desc: str, fixed: Path | None, created: list
) -> Path:
    """The new run's directory; a directory made here is added to ``created``."""
    if fixed is not None:
        if not fixed.exists():
            created.append(fixed)
        fixed.mkdir(parents=True, exist_ok=True)
        return fixed
    run_dir = None
    if info.is_main:
        run_dir = new_run_dir(out, "-".join(filter(None, [cfg.model, Path(cfg.data).name, desc])))
        created.append(run_dir)
    if info.enabled:
        holder = [str(run_dir) if run_dir else None]
        torch.distributed.broadcast_object_list(holder, src=0)
        run_dir = Path(holder[0])
    return run_dir


def _resume_point(
    nets: Networks, run_dir: Path, info: DistInfo, restart: bool, fixed: bool
) -> Counters:
    """Restore the newest loadable state of ``run_dir`` and say so; move the files of any
    later (abandoned) timeline aside. Refuses a run without a loadable state unless
    ``restart`` — or ``fixed`` (``--run-dir``) and the run has no snapshot yet (a job killed
    before its first state: nothing of value to lose)."""
    found = None if restart else load_latest_state(run_dir, info.device)
    snapshots = list(run_dir.glob("network-snapshot-*.safetensors"))
    if found is None and not restart and not (fixed and not snapshots):
        raise StateError(
            f"{run_dir} has no training state to resume from"
            + (
                f" (it holds network snapshots, {len(snapshots)} of them, but no "
                "training-state-*.pt)"
                if snapshots
                else ""
            )
            + ". Nothing was changed. Start a new run (drop --resume, or use another "
            "--run-dir), or start this one over in place with --restart (its files move to a "
            "folder abandoned-*/ inside it)"
        )
    counters = Counters() if found is None else restore(nets, found.state, info)
    if info.enabled:
        any_rank(False, info)  # every rank has read its state before files are moved
    if not info.is_main:
        return counters
    nimg = found.nimg if found is not None else -1
    aside = set_aside(run_dir, nimg, [p for p, _ in found.skipped] if found else [])
    if found is not None:
        tqdm.write(f"resuming from {found.path.name} (kimg {nimg / 1000:g})", file=sys.stderr)
        for path, why in found.skipped:
            tqdm.write(f"skipped newer {path.name}: {why}", file=sys.stderr)
    else:
        tqdm.write(f"starting {run_dir} over from kimg 0", file=sys.stderr)
    if aside is not None:
        tqdm.write(
            f"files of the abandoned timeline (after kimg {max(nimg, 0) / 1000:g}) moved to "
            f"{aside}",
            file=sys.stderr,
        )
    return counters


def _local_batches(cfg: TrainConfig, info: DistInfo) -> tuple[int, int]:
    parts = info.world_size * cfg.accum_steps
    for name, total in (("--batch", cfg.batch), ("--g-batch", cfg.g_batch)):
        if total % parts:
            raise TrainingError(
                f"{name} {total} is not divisible by {info.world_size} ranks × "
                f"{cfg.accum_steps} accumulation steps; use a multiple of {parts}"
            )
    return cfg.batch // info.world_size, cfg.g_batch // info.world_size


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
) -> Path:
    created = [] if created is None else created
    run_dir_arg = run_dir
    local_batch, local_g_batch = _local_batches(cfg, info)
    if not info.is_main:  # rank 0 downloads first; the others then read what it wrote
        any_rank(False, info)
    img_size = cfg.model_config().img_size
    if cfg.cond:  # labels from the data set; refused when it has none
        dataset = build_labeled_dataset(
            cfg.data, img_size, cfg.data_root, max_broken_fraction=cfg.max_broken_fraction
        )
        cfg = dataclasses.replace(cfg, class_names=tuple(dataset.class_names))
    else:
        dataset = build_dataset(
            cfg.data, img_size, cfg.data_root, max_broken_fraction=cfg.max_broken_fraction
        )
    if info.is_main:
        any_rank(False, info)
    model_config = cfg.model_config()
    if precision is None:
        precision = _auto_precision(cfg, model_config, info, dataset)
    if info.is_main and (cfg.precision == "auto" or resume is not None):
        tqdm.write(f"precision: {precision.precision} ({precision.reason})", file=sys.stderr)
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
        run_dir = _prepare_run_dir(cfg, info, out, desc, run_dir, created)
    else:
        run_dir = resume
        counters = _resume_point(nets, run_dir, info, restart, fixed=resume == run_dir_arg)
    wrap_for_training(nets, cfg, info)
    locality = schedule = None
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
    data = iter(loader)
    total_nimg, tick_nimg = int(cfg.kimg * 1000), max(1, int(cfg.tick_kimg * 1000))
    tensorboard = None
    if info.is_main and cfg.tensorboard_used():
        tensorboard = TensorBoardLog(run_dir, counters.nimg)
    reporter = TickReporter(cfg, model_config, info, run_dir, metrics, total_nimg, tensorboard)
    if info.is_main:
        write_json_atomic(
            run_dir / "config.json",
            {
                "train": requested.to_dict(),  # as asked (precision may be "auto")
                "model": model_config.to_dict(),
                "world_size": info.world_size,
                "classes": list(cfg.class_names),
                "mirror": cfg.mirror_used(),
                "precision": {
                    **precision.to_dict(),
                    "history": precision_history(run_dir, precision, counters.nimg),
                },
            },
        )
        if counters.nimg == 0:
            reals = next(iter(loader))
            reals = reals[0] if isinstance(reals, tuple | list) else reals
            save_grid(reals[: cfg.grid_size], run_dir / "reals.png")
            reporter.save_fakes(nets, run_dir / "fakes-init.png")
        if (scan := getattr(dataset, "scan", None)) is not None:
            append_jsonl(run_dir / "data.jsonl", scan.summary())
    bar = progress.bar(
        total=cfg.kimg,
        initial=counters.nimg / 1000,
        unit="kimg",
        disable=not info.is_main,
        bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} kimg [{elapsed}<{remaining}{postfix}]",
    )

    stats = TickStats()
    reporter.begin(counters.nimg)
    clock = TrainingClock(counters, reporter)
    with StopRequest() as stop:
        while counters.nimg < total_nimg:
            if locality is not None:
                radius = schedule.radius_at(counters.nimg / 1000)
                if radius != locality.radius:
                    locality.apply([nets.generator, nets.ema.module], radius)
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
                nimg_step=cfg.batch * cfg.n_critic,
                nimg_after=counters.nimg,
                stats=stats,
                first_d_step=(counters.iteration - 1) * cfg.n_critic,
            )
            bar.update(cfg.batch * cfg.n_critic / 1000)
            tick_done = counters.nimg >= min(total_nimg, (counters.tick + 1) * tick_nimg)
            clock.update()
            out_of_time = cfg.max_time > 0 and counters.train_seconds >= cfg.max_time
            if not info.enabled:
                stopping = stop.requested or out_of_time
            elif tick_done or counters.iteration % STOP_CHECK_EVERY == 0:
                # all ranks agree (a host sync); rank 0's clock decides the time limit
                stopping = any_rank(stop.requested or (out_of_time and info.is_main), info)
            else:
                stopping = False  # never act on one rank's flag alone
            if not (tick_done or stopping):
                continue
            counters.tick += int(tick_done)
            record = reporter.end(
                nets, counters, stats, stopping, locality.record() if locality else None
            )
            bar.set_postfix_str(
                f"D {record.get('d_loss', 0):.3f} G {record.get('g_loss', 0):.3f}"
                f" {record['images_per_s']:.0f} img/s"
            )
            if info.is_main and not progress.interactive():
                print(progress.status_line(record, cfg.kimg, cfg.max_time), file=sys.stderr)
            if counters.bad_steps > cfg.max_bad_steps:
                what = (
                    "had a non-finite loss or overflowed at the GradScaler's floor scale "
                    f"({FP16_FLOOR_SCALE})"
                    if cfg.precision == "fp16"
                    else "had non-finite gradients"
                )
                raise TrainingError(
                    f"{counters.bad_steps} steps {what} (more than --max-bad-steps "
                    f"{cfg.max_bad_steps}); the last good training state is in {run_dir}. "
                    "Lower the learning rate or try --precision fp32"
                )
            if stopping:
                if info.is_main:
                    why = "by signal" if stop.requested else f"at --max-time {cfg.max_time:g} s"
                    tqdm.write(
                        f"stopped {why}; snapshot and state saved. Resume: --resume {run_dir}",
                        file=sys.stderr,
                    )
                break
            stats = TickStats()
            reporter.begin(counters.nimg)
    bar.close()
    if tensorboard is not None:
        tensorboard.close()
    del nets, data, loader  # drop DDP modules and optimizers before the process group goes
    return run_dir
