"""Which arithmetic a run uses: the explicit ``--precision``, or what ``auto`` measured.

``auto`` is decided on the run's own work (``training/autoprecision.py``): a few real
training iterations of this model, at this batch, are timed in fp32 and in bf16, and bf16 is
used only where it is measurably faster. A one-matmul probe is not enough: on CPUs with
AMX-BF16 a 512² matmul runs 3-30× faster in bf16 while a small model's step, dominated by
small matmuls and element-wise ops, runs slower under autocast.

This module holds what needs no model: the device gate (is bf16 worth measuring here at
all), the record of a choice, and what a resumed run keeps. fp32 master weights, fp32 losses
and penalty reductions in every case (autocast only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class PrecisionChoice:
    precision: str  # fp32, bf16 or fp16
    reason: str  # why, for the log and config.json
    images_per_s: dict[str, float] = field(default_factory=dict)  # auto's measured figures

    def to_dict(self) -> dict:
        out: dict = {"used": self.precision, "reason": self.reason}
        if self.images_per_s:
            out["measured_images_per_s"] = dict(self.images_per_s)
        return out


class PrecisionError(ValueError):
    """A precision this device cannot run (for example a resumed bf16 run on an old GPU)."""


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


def device_name(device: torch.device) -> str:
    """The CPU model or the GPU name, for the log next to measured figures."""
    if device.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        return cpu_model_and_flags()[0]
    return device.type


def bf16_candidate(device: torch.device) -> tuple[bool, str]:
    """Whether bf16 is worth timing on ``device`` at all, and why not when it is not."""
    if device.type == "cuda":
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return True, ""
        return False, f"{device_name(device)}: no bf16 support"
    if device.type != "cpu":
        return False, f"{device.type}: bf16 is not measured on this device type"
    model, flags = cpu_model_and_flags()
    if not any(f in flags for f in BF16_CPU_FLAGS):
        return False, f"{model}: no bf16 units (amx_bf16/avx512_bf16)"
    return True, ""


def can_run(precision: str, device: torch.device) -> tuple[bool, str]:
    """Whether ``device`` can run ``precision`` at all (a warning may still apply)."""
    cuda_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if precision == "bf16" and device.type == "cuda" and not cuda_bf16:
        return False, f"{device_name(device)} has no bf16 support"
    return True, ""


def recorded_precision(run_dir: Path) -> dict | None:
    """The ``precision`` record of a run's config.json (None for a new or older run)."""
    path = run_dir / "config.json"
    try:
        record = json.loads(path.read_text()).get("precision")
    except (OSError, ValueError, AttributeError):
        return None
    if isinstance(record, dict) and record.get("used") in ("fp32", "bf16", "fp16"):
        return record
    return None


def precision_for_resume(run_dir: Path, requested: str, device: torch.device) -> PrecisionChoice:
    """What a resumed run computes in: what it recorded, unless a precision is asked for.

    ``auto`` is never decided again on resume: a run that switched arithmetic half-way
    would do so silently. Refuses, with the fix, where this device cannot run the recorded
    precision.
    """
    record = recorded_precision(run_dir)
    if requested != "auto":
        ok, why = can_run(requested, device)
        if not ok:
            raise PrecisionError(f"--precision {requested}: {why}; use --precision fp32")
        if record is not None and record["used"] != requested:
            return PrecisionChoice(
                requested, f"asked for on resume (the run used {record['used']} before)"
            )
        return PrecisionChoice(requested, "asked for")
    if record is None:  # a run from before precision was recorded: it trained in fp32
        return PrecisionChoice("fp32", "resumed run without a precision record (fp32)")
    used = record["used"]
    ok, why = can_run(used, device)
    if not ok:
        raise PrecisionError(
            f"{run_dir / 'config.json'} records that this run trained in {used}, but {why}. "
            f"Resume it on a device that runs {used}, or switch arithmetic explicitly with "
            "--resume ... --precision fp32 (config.json keeps the history)"
        )
    return PrecisionChoice(used, f"recorded by the run ({record.get('reason', 'auto')})")


def precision_history(run_dir: Path, choice: PrecisionChoice, nimg: int) -> list[dict]:
    """The run's precision segments so far, with ``choice`` from ``nimg`` on if it differs."""
    record = recorded_precision(run_dir) or {}
    history = [h for h in record.get("history", []) if h.get("from_nimg", 0) < nimg]
    if not history and record.get("used") and nimg > 0:
        history = [{"from_nimg": 0, "used": record["used"]}]
    if not history or history[-1]["used"] != choice.precision:
        history.append({"from_nimg": nimg, "used": choice.precision})
    return history
