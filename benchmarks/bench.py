"""Speed of TransGAN against the authors' computation pattern and the hardware's limit.

For each preset, these configurations are timed in one run:
- ``math+fp32``: attention as an explicit fp32 softmax(q·kᵀ)·v, as in the authors' code;
- ``sdpa+fp32`` and ``sdpa+bf16``: fused SDPA attention and fused Adam, in each precision
  (bf16 only where the device has bf16 units: CUDA, or a CPU with amx_bf16/avx512_bf16);
- ``auto``: what ``transgan train`` does by default — ``--precision auto`` decided for each
  preset as training decides it (this preset's iteration timed in fp32 and bf16, see
  ``transgan/training/autoprecision.py``) with ``--penalty-every K`` as given;
optional ``--compile`` for the sdpa configurations.
Measured: generator images/s (inference), D forward+backward images/s, full training
iteration images/s (n_critic WGAN-GP D steps + one G step, real images per second), peak
memory, and the machine's ceiling (a large matmul in the same precision). Achieved FLOP/s of
the training iteration are the matmul FLOPs of one iteration counted by
``torch.utils.flop_counter`` (math attention, so every product is seen) divided by the time.
Warm-up first, then ``--repeats`` timings; medians are reported.

    python benchmarks/bench.py --preset transgan_xl
    python benchmarks/bench.py --preset transgan_s --preset transgan_xl --batch 16
    python benchmarks/bench.py --smoke      # CI: tiny, checks that it runs
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from transgan.distributed import DistInfo
from transgan.training.autoprecision import choose_for_batch
from transgan.training.config import TrainConfig
from transgan.training.losses import LossConfig
from transgan.training.precision import BF16_CPU_FLAGS, PrecisionChoice, cpu_model_and_flags
from transgan.training.setup import build_networks, wrap_for_training
from transgan.training.steps import TickStats, train_iteration


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], None], device: torch.device, repeats: int) -> float:
    fn()  # warm-up (kernel selection, allocator, compile)
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_ceiling(device: torch.device, dtype: torch.dtype, size: int, repeats: int) -> float:
    """FLOP/s of a size×size matmul: the practical peak of this device and precision."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    seconds = median_seconds(lambda: a @ b, device, repeats)
    return 2 * size**3 / seconds


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS


def bench_config(
    preset: str,
    impl: str,
    precision: str,
    args: argparse.Namespace,
    device: torch.device,
    penalty_every: int = 1,
) -> TrainConfig:
    overrides = {"g_attn_impl": impl, "d_attn_impl": impl, **args.overrides}
    return TrainConfig(
        model=preset,
        model_overrides=overrides,
        batch=args.batch,
        g_batch=args.batch,
        n_critic=args.n_critic,
        precision=precision,
        loss=LossConfig("wgangp-eps"),
        penalty_every=penalty_every,
        compile=args.compile and impl == "sdpa",
        device=str(device),
    )


def auto_precision(preset: str, args: argparse.Namespace, device: torch.device) -> PrecisionChoice:
    """What ``--precision auto`` picks for this preset's run: the same measurement."""
    cfg = bench_config(preset, "sdpa", "fp32", args, device, args.penalty_every)
    model_config = cfg.model_config()
    size = model_config.img_size

    def batch() -> torch.Tensor:
        return torch.rand(args.batch, 3, size, size, device=device) * 2 - 1

    return choose_for_batch(cfg, model_config, DistInfo(0, 1, 0, device), batch)


