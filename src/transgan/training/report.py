"""The end of a tick: statistics over ranks, ``stats.jsonl``, grids, snapshots, training
states and metrics (rank 0 writes; every rank takes part in the collectives)."""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

import torch

from transgan import presets
from transgan.distributed import DistInfo, all_reduce_sum
from transgan.fileio import append_jsonl
from transgan.images import save_grid
from transgan.sampling import class_rows, generate_images, latents
from transgan.snapshot import save_snapshot
from transgan.training.config import TrainConfig
from transgan.training.evaluation import TrainingMetrics
from transgan.training.setup import Counters, training_state
from transgan.training.state import save_state
from transgan.training.steps import Networks, TickStats
from transgan.training.tensorboard_log import TensorBoardLog


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
        # the image count travels inside the file: a resume sets aside what is newer
        save_grid(images, path, self.grid_nrow, text={"nimg": str(nimg)})
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
            # the rates the tick ended with (they fall under --lr-rampdown)
            "lr_g": nets.opt_g.param_groups[0]["lr"],
            "lr_d": nets.opt_d.param_groups[0]["lr"],
            "locality_radius": mask["radius"] if mask else None,
            "time": time.time(),
        }
        final = counters.nimg >= self.total_nimg or stopping
        snap_due = counters.tick % cfg.snap_ticks == 0 or final
        state = training_state(nets, counters, cfg, info) if snap_due else None
        # the last tick always evaluates: its snapshot is the one a run's numbers stand for
        eval_due = self.metrics is not None and (
            final or self.metrics.due(self.start_nimg, counters.nimg, snap_due)
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
