"""What a run does without being asked: x-flips by data set (said in the start-up lines),
one training per run directory, and γ's schedule on a horizon of its own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import cli, tiny_cli_args
from PIL import Image


def _png_folder(folder: Path, n: int = 16, side: int = 16) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:03d}.png")
    return folder


@pytest.mark.parametrize(
    "data, expected",
    [
        ("cifar10", True),
        ("stl10", True),
        ("celeba", True),
        ("digits", False),
        ("digits-all", False),
    ],
)
def test_x_flips_follow_the_data_set(data: str, expected: bool) -> None:
    from transgan.training.config import TrainConfig

    flips, why = TrainConfig(data=data).mirror_resolved()
    assert flips is expected and why
    assert TrainConfig(data=data, mirror=not expected).mirror_resolved()[0] is (not expected)


def test_a_folder_is_not_x_flipped_unless_asked(tmp_path: Path) -> None:
    from transgan.training.config import TrainConfig

    folder = _png_folder(tmp_path / "logos")
    flips, why = TrainConfig(data=str(folder)).mirror_resolved()
    assert flips is False and "--mirror" in why and "folder" in why
    assert TrainConfig(data=str(folder), mirror=True).mirror_resolved() == (True, "--mirror")


def test_train_on_a_folder_says_it_does_not_flip(tmp_path: Path) -> None:
    folder = _png_folder(tmp_path / "images")
    run = tmp_path / "run"
    args = ["train", "--data", str(folder), *tiny_cli_args("0.016", "0.016")]
    result = cli([*args, "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    assert "x-flips: off (a folder: --mirror if your images may be flipped)" in result.output
    assert json.loads((run / "config.json").read_text())["mirror"] is False
