"""Faults found by the review of the new discriminator options (issue 29), in training:
each ran without an error and did something other than what the docs promise. (The
sharing path's and the commands' faults: test_review_command_faults.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from unittest import mock

import pytest
import torch
from conftest import cdist_as_matmul, cli, one_iteration, tiny_train_config

from transgan.distributed import DistInfo
from transgan.fileio import read_jsonl
from transgan.training.augment import AugmentConfig
from transgan.training.losses import LossConfig
from transgan.training.setup import build_networks
from transgan.training.steps import TickStats

CPU = DistInfo(0, 1, 0, torch.device("cpu"))
LECAM = LossConfig("logistic", r1_gamma=0.1, lecam_weight=0.3)


def _trained(iterations: int = 3, **changes):
    # no augmentation: its draws differ per micro-batch shape
    cfg = tiny_train_config(loss=LECAM, augment=AugmentConfig(policy=()), **changes)
    torch.manual_seed(0)
    nets = build_networks(cfg, cfg.model_config(), CPU)
    torch.manual_seed(1)
    for _ in range(iterations):
        one_iteration(nets, cfg)
    return nets


def test_lecam_with_accumulation_is_the_same_update() -> None:
    # --accum-steps promises the same update with less memory: the anchors must move once
    # per D step, from the whole batch (they moved per micro-batch: D differed by 2e-4)
    one, two = _trained(accum_steps=1), _trained(accum_steps=2)
    for key in ("real", "fake"):
        torch.testing.assert_close(getattr(one.lecam, key), getattr(two.lecam, key))
    for (name, a), b in zip(
        one.discriminator.state_dict().items(),
        two.discriminator.state_dict().values(),
        strict=True,
    ):
        torch.testing.assert_close(a, b, atol=2e-6, rtol=1e-5, msg=name)


def test_one_non_finite_d_step_does_not_poison_lecam() -> None:
    cfg = tiny_train_config(loss=LECAM)
    nets = build_networks(cfg, cfg.model_config(), CPU)
    real_d, calls = nets.d_train, {"n": 0}

    def nan_once(x: torch.Tensor) -> torch.Tensor:  # D's logits are NaN on its first call
        calls["n"] += 1
        out = real_d(x)
        return out * float("nan") if calls["n"] == 1 else out

    nets.d_train = nan_once
    skipped = []
    for _ in range(5):
        stats = TickStats()
        one_iteration(nets, cfg, stats)
        skipped.append(round(stats.sums["d_skipped"].item()))
    assert skipped == [1, 0, 0, 0, 0]
    assert torch.isfinite(nets.lecam.real) and torch.isfinite(nets.lecam.fake)


@pytest.mark.parametrize("world, accum", [(1, 1), (2, 1), (1, 2)])
def test_mbstd_group_is_checked_against_each_ranks_micro_batch(world: int, accum: int) -> None:
    cfg = tiny_train_config(
        batch=12,
        g_batch=12,
        accum_steps=accum,
        model_overrides={**tiny_train_config().model_overrides, "d_mbstd_group": 4},
    )
    model = cfg.model_config() if accum == 1 else None
    if world == 1 and accum == 1:  # 12 per micro-batch: groups of 4 never mix
        cfg.check_mbstd_groups(model, world)
        return
    with pytest.raises(ValueError, match=r"each rank.s micro-batch .* = 6 images"):
        cfg.check_mbstd_groups(model or cfg.model_config(), world)


def test_restart_sets_aside_tensorboard_and_config(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from transgan.training.loop import train

    run = train(tiny_train_config(tensorboard=True, seed=1), out=tmp_path)
    old_config = (run / "config.json").read_text()
    train(tiny_train_config(tensorboard=True, seed=2), out=tmp_path, resume=run, restart=True)
    (aside,) = run.glob("abandoned-*")
    assert (aside / "tensorboard").is_dir() and (aside / "config.json").read_text() == old_config
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    steps = [e.step for e in events.Scalars("stats/d_loss")]
    assert steps == [r["nimg"] for r in read_jsonl(run / "stats.jsonl")] == [32, 64]
    assert json.loads((run / "config.json").read_text())["train"]["seed"] == 2


def test_resume_sets_aside_files_written_after_the_resume_point_within_its_kimg(
    tmp_path: Path, tiny_run: Path
) -> None:
    from transgan.images import png_text
    from transgan.snapshot import read_snapshot_extra
    from transgan.training.rundir import set_aside

    # the tiny run writes everything under kimg 0: states at 32 and 64 images, and one
    # snapshot and one grid, last written at 64. Resuming from 32 abandons both.
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    snapshot, grid = run / "network-snapshot-000000.safetensors", run / "fakes000000.png"
    assert read_snapshot_extra(snapshot)["nimg"] == 64 and png_text(grid)["nimg"] == "64"
    aside = set_aside(run, 32)
    assert (aside / snapshot.name).exists() and (aside / grid.name).exists()
    assert not snapshot.exists() and not grid.exists()
    assert (aside / "training-state-000000000064.pt").exists()
    assert (run / "training-state-000000000032.pt").exists()


def test_a_stop_signal_during_start_up_says_so_and_exits_as_a_stop(
    tmp_path: Path, monkeypatch
) -> None:
    import os
    import signal
    import time

    from bad_input_kit import TRAIN

    from transgan.training import autoprecision, loop

    def slow_probe(*args, **kwargs):  # SIGTERM arrives while --precision auto times its probe
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        raise AssertionError("the signal did not stop the start-up")

    monkeypatch.setattr(autoprecision, "choose_precision", slow_probe)
    monkeypatch.setattr(loop, "choose_precision", slow_probe)
    args = [*TRAIN, "--kimg", "0.032", "--precision", "auto", "--out", str(tmp_path / "runs")]
    result = cli(args)
    assert result.exit_code == 0, result.output
    assert "stopped by SIGTERM during start-up" in result.output
    assert "nothing was trained and there is nothing to save" in result.output
    assert not any((tmp_path / "runs").glob("*/config.json"))  # no half-made run left
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers given back


@pytest.mark.parametrize("preset", ["transgan_tiny", "transgan2_tiny"])
def test_flops_of_the_tied_qk_l2_attention_d_match_the_counter(preset: str) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    import transgan

    gan = transgan.create_model(preset, d_attn_kind="l2", d_attn_impl="math")
    d = gan.discriminator
    size = gan.config.img_size

    with (
        mock.patch.object(torch, "cdist", cdist_as_matmul),
        FlopCounterMode(display=False) as counter,
    ):
        d(torch.randn(1, 3, size, size))
    # the tied projection is 2C wide (q = k, v): the estimate once counted 3C
    assert counter.get_total_flops() == d.estimate_flops()


def test_resume_with_kimg_below_the_runs_progress_is_refused(
    tmp_path: Path, tiny_run: Path
) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    config = (run / "config.json").read_bytes()
    below = cli(["train", "--resume", str(run), "--kimg", "0.016"])
    assert below.exit_code == 1, below.output
    assert "--kimg 0.016 is below where" in below.output and "0.064 kimg" in below.output
    same = cli(["train", "--resume", str(run), "--kimg", "0.064"])
    assert same.exit_code == 0 and "is already at --kimg 0.064" in same.output, same.output
    assert (run / "config.json").read_bytes() == config  # nothing rewritten either way
    assert not list(run.glob("abandoned-*"))
