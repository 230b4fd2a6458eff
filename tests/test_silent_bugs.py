"""Five silent correctness bugs (issue 16): each test failed on the code before its fix."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import poison_d_loss, tiny_train_config
from PIL import Image

from transgan.data.datasets import data_key
from transgan.fileio import read_jsonl
from transgan.snapshot import load_generator
from transgan.training import report
from transgan.training.ema import EMA
from transgan.training.loop import TrainingError, train

HERE = Path(__file__).parent


# ---------------------------------------------------------------------------------------
# 1. The EMA half-life counts real images shown to D, like kimg
# ---------------------------------------------------------------------------------------


def test_ema_updates_count_the_images_that_advanced_the_counter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, int]] = []
    real_update = EMA.update

    def recording(self, model, batch_size, images_seen):
        calls.append((batch_size, images_seen))
        return real_update(self, model, batch_size, images_seen)

    monkeypatch.setattr(EMA, "update", recording)
    # batch · n_critic = 16 real images per iteration; G's batch (4) must not matter.
    train(tiny_train_config(batch=8, n_critic=2, g_batch=4), out=tmp_path)
    assert calls == [(16, 16), (16, 32), (16, 48), (16, 64)]


def test_ema_half_life_is_ema_kimg_of_real_images() -> None:
    ema = EMA(torch.nn.Linear(1, 1), half_life_kimg=1.0, rampup=None)
    # At batch 64 and n_critic 5 an iteration shows D 320 images: after 1,000 images
    # (3.125 iterations) the EMA's distance to a fixed model has halved.
    assert ema.beta(320, 10**6) ** (1000 / 320) == pytest.approx(0.5)


# ---------------------------------------------------------------------------------------
# 2. Locality masks reach the EMA generator and the snapshot
# ---------------------------------------------------------------------------------------


def test_locality_mask_applies_to_the_ema_generator_and_travels_in_snapshots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    masked_when_drawn: list[bool] = []
    real_generate = report.generate_images

    def recording(generator, z, **kwargs):
        masked_when_drawn.append(bool(generator.block_masks))
        return real_generate(generator, z, **kwargs)

    monkeypatch.setattr(report, "generate_images", recording)  # the tick grids
    cfg = tiny_train_config(local_kind="2d", local_windows=(1,), local_until_kimg=(10.0,))
    run_dir = train(cfg, out=tmp_path)
    # fakes-init is drawn before training (no mask yet); every tick's grid is masked.
    assert masked_when_drawn[1:] == [True, True], masked_when_drawn

    snapshot = sorted(run_dir.glob("network-snapshot-*.safetensors"))[-1]
    generator, _ = load_generator(snapshot)
    assert list(generator.block_masks) == [(2, 0)]
    # the 2-D window of radius 1 on the last stage's 16×16 grid: 3×3 around the centre
    assert generator.block_masks[(2, 0)].sum(dim=1).max().item() == 9
    z = torch.randn(2, generator.config.latent_dim)
    masked = generator(z)
    generator.block_masks.clear()
    assert not torch.allclose(masked, generator(z))


def test_snapshot_after_the_schedule_records_no_mask(tmp_path: Path) -> None:
    cfg = tiny_train_config(local_kind="2d", local_windows=(1,), local_until_kimg=(0.016,))
    run_dir = train(cfg, out=tmp_path)
    snapshot = sorted(run_dir.glob("network-snapshot-*.safetensors"))[-1]
    generator, _ = load_generator(snapshot)
    assert generator.block_masks == {}


# ---------------------------------------------------------------------------------------
# 3. Under DDP a skipped global step counts once, not once per rank
# ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ddp_counts_each_skipped_global_step_once(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    result = subprocess.run(
        [*cmd, str(HERE / "ddp_nan_worker.py"), str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    records = read_jsonl(run_dir / "stats.jsonl")
    # 4 of the 8 global D steps had a NaN loss on every rank.
    assert records[-1]["bad_steps_total"] == 4


# ---------------------------------------------------------------------------------------
# 4. fp16: the GradScaler's routine overflow-and-retry is not a failure
# ---------------------------------------------------------------------------------------


def test_fp16_scaler_overflows_are_not_counted_as_bad_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A huge initial scale makes the first steps overflow, as the scaler finds its level.
    monkeypatch.setattr(
        torch.amp, "GradScaler", functools.partial(torch.amp.GradScaler, init_scale=2.0**40)
    )
    cfg = tiny_train_config(precision="fp16", max_bad_steps=0)
    run_dir = train(cfg, out=tmp_path)
    records = read_jsonl(run_dir / "stats.jsonl")
    assert records[0]["d_overflow"] > 0  # the scaler did skip steps...
    assert all(r["bad_steps_total"] == 0 for r in records)  # ...and none was a failure


def test_fp16_non_finite_loss_is_a_failure_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    poison_d_loss(monkeypatch.setattr)
    cfg = tiny_train_config(precision="fp16", max_bad_steps=3)
    with pytest.raises(TrainingError, match="non-finite loss or overflowed"):
        train(cfg, out=tmp_path)


# ---------------------------------------------------------------------------------------
# 5. The metrics' real-feature cache is keyed on the data, not on a folder's base name
# ---------------------------------------------------------------------------------------


def _folder(path: Path, seed: int, count: int = 3) -> Path:
    path.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        pixels = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path / f"{i}.png")
    return path


def test_folders_with_the_same_name_get_different_cache_keys(tmp_path: Path) -> None:
    a = _folder(tmp_path / "a" / "imgs", seed=0)
    b = _folder(tmp_path / "b" / "imgs", seed=1)
    assert data_key(str(a), 16) != data_key(str(b), 16)
    assert data_key(str(a), 16) == data_key(str(a), 16)
    assert data_key(str(a), 16) != data_key(str(a), 32)


def test_changed_files_change_the_cache_key(tmp_path: Path) -> None:
    a = _folder(tmp_path / "imgs", seed=0)
    before = data_key(str(a), 16)
    Image.fromarray(np.zeros((9, 9, 3), dtype=np.uint8)).save(a / "0.png")
    assert data_key(str(a), 16) != before


def test_dot_and_builtin_names_give_meaningful_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path / "pics", seed=0)
    monkeypatch.chdir(folder)
    assert data_key(".", 16).startswith("folder-pics-")
    assert data_key("cifar10", 32) == "cifar10-train-32px"
    assert data_key("stl10", 48) == "stl10-unlabeled-48px"


def test_training_metrics_use_the_data_key(tmp_path: Path, random_inception_weights) -> None:
    from transgan.data import build_dataset
    from transgan.training.evaluation import TrainingMetrics

    keys = []
    for parent in ("a", "b"):
        folder = _folder(tmp_path / parent / "imgs", seed=ord(parent))
        cfg = tiny_train_config(
            data=str(folder), metrics=("fid4",), inception_weights=str(random_inception_weights)
        )
        metrics = TrainingMetrics(cfg, build_dataset(str(folder), 16), 16, 16)
        keys.append(metrics.real_key)
    assert keys[0] != keys[1]
