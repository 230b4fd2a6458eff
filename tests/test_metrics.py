"""Evaluation through torch-fidelity, offline.

What these tests prove and do not prove is said in each. None of them checks that our FID
equals a published FID: that needs the real Inception weights (see the last test).
"""

from __future__ import annotations

import json
import os
import pickle
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import tiny_train_config
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric

from transgan.cli.main import main
from transgan.evaluation.metrics import EvalError, parse_metrics
from transgan.evaluation.weights import resolve_inception_weights
from transgan.fileio import read_jsonl
from transgan.training.loop import train


def test_metric_names_parse_with_counts() -> None:
    specs = parse_metrics("fid50k, is10k,kid1000,pr2k")
    assert [(s.kind, s.num_samples) for s in specs] == [
        ("fid", 50_000),
        ("is", 10_000),
        ("kid", 1_000),
        ("pr", 2_000),
    ]
    with pytest.raises(EvalError, match="fid50k"):
        parse_metrics("fidelity")


def test_frechet_distance_matches_closed_form_for_two_gaussians() -> None:
    # Proves the distance formula we rely on: for diagonal covariances
    # FID = |μ1 − μ2|² + Σ (σ1 + σ2 − 2·sqrt(σ1·σ2)).
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = ((mu1 - mu2) ** 2).sum() + (s1 + s2 - 2 * np.sqrt(s1 * s2)).sum()
    got = fid_statistics_to_metric(
        {"mu": mu1, "sigma": np.diag(s1)}, {"mu": mu2, "sigma": np.diag(s2)}, verbose=False
    )
    assert got["frechet_inception_distance"] == pytest.approx(expected)


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_noise() -> None:
    # Proves the statistics path is consistent; says nothing about Inception features.
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(400, 8, generator=gen, dtype=torch.float64)
    base = fid_features_to_statistics(feats)
    fids = []
    for sigma in (0.0, 0.1, 0.5, 1.0):
        noisy = feats + sigma * torch.randn(feats.shape, generator=gen, dtype=torch.float64)
        fids.append(
            fid_statistics_to_metric(base, fid_features_to_statistics(noisy), False)[
                "frechet_inception_distance"
            ]
        )
    assert abs(fids[0]) < 1e-6
    assert fids == sorted(fids) and fids[-1] > 1.0


def test_kid_is_unbiased_on_sets_from_one_distribution() -> None:
    # The unbiased MMD estimate centres on 0 for equal distributions (it may go negative).
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(300, 16, generator=gen), torch.randn(300, 16, generator=gen)
    same = kid_features_to_metric(a, b, kid_subsets=50, kid_subset_size=100, verbose=False)
    shifted = kid_features_to_metric(a, b + 1.0, kid_subsets=50, kid_subset_size=100, verbose=False)
    assert abs(same["kernel_inception_distance_mean"]) < 0.05
    assert shifted["kernel_inception_distance_mean"] > 10 * abs(
        same["kernel_inception_distance_mean"]
    )


@pytest.fixture(scope="module")
def digits_snapshot(tmp_path_factory) -> Path:
    run_dir = train(
        tiny_train_config(kimg=0.016, tick_kimg=0.016), out=tmp_path_factory.mktemp("runs")
    )
    return run_dir / "network-snapshot-000000.safetensors"


def test_eval_cli_runs_the_full_path_with_local_weights(
    digits_snapshot: Path, random_inception_weights: Path, tmp_path: Path
) -> None:
    # Proves plumbing — snapshot -> uint8 -> torch-fidelity -> JSON — with random Inception
    # weights. The numbers mean nothing; only that they exist and are finite.
    args = [
        "eval",
        str(digits_snapshot),
        "--data",
        "digits",
        "--metrics",
        "fid16,kid16,is16",
        "--max-real",
        "16",
        "--inception-weights",
        str(random_inception_weights),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--device",
        "cpu",
        "--out",
        str(tmp_path / "r.json"),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["num_real"] == 16
    assert set(report["metrics"]) == {"fid16", "kid16_mean", "kid16_std", "is16_mean", "is16_std"}
    assert all(np.isfinite(v) for v in report["metrics"].values())
    assert report["metrics"]["fid16"] > 0
    assert any((tmp_path / "cache").iterdir())  # real statistics were cached


def test_missing_weights_offline_names_the_file_and_the_fix(
    digits_snapshot: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Simulates an offline machine with no cached weights.
    from torch_fidelity import feature_extractor_inceptionv3 as fe

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(fe, "load_state_dict_from_url", offline)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("TRANSGAN_INCEPTION_WEIGHTS", raising=False)
    result = CliRunner().invoke(
        main,
        ["eval", str(digits_snapshot), "--metrics", "fid8", "--max-real", "8", "--device", "cpu"],
    )
    assert result.exit_code == 1
    assert "weights-inception-2015-12-05-6726825d.pth" in result.output
    assert "--inception-weights" in result.output


def test_weights_file_that_would_run_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    bad = tmp_path / "inception.pth"
    bad.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(EvalError, match="weights_only"):
        resolve_inception_weights(bad)
    assert not marker.exists()


def test_training_writes_metric_records(random_inception_weights: Path, tmp_path: Path) -> None:
    # Proves the in-training path writes one record per evaluation with its context.
    cfg = tiny_train_config(
        metrics=("fid8",), metrics_max_real=8, inception_weights=str(random_inception_weights)
    )
    run_dir = train(cfg, out=tmp_path)
    records = read_jsonl(run_dir / "metric-fid8.jsonl")
    assert [r["kimg"] for r in records] == [0.032, 0.064]  # at each snapshot
    assert records[-1]["snapshot"] == "network-snapshot-000000.safetensors"
    assert records[-1]["num_samples"] == 8 and "fid8" in records[-1]["results"]
    result = CliRunner().invoke(main, ["plot", str(run_dir)])
    assert result.exit_code == 0 and (run_dir / "curves.png").stat().st_size > 10_000


@pytest.mark.skipif(
    not os.environ.get("TRANSGAN_INCEPTION_WEIGHTS"),
    reason="needs the real Inception weights: set TRANSGAN_INCEPTION_WEIGHTS to "
    "weights-inception-2015-12-05-6726825d.pth (cannot be downloaded in this workplace)",
)
def test_real_weights_separate_digits_from_noise(tmp_path: Path) -> None:
    # With the real network, real digits must be far closer to digits than noise is.
    from transgan.data import build_dataset
    from transgan.evaluation.metrics import evaluate, real_subset

    class Noise(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))

        def forward(self, z):
            return torch.rand(z.shape[0], 3, 32, 32) * 2 - 1

    real = real_subset(build_dataset("digits", 32), 200)
    weights = resolve_inception_weights(None)
    noise = evaluate(
        Noise(),
        8,
        real,
        "digits-32",
        parse_metrics("fid200"),
        inception_weights=weights,
        cache_dir=str(tmp_path),
    )
    assert noise["fid200"] > 100
