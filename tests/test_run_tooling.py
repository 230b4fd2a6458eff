"""Working with runs: log lines without a terminal, TensorBoard, --mirror, prepared data sets,
scoring any images, the DINOv2 metric."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import tiny_cli_args, tiny_train_config
from PIL import Image

from transgan.cli.main import main
from transgan.data import build_dataset
from transgan.data.datasets import DataError
from transgan.data.prepared import PreparedDataset
from transgan.evaluation.metrics import parse_metrics
from transgan.progress import duration, status_line
from transgan.training.augment import random_xflip
from transgan.training.config import TrainConfig
from transgan.training.loop import train


def test_a_log_gets_one_readable_line_per_tick(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    env.pop("TRANSGAN_PROGRESS", None)
    cmd = [sys.executable, "-m", "transgan", "train", *tiny_cli_args("0.064", "0.032")]
    result = subprocess.run(
        [*cmd, "--out", str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "\r" not in result.stderr  # no carriage-return progress bar in a log
    lines = [line for line in result.stderr.splitlines() if line.startswith("tick ")]
    assert len(lines) == 2
    for key in ("kimg", "time", "img/s", "D(real)", "D(fake)", "mem", "eta"):
        assert key in lines[0]


def test_status_line_fields():
    record = {"tick": 3, "kimg": 12.0, "images_per_s": 100.0, "train_seconds": 65.0,
              "sec_per_tick": 20.0, "d_loss": 1.2, "g_loss": 0.7, "d_real": 0.1,
              "d_fake": -0.1, "peak_mem_mb": 900.0}  # fmt: skip
    line = status_line(record, total_kimg=24.0)
    assert "tick 3" in line and "img/s 100.0" in line and "eta 2m 00s" in line
    assert duration(3725) == "1h 02m 05s"
    assert "eta 0m 35s" in status_line(record, total_kimg=24.0, max_time=100.0)


def test_tensorboard_event_files_read_back(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = train(tiny_train_config(tensorboard=True), out=tmp_path)
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert {"stats/d_loss", "stats/g_loss", "stats/d_real", "stats/images_per_s"} <= set(scalars)
    stats = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    d_loss = events.Scalars("stats/d_loss")
    assert [e.step for e in d_loss] == [r["nimg"] for r in stats]
    assert [e.value for e in d_loss] == pytest.approx([r["d_loss"] for r in stats])
    assert "fakes" in events.Tags()["images"]
    off = train(tiny_train_config(tensorboard=False), out=tmp_path / "off")
    assert not (off / "tensorboard").exists()


def test_mirror_flips_some_images_and_defaults_to_the_authors_choice():
    torch.manual_seed(0)
    x = torch.randn(64, 3, 8, 8)
    y = random_xflip(x)
    flipped = [torch.equal(y[i], x[i].flip(-1)) for i in range(64)]
    kept = [torch.equal(y[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 16 < sum(flipped) < 48  # per image, about half
    assert not torch.equal(random_xflip(x), y)  # a new draw flips other images
    # the default follows --data (test_silent_faults.py has the preset/data crossings)
    assert TrainConfig(model="transgan2_cifar10", data="cifar10").mirror_used()
    assert TrainConfig(model="transgan_s", data="stl10").mirror_used()
    assert not TrainConfig(model="transgan_digits", data="digits").mirror_used()
    assert TrainConfig(model="transgan_digits", mirror=True).mirror_used()


def _class_folders(root: Path) -> Path:
    gen = torch.Generator().manual_seed(0)
    for name in ("b", "a"):
        (root / name).mkdir(parents=True)
        for i in range(20):
            pixels = torch.randint(0, 256, (20, 24, 3), generator=gen, dtype=torch.uint8)
            Image.fromarray(pixels.numpy()).save(root / name / f"{i}.png")
    (root / "a" / "broken.png").write_bytes(b"not a png")
    return root


def test_prepare_data_then_train_from_it(tmp_path):
    source = _class_folders(tmp_path / "src")
    out = tmp_path / "prepared"
    args = ["prepare-data", str(source), "--resolution", "16", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    index = json.loads((out / "dataset.json").read_text())
    assert index["count"] == 40 and index["class_names"] == ["a", "b"]
    assert index["source_scan"]["images_broken"] == 1
    prepared = build_dataset(str(out), 16)
    assert isinstance(prepared, PreparedDataset)
    folder = build_dataset(str(source), 16)
    for i in (0, 17, 39):  # the same pixels, up to uint8 rounding
        assert (prepared[i] - folder[i]).abs().max() <= 1 / 127.5 + 1e-6
    with pytest.raises(DataError, match="prepared at 16 px"):
        PreparedDataset(out, 32)
    run_dir = train(tiny_train_config(data=str(out), workers=2, cond=True), out=tmp_path / "runs")
    assert json.loads((run_dir / "config.json").read_text())["classes"] == ["a", "b"]


def test_eval_images_folder_and_npz(random_inception_weights, tmp_path):
    from transgan.data.datasets import load_digits
    from transgan.images import to_uint8

    images = to_uint8(load_digits(16, "test").images[:16])  # (16, 3, 16, 16) uint8
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, img in enumerate(images):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / f"{i}.png")
    np.savez(tmp_path / "imgs.npz", images=images.permute(0, 2, 3, 1).numpy())
    common = ["--data", "digits", "--metrics", "fid16,dcov16", "--max-real", "16"]
    common += ["--inception-weights", str(random_inception_weights)]
    common += ["--cache-dir", str(tmp_path / "cache")]
    values = []
    for source in (folder, tmp_path / "imgs.npz"):
        out = tmp_path / f"{source.name}.json"  # imgs and imgs.npz: two reports
        result = CliRunner().invoke(
            main, ["eval", "--images", str(source), *common, "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        report = json.loads(out.read_text())
        assert report["num_images"] == 16
        values.append(report["metrics"])
    assert values[0] == pytest.approx(values[1])  # PNG is lossless: same pixels, same numbers
    assert values[0]["fid16"] > 0 and values[0]["dcov16"] > 0.5  # real digits: most classes
    np.savez(tmp_path / "float.npz", images=np.zeros((4, 16, 16, 3), np.float32))
    result = CliRunner().invoke(main, ["eval", "--images", str(tmp_path / "float.npz")])
    assert result.exit_code != 0 and "expected uint8 images" in result.output


def dinov2_layout_state(dim: int = 64, depth: int = 2, grid: int = 5, seed: int = 0) -> dict:
    """Random tensors under the key names and shapes of DINOv2's released backbone files
    (``dinov2_vitl14_pretrain.pth`` has dim 1024, depth 24, a 37×37 grid), scaled down."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: 0.2 * torch.randn(*shape, generator=g)  # noqa: E731
    state = {
        "cls_token": r(1, 1, dim),
        "pos_embed": r(1, 1 + grid * grid, dim),
        "mask_token": torch.zeros(1, dim),
        "patch_embed.proj.weight": r(dim, 3, 14, 14) * 0.1,
        "patch_embed.proj.bias": r(dim),
        "norm.weight": 1 + r(dim),
        "norm.bias": r(dim),
    }
    for i in range(depth):
        b = f"blocks.{i}."
        for norm in ("norm1", "norm2"):
            state |= {b + norm + ".weight": 1 + r(dim), b + norm + ".bias": r(dim)}
        state |= {
            b + "attn.qkv.weight": r(3 * dim, dim),
            b + "attn.qkv.bias": r(3 * dim),
            b + "attn.proj.weight": r(dim, dim),
            b + "attn.proj.bias": r(dim),
            b + "ls1.gamma": r(dim),
            b + "mlp.fc1.weight": r(4 * dim, dim),
            b + "mlp.fc1.bias": r(4 * dim),
            b + "mlp.fc2.weight": r(dim, 4 * dim),
            b + "mlp.fc2.bias": r(dim),
            b + "ls2.gamma": r(dim),
        }
    return state


