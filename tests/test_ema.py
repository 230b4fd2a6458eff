"""EMA of the generator: half-life, ramp-up, buffers, device."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from transgan.training.ema import EMA


def test_half_life_halves_the_distance_to_the_model() -> None:
    model = nn.Linear(2, 2)
    ema = EMA(model, half_life_kimg=1.0, rampup=None)  # 1,000 images
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # the model moves by 1; the EMA starts 1 behind
    for _ in range(10):
        ema.update(model, batch_size=100, images_seen=10_000)  # 10 × 100 = one half-life
    for p_ema, p in zip(ema.module.parameters(), model.parameters(), strict=True):
        torch.testing.assert_close(p - p_ema, torch.full_like(p, 0.5), rtol=1e-5, atol=1e-6)


def test_rampup_shortens_the_half_life_early_in_training() -> None:
    ema = EMA(nn.Linear(1, 1), half_life_kimg=500.0, rampup=0.1)
    # After 10k images the half-life is min(500k, 0.1 · 10k) = 1k images.
    assert ema.beta(batch_size=100, images_seen=10_000) == pytest.approx(0.5 ** (100 / 1000))
    assert ema.beta(batch_size=100, images_seen=10**8) == pytest.approx(0.5 ** (100 / 500_000))


def test_buffers_are_copied_and_the_copy_is_frozen() -> None:
    model = nn.BatchNorm1d(3)
    ema = EMA(model, half_life_kimg=1.0, rampup=None)
    model.running_mean.fill_(2.0)
    ema.update(model, batch_size=10, images_seen=10)
    assert torch.equal(ema.module.running_mean, model.running_mean)
    assert not any(p.requires_grad for p in ema.module.parameters())
    assert not ema.module.training
