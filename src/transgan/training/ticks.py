"""The training loop proper: iterations until ``--kimg``, a report at each tick (stats line,
grid, snapshot and metrics when due), a clean stop at ``--max-time`` or on a signal."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from transgan import progress
from transgan.distributed import DistInfo, any_rank
from transgan.models.locality import LocalityMasks, LocalitySchedule
from transgan.training.config import TrainConfig
from transgan.training.control import StopRequest, TrainingClock
from transgan.training.lr_rampdown import lr_scale, rank0_progress, run_progress, set_learning_rates
from transgan.training.report import TickReporter
from transgan.training.setup import Counters
from transgan.training.steps import FP16_FLOOR_SCALE, Networks, TickStats, train_iteration

# Under DDP, ranks agree on a stop request through a collective (a host sync), so they ask
# only every this many iterations and at tick ends; a lone process checks its flag freely.
STOP_CHECK_EVERY = 20


class TrainingError(RuntimeError):
    """The run stopped for a reason the user must see (non-finite training, bad setup)."""


@dataclasses.dataclass
class TickRun:
    """The training loop proper: iterations until ``--kimg``, a report at each tick, a
    clean stop at ``--max-time`` or on a signal."""

    cfg: TrainConfig
    info: DistInfo
    nets: Networks
    counters: Counters
    run_dir: Path
    reporter: TickReporter
    local_batch: int
    local_g_batch: int

    def train(self, data: Iterator, stop: StopRequest) -> None:
        cfg, counters = self.cfg, self.counters
        total_nimg, tick_nimg = int(cfg.kimg * 1000), max(1, int(cfg.tick_kimg * 1000))
        locality = schedule = None
        if cfg.local_kind != "none":
            locality = LocalityMasks(cfg.local_kind, cfg.local_blocks)
            schedule = LocalitySchedule(cfg.local_windows, cfg.local_until_kimg)
        bar = progress.bar(
            total=cfg.kimg,
            initial=counters.nimg / 1000,
            unit="kimg",
            disable=not self.info.is_main,
            bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} kimg [{elapsed}<{remaining}{postfix}]",
        )
        stats = TickStats()
        self.reporter.begin(counters.nimg)
        clock = TrainingClock(counters, self.reporter)
        stop.training_begins()
        self.ramp_down(agree=True)
        while counters.nimg < total_nimg:
            if locality is not None:
                radius = schedule.radius_at(counters.nimg / 1000)
                if radius != locality.radius:
                    locality.apply([self.nets.generator, self.nets.ema.module], radius)
            self.iteration(data, stats)
            bar.update(cfg.batch * cfg.n_critic / 1000)
            tick_done = counters.nimg >= min(total_nimg, (counters.tick + 1) * tick_nimg)
            clock.update()
            agree = self.ranks_meet(tick_done)
            stopping = self.stop_agreed(stop, agree)
            self.ramp_down(agree)
            if not (tick_done or stopping):
                continue
            counters.tick += int(tick_done)
            self.report(bar, stats, stopping, locality)
            if stopping:
                self.say_stopped(stop)
                break
            stats = TickStats()
            self.reporter.begin(counters.nimg)
        bar.close()

    def iteration(self, data: Iterator, stats: TickStats) -> None:
        cfg, counters = self.cfg, self.counters
        counters.nimg += cfg.batch * cfg.n_critic
        counters.iteration += 1
        counters.data_consumed += self.local_batch * cfg.n_critic
        train_iteration(
            self.nets,
            data,
            cfg,
            device=self.info.device,
            local_batch=self.local_batch,
            local_g_batch=self.local_g_batch,
            nimg_step=cfg.batch * cfg.n_critic,
            nimg_after=counters.nimg,
            stats=stats,
            first_d_step=(counters.iteration - 1) * cfg.n_critic,
        )

    def ranks_meet(self, tick_done: bool) -> bool:
        """Whether the ranks exchange their stop flags and progress after this iteration
        (under DDP a host sync): at tick ends and every ``STOP_CHECK_EVERY`` iterations."""
        return tick_done or self.counters.iteration % STOP_CHECK_EVERY == 0

    def ramp_down(self, agree: bool) -> None:
        """Sets both learning rates for the next iteration under ``--lr-rampdown``. Under DDP
        the ranks take rank 0's progress when ``agree`` (a collective) and otherwise keep the
        rates they have, so that every rank steps with the same rates."""
        cfg = self.cfg
        if cfg.lr_rampdown <= 0 or (self.info.enabled and not agree):
            return
        progress = rank0_progress(run_progress(cfg, self.counters), self.info)
        set_learning_rates(self.nets, cfg, lr_scale(cfg.lr_rampdown, progress))

    def stop_agreed(self, stop: StopRequest, agree: bool) -> bool:
        """Whether to stop now (a signal, or out of --max-time). Under DDP all ranks agree
        where they meet (``agree``: a host sync) and rank 0's clock decides the time limit:
        never act on one rank's flag alone."""
        cfg, info = self.cfg, self.info
        out_of_time = cfg.max_time > 0 and self.counters.train_seconds >= cfg.max_time
        if not info.enabled:
            return stop.requested or out_of_time
        if agree:
            return any_rank(stop.requested or (out_of_time and info.is_main), info)
        return False

    def report(self, bar: tqdm, stats: TickStats, stopping: bool, locality: object) -> None:
        """The tick's report (stats line, grid, snapshot, metrics when due); stops the run
        when too many steps were skipped for non-finite values."""
        cfg, counters = self.cfg, self.counters
        record = self.reporter.end(
            self.nets, counters, stats, stopping, locality.record() if locality else None
        )
        bar.set_postfix_str(
            f"D {record.get('d_loss', 0):.3f} G {record.get('g_loss', 0):.3f}"
            f" {record['images_per_s']:.0f} img/s"
        )
        if self.info.is_main and not progress.interactive():
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
                f"{cfg.max_bad_steps}); the last good training state is in {self.run_dir}. "
                "Lower the learning rate or try --precision fp32"
            )

    def say_stopped(self, stop: StopRequest) -> None:
        if self.info.is_main:
            why = "by signal" if stop.requested else f"at --max-time {self.cfg.max_time:g} s"
            tqdm.write(
                f"stopped {why}; snapshot and state saved. Resume: --resume {self.run_dir}",
                file=sys.stderr,
            )
