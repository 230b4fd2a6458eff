"""The fast paths compute what the reference paths compute."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import one_iteration, tiny_train_config

import transgan
from transgan.distributed import DistInfo
from transgan.models.layers import Attention
from transgan.training.d_terms import discriminator_loss
from transgan.training.losses import LossConfig
from transgan.training.setup import build_networks
from transgan.training.steps import TickStats

CPU = DistInfo(0, 1, 0, torch.device("cpu"))


@pytest.mark.parametrize("masked", [False, True])
def test_attention_implementations_agree_on_outputs_and_gradients(masked: bool) -> None:
    for trial in range(3):  # fresh random inputs and weights each time
        torch.manual_seed(100 + trial)
        fused = Attention(24, num_heads=4, impl="sdpa")
        explicit = Attention(24, num_heads=4, impl="math")
        explicit.load_state_dict(fused.state_dict())
        x = torch.randn(3, 20, 24)
        mask = None
        if masked:
            mask = torch.rand(20, 20) < 0.5
            mask |= torch.eye(20, dtype=torch.bool)  # every query sees at least itself
        xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        ya, yb = fused(xa, mask), explicit(xb, mask)
        torch.testing.assert_close(ya, yb, rtol=1e-5, atol=1e-5)
        (ya.square().sum()).backward()
        (yb.square().sum()).backward()
        torch.testing.assert_close(xa.grad, xb.grad, rtol=1e-4, atol=1e-5)
        for pa, pb in zip(fused.parameters(), explicit.parameters(), strict=True):
            torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-4, atol=1e-5)


def test_penalty_gradient_matches_the_math_path() -> None:
    # The GP differentiates D twice; the SDPA path must give the math path's gradients.
    grads = {}
    for impl in ("sdpa", "math"):
        torch.manual_seed(0)
        d = transgan.create_model("transgan_tiny", d_attn_impl=impl).discriminator
        real, fake = torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)
        torch.manual_seed(1)
        loss, _ = discriminator_loss(d, real, fake, LossConfig("wgangp-eps"), lambda x: x)
        loss.backward()
        grads[impl] = [p.grad.clone() for p in d.parameters()]
    for a, b in zip(grads["sdpa"], grads["math"], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_bf16_training_step_runs_and_stays_finite() -> None:
    cfg = tiny_train_config(precision="bf16")
    nets = build_networks(cfg, cfg.model_config(), CPU)
    stats = TickStats()
    one_iteration(nets, cfg, stats)
    assert all(torch.isfinite(v).all() for v in stats.sums.values())
    assert stats.sums["d_skipped"].item() == 0 and stats.sums["g_skipped"].item() == 0
    assert all(torch.isfinite(p).all() for p in nets.generator.parameters())


def test_fp16_training_step_uses_a_grad_scaler() -> None:
    cfg = tiny_train_config(precision="fp16")
    nets = build_networks(cfg, cfg.model_config(), CPU)
    assert nets.scaler is not None
    one_iteration(nets, cfg)
    assert all(torch.isfinite(p).all() for p in nets.discriminator.parameters())


def test_gradient_checkpointing_gives_the_same_gradients() -> None:
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        gan = transgan.create_model("transgan_tiny")
        gan.generator.set_grad_checkpointing(checkpointing)
        gan.discriminator.set_grad_checkpointing(checkpointing)
        torch.manual_seed(1)
        gan.discriminator(gan.generator(torch.randn(3, 64))).sum().backward()
        grads.append([p.grad for p in gan.generator.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_compiled_generator_matches_eager() -> None:
    torch.manual_seed(0)
    g = transgan.create_model("transgan_tiny", g_dim=64, g_depths=(1, 1, 1), g_num_heads=2)
    g = g.generator.eval()
    z = torch.randn(2, 64)
    compiled = torch.compile(g)
    with torch.no_grad():
        torch.testing.assert_close(compiled(z), g(z), rtol=1e-4, atol=1e-5)


def test_benchmark_smoke_mode_runs() -> None:
    script = Path(__file__).parent.parent / "benchmarks" / "bench.py"
    result = subprocess.run(
        [sys.executable, str(script), "--smoke"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        "matmul ceiling" in result.stdout and "auto precision fp32" in result.stdout
    ) or "auto precision bf16" in result.stdout
    assert "math+fp32" in result.stdout and "auto(" in result.stdout  # baseline and default
    assert "CPU" in result.stdout or "NVIDIA" in result.stdout  # the device is named


def test_compile_runs_the_penalty_steps_eagerly_and_the_others_compiled(monkeypatch) -> None:
    # torch.compile replaced by a recorder: which D does each D step call?
    from conftest import one_iteration, tiny_train_config

    from transgan.distributed import DistInfo
    from transgan.training import setup
    from transgan.training.losses import LossConfig

    calls: list[str] = []

    class Recorded(torch.nn.Module):
        def __init__(self, module: torch.nn.Module) -> None:
            super().__init__()
            self.inner = module

        def forward(self, *args):
            calls.append(type(self.inner).__name__)
            return self.inner(*args)

    monkeypatch.setattr(setup.torch, "compile", Recorded)
    cfg = tiny_train_config(
        compile=True, n_critic=4, penalty_every=2, loss=LossConfig("logistic", r1_gamma=1.0)
    )
    info = DistInfo(0, 1, 0, torch.device("cpu"))
    nets = setup.build_networks(cfg, cfg.model_config(), info)
    setup.wrap_for_training(nets, cfg, info)
    d_calls = []
    original = nets.discriminator.forward
    nets.discriminator.forward = lambda *a: d_calls.append(len(calls)) or original(*a)
    one_iteration(nets, cfg)
    # D steps 0 and 2 carry the penalty (eager), 1 and 3 not (compiled); then G's step
    # calls G compiled; its D call on the fakes is the plain module
    compiled_d = [c for c in calls if c == "Discriminator"]
    assert len(compiled_d) == 2
    assert len(d_calls) == 4 + 1
    assert calls.count("Generator") == 1
