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


def test_gamma_schedule_keeps_its_horizon_when_a_resume_raises_kimg(tmp_path: Path) -> None:
    """A run with --r1-gamma-end decays γ over the --kimg it started with; resumed with a
    larger --kimg it holds γ_end instead of raising γ again."""
    from transgan.cli.train_config import config_for_resume
    from transgan.training.config import TrainConfig
    from transgan.training.losses import LossConfig

    loss = LossConfig("logistic", r1_gamma=1.0, r1_gamma_end=0.1)
    started = TrainConfig(kimg=100, loss=loss)
    assert started.loss.r1_gamma_kimg == 100
    assert started.loss.gamma_scale(100) == pytest.approx(0.1)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"train": started.to_dict()}))
    resumed = config_for_resume(run, {"kimg": 400}, {"kimg"})
    assert resumed.kimg == 400 and resumed.loss.r1_gamma_kimg == 100
    assert resumed.loss.gamma_scale(100) == resumed.loss.gamma_scale(300) == pytest.approx(0.1)
    # a run recorded before the horizon existed decayed over the --kimg it had
    old = started.to_dict()
    del old["loss"]["r1_gamma_kimg"]
    (run / "config.json").write_text(json.dumps({"train": old}))
    assert config_for_resume(run, {"kimg": 400}, {"kimg"}).loss.r1_gamma_kimg == 100
    # its own horizon, given
    assert TrainConfig(
        kimg=100, loss=LossConfig(**{**vars(loss), "r1_gamma_kimg": 30})
    ).loss.gamma_scale(30) == pytest.approx(0.1)


def test_a_gamma_schedule_without_r1_is_refused() -> None:
    result = cli(["train", "--loss", "logistic", "--r1-gamma", "0", "--r1-gamma-end", "0.5"])
    assert result.exit_code == 2, result.output
    assert "--r1-gamma 0 turns R1 off" in result.output
    assert "Traceback" not in result.output
    result = cli(["train", "--loss", "logistic", "--r1-gamma-kimg", "10"])
    assert result.exit_code == 2 and "give --r1-gamma-end too" in result.output


def test_a_second_training_into_a_run_directory_in_use_is_refused(tmp_path: Path) -> None:
    """While a run trains in RUN_DIR, `train --run-dir RUN_DIR` (or --resume) is refused with
    the holder's pid and host, and the first run's files stay as they were."""
    import os
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "transgan",
            "train",
            *tiny_cli_args("100", "0.016"),
            "--max-time",
            "120",
            "--run-dir",
            str(run),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TRANSGAN_PROGRESS": "lines"},
    )
    try:
        deadline = time.monotonic() + 90
        while not (run / "stats.jsonl").exists() and time.monotonic() < deadline:
            assert first.poll() is None, first.stderr.read().decode()
            time.sleep(0.2)
        assert (run / "stats.jsonl").exists(), "the first run never reached its first tick"
        before = sorted(p.name for p in run.iterdir())
        second = cli(["train", *tiny_cli_args("100", "0.016"), "--run-dir", str(run)])
        assert second.exit_code != 0
        assert f"pid {first.pid}" in second.output and "in use by another training" in second.output
        resumed = cli(["train", "--resume", str(run), "--kimg", "200"])
        assert resumed.exit_code != 0 and f"pid {first.pid}" in resumed.output
        after = sorted(p.name for p in run.iterdir())
        assert not [name for name in after if name.startswith("abandoned")]
        assert set(before) <= set(after)  # the first run's files are all still there
    finally:
        first.terminate()
        first.wait(60)
    # its lock went with it: the run resumes now
    resumed = cli(["train", "--resume", str(run), "--kimg", "0.2", "--max-time", "2"])
    assert resumed.exit_code == 0, resumed.output


def test_the_recipe_called_make_demo_is_the_one_make_demo_runs() -> None:
    import re

    from transgan.training.recipes import RECIPES

    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    demo = re.search(r"transgan train --recipe (\S+)", makefile).group(1)
    claiming = [name for name, r in RECIPES.items() if r.summary.startswith("`make demo`")]
    assert claiming == [demo]
