"""Equal-time quality comparison on the built-in digits: recipes × seeds, medians.

Each run is ``transgan train --recipe R --seed S --max-time T`` followed by the digits
metrics of its final snapshot (``transgan/evaluation/digits.py``: a classifier trained on
the digits' training split; the reference is the held-out split). Prints a table of medians and
writes every run's numbers to ``OUT/quality.jsonl``.

    python benchmarks/quality.py --recipe digits-dcgan --recipe digits-demo \\
        --seeds 0,1,2 --max-time 180 --out runs/quality --jobs 2   # one core per run

A ``--recipe`` value may name a variant and carry its own options, side by side with the
recipe itself in one table (``NAME@LABEL OPTIONS``: run name ``NAME-LABEL``)::

    python benchmarks/quality.py --recipe mnist-pure \
        --recipe "mnist-pure@groupstd --set d_mbstd_per_feature=False" --seeds 0,1 --jobs 2

Name the CPU next to the numbers (the script prints it): time-limited runs depend on it.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from transgan.training.precision import cpu_model_and_flags

METRICS = "dfid2k,dkid2k,dis2k,dcov2k"
MNIST_METRICS = "mfid2k,mkid2k,mis2k,mcov2k"  # recipes on MNIST: its classifier's metrics
KEYS = (
    "dfid2k",
    "dkid2k_mean",
    "dis2k_mean",
    "dcov2k",
    "dcov2k_confident",
    "dcov2k_share_min",
    "dcov2k_share_max",
    "dcov2k_confident_share_min",
    "dcov2k_confident_share_max",
)


def cpu_name() -> str:
    return cpu_model_and_flags()[0] or "unknown CPU"


def metrics_of(recipe: str) -> str:
    from transgan.training.recipes import RECIPES

    data = RECIPES[recipe].options.get("data", "") if recipe in RECIPES else ""
    return MNIST_METRICS if str(data).startswith("mnist") else METRICS


def final_metrics(run_dir: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    for path in run_dir.glob("metric-*.jsonl"):
        lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        if lines:
            out.update(lines[-1]["results"])
    stats = [json.loads(x) for x in (run_dir / "stats.jsonl").read_text().splitlines()]
    out["kimg"] = stats[-1]["kimg"]
    out["train_seconds"] = stats[-1].get("train_seconds", 0.0)
    return out


def parse_entry(entry: str) -> tuple[str, str, list[str]]:
    """``NAME[@LABEL] [OPTIONS]`` -> (recipe name, run label, the entry's own options)."""
    head, *own = entry.split()
    recipe, _, label = head.partition("@")
    if own and not label:
        raise SystemExit(
            f"--recipe {entry!r}: a recipe with its own options needs a label for its runs "
            f"(e.g. {recipe}@variant {' '.join(own)}), else they share the recipe's run names"
        )
    return recipe, f"{recipe}-{label}" if label else recipe, own


def run_one(
    entry: tuple[str, str, list[str]],
    seed: int,
    max_time: float,
    out: Path,
    extra: list[str],
    kimg: float,
    tag: str,
    threads: int = 1,
) -> dict:
    recipe, label, own = entry  # parse_entry's
    run_dir = out / f"{label}{tag}-s{seed}"
    cmd = [
        sys.executable,
        "-m",
        "transgan",
        "train",
        "--recipe",
        recipe,
        "--seed",
        str(seed),
        "--max-time",
        str(max_time),
        "--kimg",
        str(kimg),
        "--snap",
        "100000",
        "--metrics",
        metrics_of(recipe),
        "--workers",
        "0",
        "--run-dir",
        str(run_dir),
        *extra,
        *own,
    ]
    start = time.time()
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SystemExit(f"{recipe} seed {seed} failed:\n{result.stderr[-2000:]}")
    record = {"recipe": label + tag, "seed": seed, "wall_s": round(time.time() - start, 1)}
    record.update(final_metrics(run_dir))
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", action="append", required=True)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--max-time", type=float, default=180.0)
    parser.add_argument("--out", type=Path, default=Path("runs/quality"))
    parser.add_argument(
        "--kimg", type=float, default=100000.0, help="equal kimg instead (with --max-time 0)"
    )
    parser.add_argument("--tag", default="", help="suffix for run names (variants)")
    parser.add_argument(
        "--jobs", type=int, default=1, help="runs at a time, each on --threads CPU threads"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("extra", nargs="*", help="more `transgan train` options (after --)")
    args = parser.parse_args()
    entries = [parse_entry(entry) for entry in args.recipe]
    labels = [label for _, label, _ in entries]
    if len(set(labels)) < len(labels):
        raise SystemExit(f"two --recipe values share a run name: {labels}; label one (NAME@LABEL)")
    args.out.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    budget = f"{args.max_time:g} s" if args.max_time else f"{args.kimg:g} kimg"
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; {budget} of training per run")
    rows = []
    # seed-major: with --jobs 2 the recipes of one seed run side by side, so that a host
    # whose speed drifts during the table (a shared VM) slows every recipe alike
    tasks = [(entry, seed) for seed in seeds for entry in entries]

    def one(task: tuple[tuple[str, str, list[str]], int]) -> dict:
        entry, seed = task
        return run_one(
            entry, seed, args.max_time, args.out, args.extra, args.kimg, args.tag, args.threads
        )

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for record in pool.map(one, tasks):
            record["cpu"] = cpu_name()
            record["threads"] = args.threads
            record["jobs"] = args.jobs
            with open(args.out / "quality.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")
            print(json.dumps(record), flush=True)
            rows.append(record)
    print(f"\n| recipe | seeds | kimg | {' | '.join(KEYS)} | collapsed seeds |")
    print("|---" * (len(KEYS) + 4) + "|")
    for name, label, _ in entries:
        recipe = label + args.tag
        mine = [r for r in rows if r["recipe"] == recipe]
        keys = [k.replace("d", "m", 1) if metrics_of(name) != METRICS else k for k in KEYS]
        medians = [statistics.median(r.get(k, float("nan")) for r in mine) for k in keys]
        kimg = statistics.median(r["kimg"] for r in mine)
        collapsed = sum(r.get(keys[3], 0) < 1.0 for r in mine)
        cells = " | ".join(f"{m:.3g}" for m in medians)
        print(f"| {recipe} | {len(mine)} | {kimg:.0f} | {cells} | {collapsed} |")


if __name__ == "__main__":
    main()
