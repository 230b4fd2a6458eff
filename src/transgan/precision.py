"""``--precision auto``: bf16 autocast where the device has fast bf16 matmuls, else fp32.

- CUDA: bf16 when the card supports it (``torch.cuda.is_bf16_supported``).
- CPU: only on CPUs with bf16 units (``amx_bf16`` or ``avx512_bf16`` in /proc/cpuinfo), and
  only if a short probe (~0.1 s: bf16 and fp32 matmuls timed alternately) confirms bf16
  is faster by a margin. Decided once per process and cached; explicit fp32|bf16|fp16 always win.
fp32 master weights, fp32 losses and penalty reductions in every case (autocast only).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path

import torch

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
PROBE_MARGIN = 1.3  # bf16 must beat fp32 by this factor on the probe


@dataclass(frozen=True)
class PrecisionChoice:
    precision: str  # fp32, bf16 or fp16
    reason: str  # why, for the log and config.json


def cpu_model_and_flags() -> tuple[str, set[str]]:
    """The CPU's model name and flags from /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU", set()
    model, flags = "unknown CPU", set()
    for line in text.splitlines():
        if line.startswith("model name") and model == "unknown CPU":
            model = line.split(":", 1)[1].strip()
        elif line.startswith("flags") and not flags:
            flags = set(line.split(":", 1)[1].split())
    return model, flags


def _matmul_seconds(dtype: torch.dtype, size: int = 512, repeats: int = 4) -> float:
    a = torch.randn(size, size, dtype=dtype)
    b = torch.randn(size, size, dtype=dtype)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return best


def _bf16_speedup(rounds: int = 3) -> float:
    """fp32 time / bf16 time of a matmul, each the best of ``rounds`` alternating
    measurements: a burst of load from another process hits both, not just one of them."""
    fp32 = bf16 = float("inf")
    for _ in range(rounds):
        fp32 = min(fp32, _matmul_seconds(torch.float32))
        bf16 = min(bf16, _matmul_seconds(torch.bfloat16))
    return fp32 / bf16


@functools.lru_cache(maxsize=4)
def auto_precision(device_type: str) -> PrecisionChoice:
    """What ``auto`` means on this device type (cached per process)."""
    if device_type == "cuda":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return PrecisionChoice("bf16", "CUDA device with bf16 support")
        return PrecisionChoice("fp32", "CUDA device without bf16 support")
    if device_type != "cpu":
        return PrecisionChoice("fp32", f"{device_type}: no bf16 detection")
    model, flags = cpu_model_and_flags()
    units = [f for f in BF16_CPU_FLAGS if f in flags]
    if not units:
        return PrecisionChoice("fp32", f"{model}: no bf16 units (amx_bf16/avx512_bf16)")
    ratio = _bf16_speedup()
    if ratio < PROBE_MARGIN:
        return PrecisionChoice(
            "fp32", f"{model} has {'+'.join(units)} but bf16 matmul is only {ratio:.2f}x fp32"
        )
    return PrecisionChoice("bf16", f"{model}: {'+'.join(units)}, bf16 matmul {ratio:.2f}x fp32")


def resolve_precision(precision: str, device: torch.device) -> PrecisionChoice:
    """``precision`` as given, or what ``auto`` picks on ``device``."""
    if precision != "auto":
        return PrecisionChoice(precision, "asked for")
    return auto_precision(device.type)
