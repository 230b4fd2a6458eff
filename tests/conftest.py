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
