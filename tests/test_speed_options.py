"""Options of the speed work: lazy regularisation (--penalty-every) and --precision auto."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import tiny_train_config

from transgan.distributed import DistInfo
from transgan.fileio import read_jsonl
from transgan.training import steps
from transgan.training.config import TrainConfig
from transgan.training.d_terms import DiscriminatorLoss, discriminator_loss
from transgan.training.loop import train
from transgan.training.losses import LossConfig

FIXTURE = Path(__file__).parent / "fixtures" / "v0.1-run"
CPU = DistInfo(0, 1, 0, torch.device("cpu"))


def test_penalty_every_1_reproduces_the_previous_release_bit_for_bit(tmp_path: Path) -> None:
    """The fixture's second tick was computed by v0.1 (5e1c738); resuming its first-tick
    state with today's code (penalty every step, wgangp-eps) must give the same numbers."""
    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURE, run_dir)
    original = read_jsonl(FIXTURE / "stats.jsonl")[1]
    saved = json.loads((run_dir / "config.json").read_text())["train"]
    # v0.1's "digits" was all 1,797 images, today's "digits-all"
    cfg = TrainConfig.from_dict({**saved, "penalty_every": 1, "data": "digits-all"})
    train(cfg, out=tmp_path, resume=run_dir)
    again = read_jsonl(run_dir / "stats.jsonl")[1]
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "penalty"):
        assert again[key] == original[key], key


@pytest.mark.parametrize("kind", ["wgangp-eps", "logistic"])
def test_lazy_penalty_is_skipped_or_scaled(kind: str) -> None:
    d = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 1))
    real, fake = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    config = LossConfig(kind, r1_gamma=1.0)
    results = {}
    for weight in (1.0, 0.0, 4.0):
        torch.manual_seed(0)  # the same GP interpolation for each
        _, stats = discriminator_loss(
            lambda x: d(x).squeeze(-1), real, fake, config, lambda x: x, penalty_weight=weight
        )
        results[weight] = stats
    assert results[0.0]["penalty"] == 0
    assert results[1.0]["penalty"] > 0
    torch.testing.assert_close(results[4.0]["penalty"], 4 * results[1.0]["penalty"])


def test_penalty_runs_on_every_kth_d_step(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    weights: list[float] = []
    real_loss = DiscriminatorLoss.__call__

    def recording(self, d, batch, inputs):
        weights.append(batch.penalty_weight)
        return real_loss(self, d, batch, inputs)

    monkeypatch.setattr(DiscriminatorLoss, "__call__", recording)
    train(tiny_train_config(penalty_every=3, kimg=0.048, n_critic=2), out=tmp_path)
    # 3 iterations × 2 D steps: steps 0 and 3 carry the penalty, weighted ×3
    assert weights == [3.0, 0.0, 0.0, 3.0, 0.0, 0.0]


def test_explicit_precision_wins_and_auto_is_recorded(tmp_path: Path) -> None:
    run_dir = train(tiny_train_config(precision="fp16", kimg=0.016), out=tmp_path / "a")
    config = json.loads((run_dir / "config.json").read_text())
    assert config["precision"] == {
        "used": "fp16",
        "reason": "asked for",
        "history": [{"from_nimg": 0, "used": "fp16"}],
    }
    run_dir = train(tiny_train_config(precision="auto", kimg=0.016), out=tmp_path / "b")
    config = json.loads((run_dir / "config.json").read_text())
    assert config["train"]["precision"] == "auto"
    assert config["precision"]["used"] in ("fp32", "bf16")
    assert config["precision"]["reason"]


def test_bf16_cpu_training_step_is_finite_and_close_to_fp32() -> None:
    from conftest import one_iteration

    from transgan.training.setup import build_networks

    results = {}
    for prec in ("fp32", "bf16"):
        cfg = tiny_train_config(precision=prec)
        torch.manual_seed(0)
        nets = build_networks(cfg, cfg.model_config(), CPU)
        before = {k: v.clone() for k, v in nets.generator.state_dict().items()}
        torch.manual_seed(1)
        stats = steps.TickStats()
        one_iteration(nets, cfg, stats)
        results[prec] = (nets, before, stats)
    fp32, bf16 = results["fp32"], results["bf16"]
    for key in ("d_loss", "g_loss"):
        a, b = fp32[2].sums[key].item(), bf16[2].sums[key].item()
        assert torch.isfinite(torch.tensor(b))
        assert abs(a - b) <= 0.05 * abs(a) + 0.05, (key, a, b)  # bf16 keeps 8 bits
    # the step itself: bf16's update is within 10 % of fp32's (Adam's first step ≈ ±lr)
    for name, after in bf16[0].generator.state_dict().items():
        step32 = fp32[0].generator.state_dict()[name] - fp32[1][name]
        step16 = after - bf16[1][name]
        assert torch.isfinite(step16).all()
        agree = (torch.sign(step32) == torch.sign(step16)).float().mean()
        assert agree > 0.8, name
