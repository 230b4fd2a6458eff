"""Non-finite gradients: the step is skipped on the device, counted, and the run stops."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import poison_d_loss, tiny_train_config

from transgan.fileio import read_jsonl
from transgan.training.loop import TrainingError, train
from transgan.training.state import list_states, load_state


def test_nan_steps_are_skipped_counted_and_stop_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    poison_d_loss(monkeypatch.setattr)
    cfg = tiny_train_config(max_bad_steps=3)
    with pytest.raises(TrainingError, match="non-finite"):
        train(cfg, out=tmp_path)
    (run_dir,) = tmp_path.iterdir()
    (record,) = read_jsonl(run_dir / "stats.jsonl")
    assert record["d_skipped"] == 1.0 and record["bad_steps_total"] == 4
    state = load_state(list_states(run_dir)[-1])  # the last state is intact and finite
    assert all(torch.isfinite(t).all() for t in state["discriminator"].values())
    # Every D step was skipped, so D still holds its initial weights.
    from transgan.distributed import DistInfo
    from transgan.training.setup import build_networks

    torch.manual_seed(cfg.seed)
    fresh = build_networks(cfg, cfg.model_config(), DistInfo(0, 1, 0, torch.device("cpu")))
    for name, tensor in fresh.discriminator.state_dict().items():
        assert torch.equal(state["discriminator"][name], tensor), name
