"""The reference row of the quality tables: a minimal textbook DCGAN loop, run the simplest way.

BatchNorm DCGAN (Radford et al. 2016) at DCGAN size — G: Linear to 4×4, transposed-conv
blocks with BatchNorm + ReLU, tanh; D: strided convs with LeakyReLU 0.2 and BatchNorm after
the first — non-saturating loss, Adam 2e-4 (0.5, 0.999), batch 64, the raw G (no EMA), no
augmentation, reals and fakes in separate D passes. No probe, no in-training metrics, no
snapshots: only the loop, for ``--max-time`` seconds on the threads given. Then the offline
metrics of 2,000 samples of the final G (in eval mode: BatchNorm's running statistics).

    python benchmarks/textbook_dcgan.py --data mnist --max-time 300 --seed 0 --out runs/tb
    python benchmarks/textbook_dcgan.py --data digits --max-time 300 --seed 0 --out runs/tb

Writes OUT/textbook-dcgan-{data}-s{seed}.json (kimg, seconds, metrics) and a grid. A
transgan run beats a conv pair only if it beats this loop too (DEVELOPERS.md: a win is only
as good as its baseline).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from transgan.data import build_dataset
from transgan.data.datasets import TensorImages
from transgan.evaluation.metrics import evaluate, parse_metrics
from transgan.images import save_grid, to_uint8
from transgan.training.precision import cpu_model_and_flags

SIZES = {"digits": 16, "mnist": 32}
METRICS = {"digits": "dfid2k,dkid2k,dcov2k", "mnist": "mfid2k,mkid2k,mcov2k"}


def generator(size: int, latent: int = 64, channels: int = 32) -> nn.Sequential:
    ups = {16: 2, 32: 3}[size]
    width = channels * 2 ** (ups - 1)
    layers: list[nn.Module] = [
        nn.Linear(latent, width * 16),
        nn.Unflatten(1, (width, 4, 4)),
        nn.BatchNorm2d(width),
        nn.ReLU(),
    ]
    for i in range(ups):
        out = channels if i == ups - 1 else width // 2
        layers += [nn.ConvTranspose2d(width, out, 4, 2, 1), nn.BatchNorm2d(out), nn.ReLU()]
        width = out
    return nn.Sequential(*layers, nn.Conv2d(width, 3, 3, padding=1), nn.Tanh())


def discriminator(size: int, channels: int = 32) -> nn.Sequential:
    downs = {16: 2, 32: 3}[size]
    layers: list[nn.Module] = []
    width_in, width = 3, channels
    for i in range(downs):
        layers.append(nn.Conv2d(width_in, width, 4, 2, 1))
        if i:
            layers.append(nn.BatchNorm2d(width))
        layers.append(nn.LeakyReLU(0.2))
        width_in, width = width, width * 2
    side = size // 2**downs
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(width_in * side * side, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=sorted(SIZES), default="mnist")
    parser.add_argument("--max-time", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/textbook-dcgan"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    size = SIZES[args.data]
    reals = build_dataset(args.data, size).images.contiguous()  # (N, 3, R, R) in [-1, 1]
    g, d = generator(size), discriminator(size)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    batch, shown, start = 64, 0, time.perf_counter()
    while time.perf_counter() - start < args.max_time:
        real = reals[torch.randint(len(reals), (batch,))]
        fake = g(torch.randn(batch, 64))
        d_loss = F.softplus(-d(real)).mean() + F.softplus(d(fake.detach())).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = F.softplus(-d(fake)).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        shown += batch
    seconds = time.perf_counter() - start
    g.eval()
    with torch.no_grad():
        samples = torch.cat([g(torch.randn(500, 64)) for _ in range(4)])
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"textbook-dcgan-{args.data}-s{args.seed}"
    save_grid(samples[:64], args.out / f"{name}.png")
    images = TensorImages(to_uint8(samples))
    results = evaluate(images, 64, None, "unused", parse_metrics(METRICS[args.data]))
    record = {
        "recipe": "textbook-dcgan",
        "data": args.data,
        "seed": args.seed,
        "kimg": shown / 1000,
        "train_seconds": round(seconds, 1),
        "cpu": cpu_model_and_flags()[0],
        "threads": args.threads,
        **results,
    }
    (args.out / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({k: v for k, v in record.items() if "share" not in k}))


if __name__ == "__main__":
    main()
