"""How TransGAN v2 scales with resolution: generator images/s and peak memory at 32-256 px,
and the cost exponent of windowed against global attention.

Two measurements in one run:
1. ``presets``: generator inference (no grad) of the v2 presets at 32, 64, 128 and 256 px
   (transgan2_cifar10, transgan2_celeba64, transgan2_celeba128, transgan2_church256);
2. ``stage``: a stack of two blocks of width 64 at token grids 32² … 256² (the high-resolution
   stages), with 16×16 windows and with global attention, forward + backward. The exponent
   is the slope of log(time) against log(pixels) between the smallest and largest grid:
   about 1 for windows (linear in pixels), about 2 for global attention.

    python benchmarks/scaling.py                      # CPU: small batch, grids up to 128²
    python benchmarks/scaling.py --device cuda --batch 16 --grids 32,64,128,256 --bf16
"""

from __future__ import annotations

import argparse
import json
import math

import torch
from bench import median_seconds, peak_memory_mb  # the same timing as bench.py

import transgan
from transgan.models.layers import Block

PRESETS = {
    32: "transgan2_cifar10",
    64: "transgan2_celeba64",
    128: "transgan2_celeba128",
    256: "transgan2_church256",
}


def autocast(device: torch.device, bf16: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


def preset_rows(args: argparse.Namespace, device: torch.device) -> list[dict]:
    rows = []
    for size in args.sizes:
        name = PRESETS[size]
        torch.manual_seed(0)
        gan = transgan.create_model(name)
        g = gan.generator.to(device).eval()
        del gan
        z = torch.randn(args.batch, g.config.latent_dim, device=device)
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)

        def run(g: torch.nn.Module = g, z: torch.Tensor = z) -> None:
            with torch.no_grad(), autocast(device, args.bf16):
                g(z)

        t = median_seconds(run, device, args.repeats)
        row = {
            "preset": name,
            "px": size,
            "g_img_s": args.batch / t,
            "peak_mb": peak_memory_mb(device),
        }
        row["g_gflops_per_img"] = g.estimate_flops() / 1e9
        rows.append(row)
        print(
            f"{name:<22}{size:>5}px {row['g_img_s']:>10.2f} img/s {row['peak_mb']:>10.0f} MB"
            f"  ({row['g_gflops_per_img']:.1f} GFLOP/img)",
            flush=True,
        )
        del g, z
    return rows


def stage_rows(args: argparse.Namespace, device: torch.device) -> list[dict]:
    rows = []
    for attention in ("window16", "global"):
        for grid in args.grids:
            window = 16 if attention == "window16" else 0
            if attention == "global" and grid > args.max_global_grid:
                continue
            torch.manual_seed(0)
            blocks = torch.nn.Sequential(
                *(Block(64, num_heads=4, grid=grid, window=window, rel_bias=True) for _ in range(2))
            ).to(device)
            x = torch.randn(args.stage_batch, grid * grid, 64, device=device, requires_grad=True)

            def run(blocks: torch.nn.Module = blocks, x: torch.Tensor = x) -> None:
                with autocast(device, args.bf16):
                    out = blocks(x)
                out.float().mean().backward()

            t = median_seconds(run, device, args.repeats)
            rows.append({"attention": attention, "grid": grid, "seconds": t})
            print(f"stage {attention:<9} {grid:>4}² tokens: {1000 * t:9.2f} ms", flush=True)
    for attention in ("window16", "global"):
        mine = [r for r in rows if r["attention"] == attention]
        if len(mine) >= 2:
            a, b = mine[0], mine[-1]
            slope = math.log(b["seconds"] / a["seconds"]) / math.log((b["grid"] / a["grid"]) ** 2)
            print(f"exponent in pixels, {attention}: {slope:.2f} ({a['grid']}² -> {b['grid']}²)")
            rows.append({"attention": attention, "exponent": slope})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=2, help="generator batch (presets)")
    parser.add_argument("--sizes", default="32,64", help="preset resolutions to time")
    parser.add_argument("--stage-batch", type=int, default=2)
    parser.add_argument("--grids", default="32,64,128", help="token grids of the stage test")
    parser.add_argument("--max-global-grid", type=int, default=128)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.grids = [int(s) for s in args.grids.split(",") if s]
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {name}, torch {torch.__version__}, bf16 {args.bf16}, batch {args.batch}")
    result = {"device": name, "presets": preset_rows(args, device)}
    result["stage"] = stage_rows(args, device)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
