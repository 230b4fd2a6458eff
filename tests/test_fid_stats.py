"""`transgan fid-stats` and `eval --ref-stats`, offline with random Inception weights.

Random weights prove the plumbing and the agreement with torch-fidelity's own FID on the
same images; they say nothing about image quality.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import tiny_train_config

from transgan.cli.main import main
from transgan.data.datasets import MappedDataset, load_digits
from transgan.evaluation import fid_stats
from transgan.evaluation.metrics import EvalError, real_subset
from transgan.images import quantize, to_uint8
from transgan.training.loop import train


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    run_dir = train(
        tiny_train_config(kimg=0.016, tick_kimg=0.016), out=tmp_path_factory.mktemp("runs")
    )
    return run_dir / "network-snapshot-000000.safetensors"


def test_quantize_round_and_truncate():
    x = torch.tensor([-1.0, -0.5, 0.0, 0.999, 1.0, 1.7])
    assert quantize(x, "round").tolist() == [0, 64, 128, 255, 255, 255]
    assert quantize(x, "truncate").tolist() == [0, 63, 127, 254, 255, 255]
    assert torch.equal(quantize(x, "round"), to_uint8(x.clamp(-1, 1)))


def test_stats_equal_torch_fidelity_fid(random_inception_weights, tmp_path):
    """Our statistics + Fréchet distance give torch-fidelity's FID on the same two sets."""
    import torch_fidelity

    a = real_subset(load_digits(16, "train"), 24)
    b = real_subset(load_digits(16, "test"), 24)
    extractor = fid_stats.inception(random_inception_weights, torch.device("cpu"))
    stats = [
        fid_stats.statistics(fid_stats.dataset_batches(s, 16), extractor, 24, "x") for s in (a, b)
    ]
    ours = fid_stats.frechet_distance(stats[0][0], stats[0][1], stats[1][0], stats[1][1])
    theirs = torch_fidelity.calculate_metrics(
        input1=MappedDataset(a, to_uint8),
        input2=MappedDataset(b, to_uint8),
        fid=True,
        feature_extractor_weights_path=str(random_inception_weights),
        cuda=False,
        cache=False,
        save_cpu_ram=True,
        verbose=False,
    )["frechet_inception_distance"]
    assert ours > 0
    assert ours == pytest.approx(theirs, rel=1e-4)
    self_distance = fid_stats.frechet_distance(stats[0][0], stats[0][1], stats[0][0], stats[0][1])
    assert abs(self_distance) < 1e-3 * ours


def test_fid_stats_then_eval_ref_stats(snapshot, random_inception_weights, tmp_path):
    runner = CliRunner()
    weights = ["--inception-weights", str(random_inception_weights), "--device", "cpu"]
    npz = tmp_path / "digits.npz"
    args = ["fid-stats", "--data", "digits", "--resolution", "16", "--max-real", "32"]
    result = runner.invoke(main, [*args, "--out", str(npz), *weights])
    assert result.exit_code == 0, result.output
    with np.load(npz) as data:
        assert data["mu"].shape == (2048,) and data["sigma"].shape == (2048, 2048)
        assert int(data["num_images"]) == 32
    reports = {}
    for mode in ("round", "truncate"):
        out = tmp_path / f"{mode}.json"
        args = ["eval", str(snapshot), "--ref-stats", str(npz), "--metrics", "fid16"]
        result = runner.invoke(main, [*args, "--quantize", mode, "--out", str(out), *weights])
        assert result.exit_code == 0, result.output
        reports[mode] = json.loads(out.read_text())
    assert reports["round"]["metrics"]["fid16"] > 0
    assert reports["truncate"]["quantize"] == "truncate"
    assert reports["round"]["metrics"]["fid16"] != reports["truncate"]["metrics"]["fid16"]
    # mean/cov keys (pytorch-fid's other spelling) give the same number
    with np.load(npz) as data:
        np.savez(tmp_path / "alt.npz", mean=data["mu"], cov=data["sigma"])
    out = tmp_path / "alt.json"
    args = ["eval", str(snapshot), "--ref-stats", str(tmp_path / "alt.npz"), "--metrics", "fid16"]
    assert runner.invoke(main, [*args, "--out", str(out), *weights]).exit_code == 0
    assert json.loads(out.read_text())["metrics"] == reports["round"]["metrics"]


def test_ref_stats_refuse_what_they_cannot_do(snapshot, tmp_path):
    np.savez(tmp_path / "bad.npz", mu=np.zeros(64), sigma=np.eye(64))
    with pytest.raises(EvalError, match="64-d statistics"):
        fid_stats.read_ref_stats(tmp_path / "bad.npz")
    np.savez(tmp_path / "keys.npz", m=np.zeros(3))
    with pytest.raises(EvalError, match="expected mu and sigma"):
        fid_stats.read_ref_stats(tmp_path / "keys.npz")
    np.savez(tmp_path / "obj.npz", mu=np.array([object()]), sigma=np.eye(1))
    with pytest.raises(EvalError, match="not a NumPy"):
        fid_stats.read_ref_stats(tmp_path / "obj.npz")
    np.savez(tmp_path / "ok.npz", mu=np.zeros(2048), sigma=np.eye(2048))
    args = ["eval", str(snapshot), "--ref-stats", str(tmp_path / "ok.npz"), "--metrics", "kid16"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and "FID only" in result.output