def test_fdd_runs_offline_from_a_local_dinov2_weights_file(tmp_path):
    from transgan.data.datasets import TensorImages, load_digits
    from transgan.evaluation.dinov2 import DinoV2FeatureExtractor
    from transgan.evaluation.fid_stats import dataset_batches, frechet_distance, statistics
    from transgan.evaluation.metrics import evaluate
    from transgan.images import to_uint8

    spec = parse_metrics("fdd2k")[0]
    assert (spec.kind, spec.num_samples) == ("fdd", 2000)
    weights = tmp_path / "dinov2_vitl14_pretrain.pth"
    torch.save(dinov2_layout_state(), weights)
    real = load_digits(16, "test")
    fake = TensorImages(to_uint8(load_digits(16, "train").images[:64]))
    cache = str(tmp_path / "cache")
    run = lambda w: evaluate(  # noqa: E731
        fake, 0, real, "digits-test-16px", parse_metrics("fdd64"),
        dinov2_weights=w, cache_dir=cache,
    )["fdd64"]  # fmt: skip
    fdd = run(weights)
    # the same number from the extractor's features and the Fréchet distance by hand
    extractor = DinoV2FeatureExtractor("x", ["dinov2"], feature_extractor_weights_path=weights)
    mu1, s1, _ = statistics(iter(torch.utils.data.DataLoader(fake, 32)), extractor, 64, "f")
    mu2, s2, _ = statistics(dataset_batches(real, 64), extractor, len(real), "r")
    assert fdd == pytest.approx(frechet_distance(mu1, s1, mu2, s2), rel=1e-3)
    assert fdd > 0
    # other weights: other features, never the cached reference of the first file
    other = tmp_path / "other.pth"
    torch.save(dinov2_layout_state(seed=1), other)
    assert run(other) != pytest.approx(fdd, rel=1e-3)


