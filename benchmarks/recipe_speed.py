"""Training images per second of whole recipes, side by side in one run, and where the time
of one iteration goes.

Each recipe is resolved as `transgan train --recipe R ... --dry-run` resolves it (extra
options after ``--`` apply to every recipe), then its iterations run in this process on the
digits (as training runs them: the same loader, losses, EMA, lazy penalty), on ``--threads``
CPU threads. The recipes take turns (``--rounds`` rounds of ``--iters`` iterations each), so
a machine that slows down slows every recipe alike; the median of the rounds is reported.

    python benchmarks/recipe_speed.py --recipe digits-dcgan --recipe digits-pure
    python benchmarks/recipe_speed.py --recipe digits-pure --recipe "digits-pure --compile"
    python benchmarks/recipe_speed.py --recipe digits-pure --profile 20

A ``--recipe`` value may carry its own options after the name ("digits-pure --compile").

``--profile N`` prints torch.profiler's table of N operators for the last recipe (self CPU
time over ``--iters`` iterations, after the timing).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import time

import torch

from transgan.data import InfiniteLoader, ShardSampler, build_dataset
from transgan.distributed import DistInfo
from transgan.training.config import TrainConfig
from transgan.training.precision import cpu_model_and_flags
from transgan.training.setup import build_networks, wrap_for_training
from transgan.training.steps import TickStats, train_iteration

CPU = DistInfo(0, 1, 0, torch.device("cpu"))


def resolve(recipe: str, extra: list[str]) -> TrainConfig:
    cmd = [sys.executable, "-m", "transgan", "train", "--recipe", recipe, *extra, "--dry-run"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    config = TrainConfig.from_dict(json.loads(out)["train"])
    precision = "fp32" if config.precision == "auto" else config.precision
    return dataclasses.replace(config, precision=precision, workers=0, device="cpu")


class Trainer:
    """One recipe's networks and data, ready to run iterations."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg = dataclasses.replace(cfg, mirror=cfg.mirror_used())
        torch.manual_seed(cfg.seed)
        model = cfg.model_config()
        self.nets = build_networks(cfg, model, CPU)
        wrap_for_training(self.nets, cfg, CPU)
        dataset = build_dataset(cfg.data, model.img_size)
        sampler = ShardSampler(len(dataset), rank=0, world_size=1, seed=cfg.seed)
        self.data = iter(InfiniteLoader(dataset, sampler, cfg.batch, workers=0))
        self.iteration = 0

    def run(self, iterations: int) -> float:
        """Seconds for ``iterations`` iterations."""
        cfg, step = self.cfg, self.cfg.batch * self.cfg.n_critic
        start = time.perf_counter()
        for _ in range(iterations):
            self.iteration += 1
            train_iteration(
                self.nets,
                self.data,
                cfg,
                device=CPU.device,
                local_batch=cfg.batch,
                local_g_batch=cfg.g_batch,
                nimg_step=step,
                nimg_after=self.iteration * step,
                stats=TickStats(),
                first_d_step=(self.iteration - 1) * cfg.n_critic,
            )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", action="append", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--iters", type=int, default=20, help="iterations per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=5, help="iterations before timing")
    parser.add_argument("--compile", action="store_true", help="add --compile to each recipe")
    parser.add_argument("--profile", type=int, default=0, help="rows of the profile table")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("extra", nargs="*", help="more `transgan train` options (after --)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cpu = cpu_model_and_flags()[0] or "unknown CPU"
    print(f"CPU: {cpu}; {args.threads} thread(s); torch {torch.__version__}")
    extra = [*args.extra, *(["--compile"] if args.compile else [])]
    trainers = {}
    for entry in args.recipe:
        name, *own = entry.split()
        trainers[entry] = Trainer(resolve(name, [*extra, *own]))
    for trainer in trainers.values():
        trainer.run(args.warmup)
    rounds: dict[str, list[float]] = {r: [] for r in trainers}
    for _ in range(args.rounds):
        for name, trainer in trainers.items():
            seconds = trainer.run(args.iters)
            rounds[name].append(args.iters * trainer.cfg.batch * trainer.cfg.n_critic / seconds)
    results = {}
    first = statistics.median(rounds[args.recipe[0]])
    tag = " --compile" if args.compile else ""
    print(f"\n| recipe | images/s (median of {args.rounds}) | vs {args.recipe[0]} |")
    print("|---|---|---|")
    for name, values in rounds.items():
        median = statistics.median(values)
        results[name] = {"images_per_s": median, "rounds": values}
        print(f"| {name}{tag} | {median:.0f} | {median / first:.2f}× |")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        name, trainer = list(trainers.items())[-1]
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            trainer.run(args.iters)
        print(f"\nprofile of {name}, {args.iters} iterations:")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.profile))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": cpu, "threads": args.threads, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
