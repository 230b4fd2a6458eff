"""Shared test helpers: tiny configs so the suite stays fast on 2 CPU cores."""

from __future__ import annotations

import pytest
import torch

from transgan import presets

# Small enough to run forward/backward in milliseconds, same structure as each preset.
TINY = {"g_latent_dim": 16, "g_num_heads": 2, "d_dim": 16, "d_depth": 1, "d_num_heads": 2}


def tiny_overrides(name: str) -> dict:
    """Overrides that keep ``name``'s stage count and resolution but shrink widths/depths."""
    config = presets.get_config(name)
    stages = len(config.generator.depths)
    return {**TINY, "g_dim": 2 * 4 ** (stages - 1) * 2, "g_depths": (1,) * stages}


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)


# A 16-px model that trains a tick in well under a second on the CPU.
TINY_TRAIN_MODEL = {
    "g_bottom_width": 4,
    "g_dim": 32,
    "g_depths": (1, 1, 1),
    "g_latent_dim": 16,
    "g_num_heads": 2,
    "d_dim": 16,
    "d_depth": 1,
    "d_num_heads": 2,
}


def tiny_train_config(**changes):
    """A TrainConfig for tests: 16 real images per iteration, 2 iterations per tick."""
    from transgan.training.config import TrainConfig

    base = {
        "model": "transgan_tiny",
        "model_overrides": dict(TINY_TRAIN_MODEL),
        "data": "digits",
        "kimg": 0.064,
        "tick_kimg": 0.032,
        "snap_ticks": 1,
        "batch": 8,
        "g_batch": 8,
        "n_critic": 2,
        "workers": 0,
        "grid_size": 4,
        "device": "cpu",
    }
    base.update(changes)
    return TrainConfig(**base)
