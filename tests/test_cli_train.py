"""`transgan train` options: help, dry run, validation, resume rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from transgan.cli.main import main


def test_help_shows_examples_and_defaults() -> None:
    result = CliRunner().invoke(main, ["train", "--help"])
    assert result.exit_code == 0
    assert "torchrun --nproc_per_node=8" in result.output
    assert "--n-critic" in result.output and "default: 5" in result.output


def test_dry_run_prints_the_resolved_config() -> None:
    args = [
        "train",
        "--model",
        "transgan_xl",
        "--data",
        "cifar10",
        "--dry-run",
        "--mtct-weight",
        "50",
        "--augment",
        "translation,color",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    config = json.loads(result.output)
    assert config["model"]["generator"]["dim"] == 1024
    assert config["model"]["generator"]["mtct"] is True
    assert config["train"]["augment"]["policy"] == ["translation", "color"]
    assert config["train"]["loss"]["kind"] == "wgangp-eps"


def test_invalid_values_are_refused_where_declared() -> None:
    result = CliRunner().invoke(main, ["train", "--n-critic", "0", "--dry-run"])
    assert result.exit_code == 2
    assert "--n-critic" in result.output
    result = CliRunner().invoke(main, ["train", "--model", "transgan_xxl", "--dry-run"])
    assert result.exit_code == 2 and "transgan_xl" in result.output


def test_bad_model_override_names_the_field() -> None:
    result = CliRunner().invoke(main, ["train", "--set", "g_dim=100", "--dry-run"])
    assert result.exit_code == 2
    assert "dim=100" in result.output


def test_resume_refuses_options_that_would_change_the_run(tmp_path: Path) -> None:
    run = tmp_path / "00000-x"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"train": {}}))
    result = CliRunner().invoke(main, ["train", "--resume", str(run), "--lr-g", "1e-3"])
    assert result.exit_code == 2
    assert "--lr-g cannot change" in result.output


def test_missing_data_folder_is_explained(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path), "--device", "cpu"]
    )
    assert result.exit_code == 1
    assert "neither a built-in data set" in result.output


def test_metric_options_reach_the_config_and_bad_names_are_refused() -> None:
    args = ["train", "--metrics", "fid10k,is10k", "--metrics-every", "500", "--dry-run"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    train = json.loads(result.output)["train"]
    assert train["metrics"] == ["fid10k", "is10k"] and train["metrics_every_kimg"] == 500
    result = CliRunner().invoke(main, ["train", "--metrics", "fid", "--dry-run"])
    assert result.exit_code == 2 and "fid50k" in result.output


def test_run_dir_refuses_a_run_with_other_settings(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    saved = json.loads(CliRunner().invoke(main, ["train", "--dry-run"]).output)
    (run / "config.json").write_text(json.dumps({"train": saved["train"]}))
    result = CliRunner().invoke(main, ["train", "--run-dir", str(run), "--lr-d", "3e-4"])
    assert result.exit_code == 2
    assert "lr_d" in result.output and "other settings" in result.output


def test_resume_keeps_the_x_flip_the_run_trained_with(tmp_path: Path) -> None:
    """A CIFAR-10 preset mirrors by default; resuming a run whose config.json predates
    --mirror (no "mirror" recorded) must not switch flips on half-way."""
    from transgan.cli.train_config import config_for_resume
    from transgan.training.config import TrainConfig

    train = TrainConfig(model="transgan_s", data="cifar10").to_dict()
    assert train["mirror"] is None and TrainConfig.from_dict(train).mirror_used()
    run = tmp_path / "00000-old"
    run.mkdir()
    old = {k: v for k, v in train.items() if k != "mirror"}
    (run / "config.json").write_text(json.dumps({"train": old}))
    assert not config_for_resume(run, {}, set()).mirror_used()
    (run / "config.json").write_text(json.dumps({"train": train, "mirror": True}))
    assert config_for_resume(run, {}, set()).mirror_used()
    # --run-dir on that old run: the same flips as it trained with, or a clear refusal
    from transgan.cli.train_config import check_same_run

    (run / "config.json").write_text(json.dumps({"train": old}))
    with pytest.raises(ValueError, match=r"other settings \(mirror\)"):
        check_same_run(run, TrainConfig.from_dict(train))
    check_same_run(run, TrainConfig.from_dict({**train, "mirror": False}))


def _run_from_an_older_preset(tmp_path: Path) -> Path:
    """The v0.1 fixture run as if transgan_tiny had had depths (1, 1, 1) and width 32 when it
    started: those overrides are dropped from its train settings, its saved networks keep them,
    so today's preset would build other networks than its training state holds."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(Path(__file__).parent / "fixtures" / "v0.1-run", run)
    whole = json.loads((run / "config.json").read_text())
    for key in ("g_depths", "g_dim"):
        del whole["train"]["model_overrides"][key]
    (run / "config.json").write_text(json.dumps(whole))
    return run


def test_resume_keeps_the_networks_a_run_started_with(tmp_path: Path) -> None:
    run = _run_from_an_older_preset(tmp_path)
    args = ["train", "--resume", str(run), "--kimg", "0.032"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "preset transgan_tiny has changed since this run started" in result.output
    assert "g_depths=(1, 1, 1)" in result.output and "g_dim=32" in result.output
    saved = json.loads((run / "config.json").read_text())
    assert saved["model"]["generator"]["depths"] == [1, 1, 1]
    assert saved["train"]["model_overrides"]["g_dim"] == 32
    nimgs = [json.loads(line)["nimg"] for line in (run / "stats.jsonl").read_text().splitlines()]
    assert nimgs[-1] == 32


def test_resume_refuses_networks_todays_code_cannot_build(tmp_path: Path) -> None:
    run = _run_from_an_older_preset(tmp_path)
    whole = json.loads((run / "config.json").read_text())
    whole["model"]["generator"]["retired_field"] = 3  # a field this version no longer has
    (run / "config.json").write_text(json.dumps(whole))
    result = CliRunner().invoke(main, ["train", "--resume", str(run), "--kimg", "0.032"])
    assert result.exit_code == 2
    assert "config.json" in result.output and "has changed since" in result.output
    assert "start a new run" in result.output and "Traceback" not in result.output


def test_run_dir_refuses_a_run_whose_preset_changed(tmp_path: Path) -> None:
    from transgan.cli.train_config import check_same_run
    from transgan.training.config import TrainConfig

    run = _run_from_an_older_preset(tmp_path)
    whole = json.loads((run / "config.json").read_text())
    cfg = TrainConfig.from_dict(whole["train"])
    whole["train"] = cfg.to_dict()  # every setting as today's version writes it
    (run / "config.json").write_text(json.dumps(whole, default=list))
    with pytest.raises(ValueError, match=r"generator differ.*--resume"):
        check_same_run(run, cfg)
    whole["model"] = cfg.model_config().to_dict()  # the networks today's preset builds
    (run / "config.json").write_text(json.dumps(whole, default=list))
    check_same_run(run, cfg)
