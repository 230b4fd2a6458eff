"""The training iteration's golden checksums: three iterations of a tiny model from a fixed
seed, for option sets that together reach every branch of ``train_iteration``, must leave D's
and G's parameters and the tick statistics exactly where they were recorded.

The safety net for refactoring the iteration: a change that moves a single bit of what is
computed fails here. Where a change is meant to alter what is computed, rewrite the file in
that change's own commit and say why in its message:

    TRANSGAN_WRITE_GOLDEN=1 pytest tests/test_iteration_golden.py

Checksums recorded on one CPU and torch version are compared bit for bit there; on another
machine (other kernels, another summation order) to a relative 1e-4 instead — 1e-3 for the
bf16 case, whose kernels differ more between CPUs (AMX on an Intel Xeon, AVX-512 BF16 on an
AMD EPYC: its G loss moved by a relative 1.8e-4).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import pytest
import torch
from conftest import TINY_TRAIN_MODEL, one_iteration, tiny_train_config

GOLDEN = Path(__file__).parent / "golden" / "iteration.json"
ITERATIONS = 3
CROSS_MACHINE_REL = {"bf16": 1e-3}  # the module docstring says why

PURE_D = {
    "d_attn_kind": "l2",
    "d_patch_overlap": True,
    "d_patch_size": 4,
    "d_head": "flatten",
    "d_mbstd_group": 4,
}
CASES: dict[str, dict] = {
    "defaults": {},  # WGAN-GP + drift, every step, DiffAugment, n_critic 2
    "digits-pure": {
        "model_overrides": {**TINY_TRAIN_MODEL, **PURE_D},
        "n_critic": 1,
        "loss": {"kind": "logistic", "r1_gamma": 1.0},
        "penalty_every": 4,
        "reuse_fakes": True,
        "augment": {"policy": ()},
    },
    "r3gan-gamma-schedule": {
        "n_critic": 1,
        "loss": {"kind": "relativistic", "r1_gamma": 2.0, "r1_gamma_end": 0.2},
        "penalty_every": 2,
    },
    "bcr-lecam-ada": {
        "loss": {"kind": "hinge", "bcr_weight": 1.0, "lecam_weight": 0.1},
        "augment": {"prob": 0.3, "ada_target": 0.6, "ada_kimg": 0.1},
    },
    "bcr-no-augment": {
        "loss": {"kind": "logistic", "r1_gamma": 0.5, "bcr_weight": 1.0},
        "augment": {"policy": ()},
    },
    "reuse-fakes": {
        "n_critic": 1,
        "reuse_fakes": True,
        "loss": {"kind": "logistic", "r1_gamma": 0.5},
        "penalty_every": 2,
    },
    "accumulation-2": {"accum_steps": 2, "grad_clip": 0.5},
    "conditional": {"cond": True, "class_names": tuple(str(i) for i in range(10))},
    "mtct": {"mtct_weight": 1.0},
    "fp16-scaler": {"precision": "fp16", "loss": {"kind": "logistic", "r1_gamma": 1.0}},
    "bf16": {"precision": "bf16", "loss": {"kind": "hinge"}},
    "wgan-gp-lazy-mirror": {"penalty_every": 2, "mirror": True, "augment": {"prob": 0.5}},
    "dcgan-batchnorm": {
        "model": "dcgan_digits",
        "model_overrides": {},
        "n_critic": 1,
        "loss": {"kind": "logistic", "r1_gamma": 0.0},
        "augment": {"policy": ()},
    },
}


def _config(changes: dict):
    from transgan.training.augment import AugmentConfig
    from transgan.training.losses import LossConfig

    changes = dict(changes)
    if "loss" in changes:
        changes["loss"] = LossConfig(**changes["loss"])
    if "augment" in changes:
        changes["augment"] = AugmentConfig(**changes["augment"])
    return tiny_train_config(**changes)


def _fingerprint(tensors: list[torch.Tensor]) -> list[float]:
    """Sum, sum of squares and a position-weighted sum over all values, in float64."""
    flat = torch.cat([t.detach().double().flatten() for t in tensors])
    weights = torch.linspace(-1.0, 1.0, flat.numel(), dtype=torch.float64)
    return [flat.sum().item(), flat.square().sum().item(), (flat * weights).sum().item()]


def run_case(name: str) -> dict:
    """Three iterations of ``CASES[name]``; the checksums of G, D and the statistics."""
    from transgan.distributed import DistInfo
    from transgan.training.setup import build_networks
    from transgan.training.steps import TickStats

    cfg = _config(CASES[name])
    torch.manual_seed(0)
    nets = build_networks(cfg, cfg.model_config(), DistInfo(0, 1, 0, torch.device("cpu")))
    if cfg.cond:
        nets.class_probs = torch.full((10,), 0.1)
    torch.manual_seed(1)
    size = cfg.model_config().img_size
    images = torch.rand(64, 3, size, size) * 2 - 1
    labels = torch.arange(64) % 10

    def batches():
        for start in range(0, 10**6, cfg.batch):
            i = torch.arange(start, start + cfg.batch) % 64
            yield (images[i], labels[i]) if cfg.cond else images[i]

    data, stats = batches(), TickStats()
    for index in range(ITERATIONS):
        one_iteration(nets, cfg, stats, data, index)
    return {
        "G": _fingerprint(list(nets.generator.parameters())),
        "D": _fingerprint(list(nets.discriminator.parameters())),
        "G_ema": _fingerprint(list(nets.ema.module.parameters())),
        "stats": {key: value.item() for key, value in sorted(stats.sums.items())},
    }


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu} / torch {torch.__version__}"


def _load() -> dict:
    return json.loads(GOLDEN.read_text()) if GOLDEN.is_file() else {}


@pytest.mark.parametrize("name", list(CASES))
def test_iteration_matches_its_golden_checksums(name: str) -> None:
    result = run_case(name)
    if os.environ.get("TRANSGAN_WRITE_GOLDEN"):
        golden = _load()
        golden["machine"] = _machine()
        golden.setdefault("cases", {})[name] = result
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
        return
    golden = _load()
    assert name in golden.get("cases", {}), f"no golden values for {name}: see the docstring"
    expected = golden["cases"][name]
    assert sorted(result["stats"]) == sorted(expected["stats"]), "other statistics recorded"
    if golden["machine"] == _machine():
        assert result == expected
    else:
        rel = CROSS_MACHINE_REL.get(name, 1e-4)
        assert _flat(result) == pytest.approx(_flat(expected), rel=rel, abs=1e-6)


def _flat(result: dict) -> dict[str, float]:
    out = {f"{net}[{i}]": v for net in ("G", "D", "G_ema") for i, v in enumerate(result[net])}
    return out | {f"stats.{key}": v for key, v in result["stats"].items()}
