"""``--precision auto``'s decisions, remembered: a repeated short run does not time again.

Timing both precisions takes up to ~20 s before the first tick — a large share of a
``--max-time 300`` run. The decision holds for the same device (CPU model and flags, or GPU),
torch and transgan versions (a release may compute differently: 0.3.0 made bf16 attention
faster on CPUs, 0.3.1 bf16's short softmax rows and the overlapping patches), thread count,
number of ranks, model and iteration settings (batch, loss, penalty, augmentation,
accumulation, compile, …); anything else differing measures again.
The cache is one small JSON file in the user's cache folder (``$TRANSGAN_CACHE_DIR``, else
``$XDG_CACHE_HOME/transgan``, else ``~/.cache/transgan``). It is only an optimisation: a
file that cannot be read or written is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import torch

import transgan
from transgan import presets
from transgan.distributed import DistInfo
from transgan.fileio import write_json_atomic
from transgan.training.config import TrainConfig
from transgan.training.precision import PrecisionChoice, cpu_model_and_flags, device_name

CACHE_FILE = "precision-auto.json"
MAX_ENTRIES = 64
# what the iteration's cost depends on, besides the model and the device
ITERATION_FIELDS = (
    "batch",
    "g_batch",
    "n_critic",
    "accum_steps",
    "reuse_fakes",
    "loss",
    "penalty_every",
    "augment",
    "mtct_weight",
    "cond",
    "compile",
    "grad_checkpointing",
    "local_kind",
)


def cache_file() -> Path:
    root = os.environ.get("TRANSGAN_CACHE_DIR")
    if root:
        return Path(root) / CACHE_FILE
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "transgan" / CACHE_FILE


def cache_key(cfg: TrainConfig, model_config: presets.ModelConfig, info: DistInfo) -> str:
    settings = cfg.to_dict()
    what = {
        "device": device_name(info.device),
        "cpu_flags": sorted(cpu_model_and_flags()[1]) if info.device.type == "cpu" else [],
        "torch": torch.__version__,
        "transgan": transgan.__version__,
        "threads": torch.get_num_threads(),
        "world_size": info.world_size,
        "model": model_config.to_dict(),
        "iteration": {name: settings[name] for name in ITERATION_FIELDS},
    }
    text = json.dumps(what, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _read() -> dict:
    try:
        data = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def cached_choice(key: str) -> PrecisionChoice | None:
    """The decision recorded under ``key``, marked as cached; None if there is none."""
    entry = _read().get(key)
    try:
        reason = (
            f"cached from {entry['when']}: {entry['reason']} (delete {cache_file()} to time again)"
        )
        return PrecisionChoice(entry["used"], reason, dict(entry["measured_images_per_s"]))
    except (TypeError, KeyError, ValueError):
        return None


def remember(key: str, choice: PrecisionChoice) -> None:
    """Record a measured decision under ``key`` (the newest ``MAX_ENTRIES`` are kept)."""
    if not choice.images_per_s:
        return  # nothing was measured (bf16 not worth timing here): nothing to save
    entries = _read()
    entries.pop(key, None)
    entries[key] = {**choice.to_dict(), "when": time.strftime("%Y-%m-%d %H:%M")}
    path = cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, dict(list(entries.items())[-MAX_ENTRIES:]))
    except OSError:
        pass
