"""Bad `transgan train` options and bad run directories to resume: a clear message, the
right exit status, no traceback, nothing lost (issue 25's corpus, continued)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bad_input_kit import (
    LONG,
    TRAIN,
    Case,
    _broken_config,
    _config_edited_field,
    _config_unknown_field,
    _config_without_train,
    _existing,
    _index_error_states,
    _no_states,
    _truncate_states,
    check_case,
    run_copy,
    run_with,
)
from click.testing import CliRunner
from conftest import tiny_train_config

from transgan.cli.main import main
from transgan.training.loop import train

CASES = [
    # train: options
    Case(
        "train-set-not-a-number",
        lambda w, b: [*TRAIN, "--set", "g_dim=abc", "--dry-run"],
        2,
        ("g_dim", "integer"),
    ),
    Case(
        "train-set-fraction",
        lambda w, b: [*TRAIN, "--set", "g_dim=32.5", "--dry-run"],
        2,
        ("g_dim", "integer"),
    ),
    Case(
        "train-set-negative-depth",
        lambda w, b: [*TRAIN, "--set", "d_depth=-2", "--dry-run"],
        2,
        ("depth", "d_depth=-2"),
    ),
    Case(
        "train-set-negative-depths",
        lambda w, b: [*TRAIN, "--set", "g_depths=(1,-1,1)", "--dry-run"],
        2,
        ("depths",),
    ),
    Case(
        "train-set-zero-width",
        lambda w, b: [*TRAIN, "--set", "g_dim=0", "--dry-run"],
        2,
        ("dim", "positive"),
    ),
    Case(
        "train-set-unknown-field",
        lambda w, b: [*TRAIN, "--set", "g_colour=1", "--dry-run"],
        2,
        ("unknown model override",),
    ),
    Case(
        "train-set-without-value",
        lambda w, b: [*TRAIN, "--set", "g_dim", "--dry-run"],
        2,
        ("KEY=VALUE",),
    ),
    Case(
        "train-set-bool-for-int",
        lambda w, b: [*TRAIN, "--set", "g_dim=True", "--dry-run"],
        2,
        ("g_dim",),
    ),
    Case(
        "train-kimg-inf", lambda w, b: [*TRAIN, "--kimg", "inf", "--dry-run"], 2, ("kimg", "finite")
    ),
    Case("train-kimg-nan", lambda w, b: [*TRAIN, "--kimg", "nan", "--dry-run"], 2, ("kimg",)),
    Case("train-kimg-zero", lambda w, b: [*TRAIN, "--kimg", "0", "--dry-run"], 2, ("--kimg",)),
    Case(
        "train-batch-not-divisible",
        lambda w, b: [*TRAIN, "--batch", "3", "--accum-steps", "2", "--dry-run"],
        2,
        ("divisible", "--accum-steps"),
    ),
    Case(
        "train-device-unknown", lambda w, b: [*TRAIN, "--device", "tpu9", "--dry-run"], 2, ("tpu9",)
    ),
    Case(
        "train-seed-too-big",
        lambda w, b: [*TRAIN, "--seed", "18446744073709551616", "--dry-run"],
        2,
        ("--seed",),
    ),
    Case(
        "train-local-windows-not-ints",
        lambda w, b: [*TRAIN, "--local-windows", "abc", "--dry-run"],
        2,
        ("--local-windows",),
    ),
    Case(
        "train-local-until-not-numbers",
        lambda w, b: [
            *TRAIN,
            "--local",
            "2d",
            "--local-windows",
            "1",
            "--local-until-kimg",
            "x",
            "--dry-run",
        ],
        2,
        ("--local-until-kimg",),
    ),
    Case(
        "train-unknown-metric",
        lambda w, b: [*TRAIN, "--metrics", "fud10k", "--dry-run"],
        2,
        ("unknown metric",),
    ),
    Case(
        "train-metric-too-many-samples",
        lambda w, b: [*TRAIN, "--metrics", "dfid999999999999k", "--dry-run"],
        2,
        ("at most",),
    ),
    Case(
        "train-unknown-model",
        lambda w, b: ["train", "--model", "nope", "--dry-run"],
        2,
        ("--model",),
    ),
    Case(
        "train-restart-without-resume",
        lambda w, b: [*TRAIN, "--restart", "--dry-run"],
        2,
        ("--restart",),
    ),
    Case(
        "train-missing-data-folder",
        lambda w, b: [
            *TRAIN,
            "--data",
            str(w / "nothing"),
            "--kimg",
            "0.016",
            "--out",
            str(w / "runs"),
        ],
        1,
        ("neither a built-in",),
    ),
    Case(
        "train-out-under-a-file",
        lambda w, b: [*TRAIN, "--kimg", "0.016", "--out", str(_existing(w) / "runs")],
        2,
        ("--out", "exists.png is a file, not a folder"),
    ),
    Case(
        "train-run-dir-under-a-file",
        lambda w, b: [*TRAIN, "--kimg", "0.016", "--run-dir", str(_existing(w) / "run")],
        2,
        ("--run-dir", "exists.png is a file, not a folder"),
    ),
    # train: resume faults
    Case("resume-not-a-run", lambda w, b: ["train", "--resume", str(w)], 2, ("no config.json",)),
    Case(
        "resume-broken-config",
        run_with(_broken_config),
        2,
        ("config.json", "cannot be read as JSON"),
    ),
    Case(
        "resume-config-without-train",
        run_with(_config_without_train),
        2,
        ("config.json", "'train'"),
    ),
    Case("resume-config-edited-field", run_with(_config_edited_field), 2, ("config.json", "batch")),
    Case(
        "resume-config-unknown-field", run_with(_config_unknown_field), 2, ("config.json", "colour")
    ),
    Case(
        "resume-changes-the-model",
        lambda w, b: ["train", "--resume", str(run_copy(w, b)), "--model", "transgan_s"],
        2,
        ("cannot change",),
    ),
    Case(
        "resume-states-gone",
        run_with(_no_states),
        1,
        ("no training state", "--restart", "Nothing was changed"),
    ),
    Case(
        "resume-states-truncated",
        run_with(_truncate_states),
        1,
        ("no training state", "loads", "--restart"),
    ),
    Case(
        "resume-states-cut-pickles",
        run_with(_index_error_states),
        1,
        ("no training state", "loads"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, tiny_run: Path, digits_cache: None) -> None:
    check_case(case, tmp_path, tiny_run)


def test_the_corpus_is_large() -> None:
    from test_bad_inputs import CASES as FILE_CASES

    assert len(CASES) + len(FILE_CASES) >= 60


def test_a_failed_start_leaves_no_run_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transgan.training import ticks

    def failing(*args, **kwargs):
        raise RuntimeError("the first step failed")

    monkeypatch.setattr(ticks, "train_iteration", failing)
    with pytest.raises(RuntimeError, match="first step"):
        train(tiny_train_config(), out=tmp_path / "runs")
    assert list((tmp_path / "runs").iterdir()) == []


def test_desc_of_300_characters_makes_a_valid_run_directory(tmp_path: Path) -> None:
    args = [*TRAIN, "--kimg", "0.016", "--tick", "0.016", "--batch", "8", "--g-batch", "8"]
    args += ["--n-critic", "1", "--precision", "fp32", "--out", str(tmp_path), "--desc", LONG]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (run,) = tmp_path.iterdir()
    assert len(run.name.encode()) <= 255 and (run / "config.json").exists()
