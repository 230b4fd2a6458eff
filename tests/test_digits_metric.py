"""The offline digits metric: a classifier trained here, plugged into torch-fidelity."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from transgan.data.datasets import digits_split, load_digits
from transgan.evaluation import digits as digits_metric
from transgan.evaluation.metrics import EvalError, evaluate, parse_metrics

pytestmark = pytest.mark.usefixtures("digits_cache")


class DigitsFromTheTestSplit(nn.Module):
    """A 'generator' whose samples are held-out digits: the metric's best case."""

    def __init__(self) -> None:
        super().__init__()
        self.images = load_digits(16, "test").images
        self.anchor = nn.Parameter(torch.zeros(()))  # evaluate() reads the device from here

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        index = (z[:, 0].abs() * 1e4).long() % len(self.images)
        return self.images[index] + 0 * self.anchor


class Blobs(nn.Module):
    """A 'generator' of smooth random blobs: no digit at all."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        low = z[:, :48].view(-1, 3, 4, 4).mean(1, keepdim=True).tanh()
        return nn.functional.interpolate(low, size=16, mode="bilinear").repeat(1, 3, 1, 1)


def test_classifier_is_accurate_on_the_held_out_digits() -> None:
    assert digits_metric.test_accuracy() > 0.95
    assert digits_metric.classifier_path().name.endswith(".safetensors")


def test_held_out_digits_score_far_better_than_blobs() -> None:
    specs = parse_metrics("dfid500,dkid500,dis500,dcov500")
    real = load_digits(16, "train")
    good = evaluate(DigitsFromTheTestSplit(), 64, real, "unused", specs)
    bad = evaluate(Blobs(), 64, real, "unused", specs)
    assert good["dfid500"] < 40 < 300 < bad["dfid500"]  # 18.5 measured: finite-sample bias
    assert good["dkid500_mean"] < bad["dkid500_mean"]
    assert good["dis500_mean"] > 5 > bad["dis500_mean"]
    assert good["dcov500"] == 1.0
    assert good["dcov500_confident"] > 0.8
    # the held-out digits are near uniform: every digit 6–14 % of the samples
    shares = [good[f"dcov500_share{d}"] for d in range(10)]
    assert sum(shares) == pytest.approx(1.0)
    assert 0.06 < good["dcov500_share_min"] == min(shares)
    assert good["dcov500_share_max"] == max(shares) < 0.14


def test_shares_show_the_skew_that_coverage_hides() -> None:
    # 100 held-out digits: three of each digit and 70 more 1s — all ten are covered
    from transgan.images import to_uint8

    images, (_, labels) = load_digits(16, "test"), digits_split("test")
    picked = [int(i) for d in range(10) for i in (labels == d).nonzero().flatten()[:3]]
    ones = (labels == 1).nonzero().flatten()[3:73].tolist()
    batch = to_uint8(torch.stack([images[i] for i in picked + ones]))
    record = digits_metric.coverage(batch)
    assert record[""] == 1.0  # coverage: ten of ten
    assert record["_share1"] > 0.65 and record["_share_max"] == record["_share1"]
    assert record["_share_min"] <= 0.05


def test_confident_shares_leave_out_the_smudges() -> None:
    """Ten of each held-out digit and 100 smudges (noise): over all samples the smudges'
    guesses skew the shares; over the confident samples each digit keeps its tenth."""
    from transgan.images import to_uint8

    images, (_, labels) = load_digits(16, "test"), digits_split("test")
    picked = [int(i) for d in range(10) for i in (labels == d).nonzero().flatten()[:10]]
    digits = to_uint8(torch.stack([images[i] for i in picked]))
    smudges = torch.rand(100, *digits.shape[1:], generator=torch.Generator().manual_seed(0)) * 255
    record = digits_metric.coverage(torch.cat([digits, smudges.to(digits.dtype)]))
    assert record["_confident"] < 0.7  # the smudges are not confidently digits
    confident = [record[f"_confident_share{d}"] for d in range(10)]
    assert sum(confident) == pytest.approx(1.0)
    assert 0.07 < record["_confident_share_min"] == min(confident)
    assert record["_confident_share_max"] == max(confident) < 0.14
    assert record["_share_max"] - record["_share_min"] > (
        record["_confident_share_max"] - record["_confident_share_min"]
    )


def test_digit_metrics_need_no_inception_weights() -> None:
    specs = parse_metrics("dcov100")
    out = evaluate(Blobs(), 64, load_digits(16, "train"), "unused", specs)
    shares = {f"dcov100_share{d}" for d in range(10)} | {"dcov100_share_min", "dcov100_share_max"}
    shares |= {name.replace("_share", "_confident_share") for name in shares}
    assert set(out) == {"dcov100", "dcov100_confident"} | shares
    with pytest.raises(EvalError, match="dfid"):
        parse_metrics("dfd100")


def test_the_held_out_split_is_not_the_training_split() -> None:
    train, _ = digits_split("train")
    test, _ = digits_split("test")
    assert len(train) == 1198 and len(test) == 599


def test_eval_prints_digit_metrics_of_a_snapshot_offline(tmp_path) -> None:
    import json

    from click.testing import CliRunner
    from conftest import tiny_train_config

    from transgan.cli.main import main
    from transgan.training.loop import train

    run_dir = train(tiny_train_config(kimg=0.016), out=tmp_path)
    snapshot = next(run_dir.glob("network-snapshot-*.safetensors"))
    result = CliRunner().invoke(
        main, ["eval", str(snapshot), "--data", "digits", "--metrics", "dfid200,dcov200"]
    )
    assert result.exit_code == 0, result.output
    report, _ = json.JSONDecoder().raw_decode(result.output[result.output.index("{") :])
    assert report["metrics"]["dfid200"] > 0 and 0 <= report["metrics"]["dcov200"] <= 1