def measure(
    preset: str,
    impl: str,
    precision: str,
    args: argparse.Namespace,
    device: torch.device,
    penalty_every: int = 1,
) -> dict[str, float]:
    cfg = bench_config(preset, impl, precision, args, device, penalty_every)
    model_config = cfg.model_config()
    torch.manual_seed(0)
    info = DistInfo(0, 1, 0, device)
    nets = build_networks(cfg, model_config, info)
    if cfg.compile:  # G, and D for its steps without a penalty (as `train --compile`)
        wrap_for_training(nets, cfg, info)
    b, size = args.batch, model_config.img_size
    z = torch.randn(b, model_config.generator.latent_dim, device=device)
    x = torch.randn(b, 3, size, size, device=device)
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if precision == "bf16"
        else torch.autocast(device.type, enabled=False)
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def g_inference() -> None:
        with torch.no_grad(), autocast:
            nets.generator(z)

    def d_fwd_bwd() -> None:
        with autocast:
            loss = nets.discriminator(x).float().mean()
        loss.backward()

    def data():
        while True:
            yield x

    stream = data()
    # With lazy regularisation the penalty falls on every k-th D step: time whole rounds of
    # iterations after which the pattern repeats, so the average cost is measured.
    rounds = penalty_every // math.gcd(penalty_every, cfg.n_critic)
    done = [0]  # iterations so far

    def iteration() -> None:
        for _ in range(rounds):
            train_iteration(
                nets,
                stream,
                cfg,
                device=device,
                local_batch=b,
                local_g_batch=b,
                nimg_step=b * cfg.n_critic,
                nimg_after=10_000,
                stats=TickStats(),
                first_d_step=done[0] * cfg.n_critic,
            )
            done[0] += 1

    out = {
        "g_img_s": b / median_seconds(g_inference, device, args.repeats),
        "d_img_s": b / median_seconds(d_fwd_bwd, device, args.repeats),
        "train_img_s": b * cfg.n_critic * rounds / median_seconds(iteration, device, args.repeats),
        "peak_mem_mb": peak_memory_mb(device),
    }
    if impl == "math":  # count the iteration's matmul FLOPs once (same for both configs)
        with FlopCounterMode(display=False) as counter:
            iteration()
        out["train_flops"] = counter.get_total_flops()
        out["g_fwd_gflops_est"] = nets.generator.estimate_flops() / 1e9
        out["d_fwd_gflops_est"] = nets.discriminator.estimate_flops() / 1e9
    return out


