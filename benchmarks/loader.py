"""Data-loader throughput: an image folder decoded every step vs a prepared data set.

    python benchmarks/loader.py [--resolution 256] [--images 512] [--workers 2,8] [--seconds 10]

Writes a synthetic folder of JPEGs (smooth colour fields plus noise) at --source-size (1024
px like CelebA-HQ's originals, so the folder path decodes and resizes on every step),
prepares it with `transgan prepare-data`'s code, and reads both through the training
loader (`InfiniteLoader`, batch 32) with each worker count. Prints images/s and the CPU.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from transgan.data import InfiniteLoader, ShardSampler, build_dataset
from transgan.data.preparation import prepare
from transgan.training.precision import cpu_model_and_flags


def cpu_name() -> str:
    return cpu_model_and_flags()[0] or "unknown CPU"


def make_folder(folder: Path, count: int, side: int) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    y, x = np.mgrid[0:side, 0:side] / side
    for i in range(count):
        base = np.stack([np.sin(6 * x + i), np.cos(5 * y - i), x * y], -1) * 100 + 120
        pixels = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:05d}.jpg", quality=90)


def throughput(data: str, resolution: int, workers: int, seconds: float, batch: int) -> float:
    dataset = build_dataset(data, resolution)
    sampler = ShardSampler(len(dataset), seed=0)
    it = iter(InfiniteLoader(dataset, sampler, batch, workers=workers))
    next(it)  # workers started, first batch in
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        count += next(it).shape[0]
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--workers", default="2,8")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument(
        "--source-size", type=int, default=1024, help="side of the JPEGs (CelebA-HQ: 1024)"
    )
    args = parser.parse_args()

    print(
        f"CPU: {cpu_name()}, {os.cpu_count()} logical cores; {args.source_size} px JPEGs "
        f"read at {args.resolution} px, batch {args.batch}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder, prepared = Path(tmp) / "jpegs", Path(tmp) / "prepared"
        make_folder(folder, args.images, args.source_size)
        start = time.perf_counter()
        prepare(str(folder), args.resolution, prepared)
        print(
            f"prepare-data: {args.images / (time.perf_counter() - start):.0f} images/s (one pass)"
        )
        for workers in (int(w) for w in args.workers.split(",")):
            for name, data in (("JPEG folder", folder), ("prepared", prepared)):
                rate = throughput(str(data), args.resolution, workers, args.seconds, args.batch)
                print(f"{name:<12} workers {workers}: {rate:8.0f} images/s")


if __name__ == "__main__":
    main()
