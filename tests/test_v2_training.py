"""Training pieces added with TransGAN v2: gradient accumulation, the authors' augmentation
ops, v2 recipes on the CPU, and files written by the previous release."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import one_iteration, tiny_train_config

from transgan.distributed import DistInfo
from transgan.fileio import read_jsonl
from transgan.snapshot import load_generator
from transgan.training.augment import AugmentConfig, diff_augment, rand_erase, rand_hue
from transgan.training.loop import train
from transgan.training.losses import LossConfig
from transgan.training.setup import build_networks

FIXTURE = Path(__file__).parent / "fixtures" / "v0.1-run"
CPU = DistInfo(0, 1, 0, torch.device("cpu"))


@pytest.mark.parametrize("model", ["transgan_tiny", "transgan2_tiny"])
def test_accumulated_micro_batches_equal_one_large_batch(model: str) -> None:
    results = []
    for k in (1, 2, 4):
        changes = {"model": model, "accum_steps": k, "loss": LossConfig("hinge")}
        changes["augment"] = AugmentConfig(policy=())
        if model != "transgan_tiny":  # noise draws differ per micro-batch: switch it off
            changes["model_overrides"] = {"g_noise": False, "d_noise": False}
        cfg = tiny_train_config(**changes)
        torch.manual_seed(0)
        nets = build_networks(cfg, cfg.model_config(), CPU)
        torch.manual_seed(1)
        one_iteration(nets, cfg)
        results.append(nets)
    for other in results[1:]:
        for net in ("generator", "discriminator"):
            for (name, a), b in zip(
                getattr(results[0], net).state_dict().items(),
                getattr(other, net).state_dict().values(),
                strict=True,
            ):
                torch.testing.assert_close(a, b, atol=2e-6, rtol=1e-5, msg=f"{net}.{name}")


def test_batch_must_split_into_ranks_and_micro_batches(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="divisible by --accum-steps 3"):
        train(tiny_train_config(accum_steps=3), out=tmp_path)


def test_erase_zeroes_one_box_in_chosen_samples() -> None:
    x = torch.ones(64, 3, 16, 16)
    y = rand_erase(x, 4, 4, prob=1.0)
    erased = (y == 0).all(dim=1).sum(dim=(1, 2))  # zeroed pixels per sample
    assert (erased > 0).all() and (erased <= 16).all()
    assert torch.equal(rand_erase(x, 4, 4, prob=0.0), x)


def test_hue_rotation_keeps_grey_and_norm_about_the_grey_axis() -> None:
    grey = torch.full((4, 3, 2, 2), 0.25)
    torch.testing.assert_close(rand_hue(grey, prob=1.0), grey)
    x = torch.randn(16, 3, 4, 4)
    y = rand_hue(x, prob=1.0)
    torch.testing.assert_close(y.norm(dim=1), x.norm(dim=1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(y.mean(dim=1), x.mean(dim=1), atol=1e-5, rtol=1e-5)


def test_v2_augment_policy_parses_and_runs() -> None:
    config = AugmentConfig.from_string("translation,erase_ratio,color,hue")
    assert diff_augment(torch.rand(4, 3, 16, 16), config).shape == (4, 3, 16, 16)
    with pytest.raises(ValueError, match="filter"):
        AugmentConfig.from_string("filter,translation")


@pytest.mark.slow
def test_tiny_v2_recipe_trains_on_the_cpu_and_writes_a_grid(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "transgan", "train", "--recipe", "v2-digits-tiny"]
    cmd += ["--kimg", "0.5", "--tick", "0.25", "--workers", "0", "--run-dir", str(tmp_path / "r")]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "r" / "fakes000000.png").is_file()
    stats = read_jsonl(tmp_path / "r" / "stats.jsonl")
    assert stats[-1]["nimg"] >= 500 and stats[-1]["d_skipped"] == 0


def test_snapshot_written_by_v0_1_still_loads() -> None:
    generator, config = load_generator(FIXTURE / "network-snapshot-000000.safetensors")
    assert config.generator.upsample_ops == ("pixel", "pixel")
    assert generator(torch.randn(2, config.generator.latent_dim)).shape == (2, 3, 16, 16)


def test_training_state_written_by_v0_1_resumes(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURE, run_dir)
    # the fixture holds the state at 16 images; continue to 48
    import json

    from transgan.training.config import TrainConfig

    saved = json.loads((run_dir / "config.json").read_text())["train"]
    cfg = TrainConfig.from_dict({**saved, "kimg": 0.048})
    train(cfg, out=tmp_path, resume=run_dir)
    stats = read_jsonl(run_dir / "stats.jsonl")
    assert [r["nimg"] for r in stats] == [16, 32, 48]