def sync_check(preset: str, args: argparse.Namespace, device: torch.device) -> str:
    """Train iterations of ``preset`` under ``torch.cuda.set_sync_debug_mode("error")``: any
    host synchronisation inside them raises. Two warm-up iterations run outside the check
    (lazy initialisation may sync once). Returns a line saying what ran."""
    if device.type != "cuda":
        return f"{preset}: --sync-check needs a CUDA device (the CPU test counts reads instead)"
    precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    cfg = bench_config(preset, "sdpa", precision, args, device, args.penalty_every)
    nets = build_networks(cfg, cfg.model_config(), DistInfo(0, 1, 0, device))
    size = cfg.model_config().img_size
    x = torch.rand(args.batch, 3, size, size, device=device) * 2 - 1
    stream = iter(lambda: x, None)
    stats = TickStats()
    n = 2 + 2 * args.penalty_every  # every D step kind, the penalty steps included

    def step(i: int) -> None:
        train_iteration(
            nets,
            stream,
            cfg,
            device=device,
            local_batch=args.batch,
            local_g_batch=args.batch,
            nimg_step=args.batch * cfg.n_critic,
            nimg_after=(i + 1) * args.batch * cfg.n_critic,
            stats=stats,
            first_d_step=i * cfg.n_critic,
        )

    step(0)
    step(1)
    torch.cuda.synchronize(device)
    torch.cuda.set_sync_debug_mode("error")
    try:
        for i in range(2, n):
            step(i)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    every = args.penalty_every
    return f"{preset}: {n - 2} iterations ({precision}, penalty every {every}), no host sync"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", action="append", help="repeatable; default S and XL")
    parser.add_argument("--batch", type=int, default=8, help="images per D and G step")
    parser.add_argument("--n-critic", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile G and D (sdpa configs)"
    )
    parser.add_argument(
        "--penalty-every", type=int, default=1, help="lazy regularisation of the auto config"
    )
    parser.add_argument("--configs", help="only these (prefixes, e.g. sdpa+bf16,auto)")
    parser.add_argument("--ceiling-size", type=int, default=4096)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks it runs")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--sync-check",
        action="store_true",
        help="only run train iterations under torch.cuda.set_sync_debug_mode('error')",
    )
    args = parser.parse_args()
    args.overrides = {}
    if args.smoke:
        args.preset, args.batch, args.n_critic, args.repeats = ["transgan_tiny"], 2, 1, 1
        args.ceiling_size = 256
        args.overrides = {
            "g_dim": 64,
            "g_depths": (1, 1, 1),
            "g_num_heads": 2,
            "d_depth": 1,
            "d_dim": 32,
        }
    presets_to_run = args.preset or ["transgan_s", "transgan_xl"]
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    if args.sync_check:
        for preset in presets_to_run:
            print(sync_check(preset, args, device), flush=True)
        return
    model, flags = cpu_model_and_flags()
    units = [f for f in BF16_CPU_FLAGS if f in flags]
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        has_bf16 = torch.cuda.is_bf16_supported()
    else:
        name = f"CPU: {model} ({'+'.join(units) or 'no bf16 units'})"
        has_bf16 = bool(units)
    print(
        f"device: {name}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"batch {args.batch}, n_critic {args.n_critic}, medians of {args.repeats}"
    )
    ceilings = {"fp32": matmul_ceiling(device, torch.float32, args.ceiling_size, args.repeats)}
    if has_bf16:
        ceilings["bf16"] = matmul_ceiling(device, torch.bfloat16, args.ceiling_size, args.repeats)
    print("matmul ceiling: " + ", ".join(f"{k} {v / 1e9:.1f} GFLOP/s" for k, v in ceilings.items()))
    configs = [("math+fp32", "math", "fp32", 1), ("sdpa+fp32", "sdpa", "fp32", 1)]
    if "bf16" in ceilings:
        configs.append(("sdpa+bf16", "sdpa", "bf16", 1))
    configs.append(("auto", "sdpa", "auto", args.penalty_every))
    if args.configs:  # the math baseline always runs: FLOPs are counted there
        wanted = [w.strip() for w in args.configs.split(",")]
        configs = [
            c for c in configs if c[0] == "math+fp32" or any(c[0].startswith(w) for w in wanted)
        ]
    results = {}
    header = (
        f"{'preset':<14}{'config':<20}{'G img/s':>10}{'D f+b img/s':>13}"
        f"{'train img/s':>13}{'peak MB':>10}{'TFLOP/s':>9}{'% ceiling':>11}{'vs math':>9}"
    )
    print(header)
    print("-" * len(header))
    autos = {}
    for preset in presets_to_run:
        rows: dict[str, dict] = {}
        for label, impl, prec, every in configs:
            if prec == "auto":
                autos[preset] = auto = auto_precision(preset, args, device)
                print(f"{preset}: auto precision {auto.precision} ({auto.reason})", flush=True)
                prec = auto.precision
                label = f"auto({prec},k={every})"
            r = measure(preset, impl, prec, args, device, penalty_every=every)
            rows[label] = r
            used = prec
            base = rows["math+fp32"]
            # FLOPs: the full-penalty iteration counted on the math path; a lazy config
            # does less work, so its FLOP/s is reported for the work of the baseline.
            achieved = base["train_flops"] * r["train_img_s"] / (args.batch * args.n_critic)
            r["achieved_flops"] = achieved
            r["share_of_ceiling"] = achieved / ceilings[used]
            r["speedup"] = r["train_img_s"] / base["train_img_s"]
            print(
                f"{preset:<14}{label:<20}{r['g_img_s']:>10.1f}{r['d_img_s']:>13.1f}"
                f"{r['train_img_s']:>13.2f}{r['peak_mem_mb']:>10.0f}{achieved / 1e12:>9.3f}"
                f"{100 * r['share_of_ceiling']:>10.1f}%{r['speedup']:>8.2f}x",
                flush=True,
            )
        results[preset] = rows
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "device": name,
                    "auto": {k: v.to_dict() for k, v in autos.items()},
                    "ceilings": ceilings,
                    "results": results,
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