def test_dinov2_weights_that_do_not_fit_are_refused_with_the_fix(tmp_path, monkeypatch):
    from transgan.evaluation.dinov2 import DINOV2_URL, DinoV2Error, load_encoder, resolve_weights
    from transgan.evaluation.metrics import EvalError

    state = dinov2_layout_state()
    bad = tmp_path / "registers.pth"
    torch.save({**state, "register_tokens": torch.zeros(1, 4, 64)}, bad)
    with pytest.raises(DinoV2Error, match="register tokens"):
        load_encoder(bad)
    torch.save({k: v for k, v in state.items() if k != "blocks.1.ls2.gamma"}, bad)
    with pytest.raises(DinoV2Error, match=r"1 missing and 0 unexpected"):
        load_encoder(bad)
    torch.save({"fc.weight": torch.zeros(2, 2)}, bad)
    with pytest.raises(DinoV2Error, match="not a DINOv2 backbone"):
        load_encoder(bad)
    with pytest.raises(EvalError, match="do not exist"):
        resolve_weights(tmp_path / "absent.pth")
    # offline with nothing local: the message says where to get the file and how to pass it
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("TRANSGAN_DINOV2_WEIGHTS", raising=False)

    def offline(url: str, dst: str, **kwargs: object) -> None:
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(DinoV2Error, match="--dinov2-weights") as err:
        resolve_weights(None)
    assert DINOV2_URL in str(err.value)


def test_eval_images_scores_fdd_from_the_command_line(tmp_path):
    from transgan.data.datasets import load_digits
    from transgan.images import to_uint8

    weights = tmp_path / "dinov2.pth"
    torch.save(dinov2_layout_state(), weights)
    images = to_uint8(load_digits(16, "train").images[:32]).permute(0, 2, 3, 1).numpy()
    np.savez(tmp_path / "fake.npz", images=images)
    args = ["eval", "--images", str(tmp_path / "fake.npz"), "--data", "digits"]
    args += ["--metrics", "fdd32", "--max-real", "64", "--cache-dir", str(tmp_path / "c")]
    result = CliRunner().invoke(main, [*args, "--dinov2-weights", str(weights)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[result.output.index("{") :])["metrics"]["fdd32"] > 0
    result = CliRunner().invoke(main, [*args, "--dinov2-weights", str(tmp_path / "none.pth")])
    assert result.exit_code != 0 and "do not exist" in result.output
