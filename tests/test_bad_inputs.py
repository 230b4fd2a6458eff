"""Bad and unusual inputs against the commands that read and write files (generate, eval,
plot, import, export, prepare-data, fid-stats): a clear message, the right exit status, no
traceback, nothing that existed before lost or changed (issue 25's corpus; the train
options are in test_bad_train_inputs.py, resume faults in test_resume_faults.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bad_input_kit import (
    LONG,
    RANDOM,
    Case,
    _edit_config,
    _existing,
    _metric_without_results,
    _stats_row_without_kimg,
    bad_file,
    bad_snapshot,
    check_case,
    images_folder,
    npz,
    run_copy,
    snap,
    truncated,
)
from click.testing import CliRunner

from transgan.cli.main import main

CASES = [
    # generate: outputs
    Case(
        "gen-grid-onto-its-snapshot",
        lambda w, b: ["generate", str(snap(w, b)), "--grid", str(snap(w, b))],
        2,
        ("also an input",),
    ),
    Case(
        "gen-grid-onto-existing-file",
        lambda w, b: ["generate", str(snap(w, b)), "--grid", str(_existing(w))],
        2,
        ("exists", "--force"),
    ),
    Case(
        "gen-grid-under-a-file",
        lambda w, b: ["generate", str(snap(w, b)), "--grid", str(_existing(w) / "g.png")],
        2,
        ("is a file, not a folder",),
    ),
    Case(
        "gen-grid-name-too-long",
        lambda w, b: ["generate", str(snap(w, b)), "--grid", str(w / f"{LONG}.png")],
        2,
        ("bytes long",),
    ),
    Case(
        "gen-grid-is-a-folder",
        lambda w, b: ["generate", str(snap(w, b)), "--grid", str(w)],
        2,
        ("directory",),
    ),
    Case(
        "gen-out-dir-under-a-file",
        lambda w, b: ["generate", str(snap(w, b)), "--out-dir", str(_existing(w) / "d")],
        2,
        ("is a file, not a folder",),
    ),
    Case(
        "gen-out-dir-name-too-long",
        lambda w, b: ["generate", str(snap(w, b)), "--out-dir", str(w / LONG)],
        2,
        ("bytes long",),
    ),
    Case(
        "gen-out-dir-holds-these-images",
        lambda w, b: [
            "generate",
            str(snap(w, b)),
            "--n",
            "2",
            "--out-dir",
            str(_existing(w, "seed0000-000000.png").parent),
        ],
        2,
        ("already holds", "--force"),
    ),
    Case("gen-no-output", lambda w, b: ["generate", str(snap(w, b))], 2, ("--grid",)),
    # generate: inputs
    Case(
        "gen-missing-snapshot",
        lambda w, b: ["generate", str(w / "no.safetensors"), "--grid", str(w / "g.png")],
        1,
        ("does not exist",),
    ),
    Case(
        "gen-random-bytes",
        lambda w, b: [
            "generate",
            str(bad_file(w, "r.safetensors", RANDOM)),
            "--grid",
            str(w / "g.png"),
        ],
        1,
        ("not a safetensors file",),
    ),
    Case(
        "gen-empty-file",
        lambda w, b: [
            "generate",
            str(bad_file(w, "e.safetensors", b"")),
            "--grid",
            str(w / "g.png"),
        ],
        1,
        ("not a safetensors file",),
    ),
    Case(
        "gen-truncated-snapshot",
        lambda w, b: ["generate", str(truncated(w, b)), "--grid", str(w / "g.png")],
        1,
        ("not a safetensors file",),
    ),
    Case(
        "gen-a-pickle",
        lambda w, b: [
            "generate",
            str(bad_file(w, "p.safetensors", b"\x80\x04K\x01.")),
            "--grid",
            str(w / "g.png"),
        ],
        1,
        ("not a safetensors file",),
    ),
    Case(
        "gen-config-unknown-key",
        bad_snapshot(_edit_config(lambda c: c["generator"].update(colour=1))),
        1,
        ("model config", "edited"),
    ),
    Case(
        "gen-config-negative-width",
        bad_snapshot(_edit_config(lambda c: c["generator"].update(dim=-32))),
        1,
        ("generator.dim", "edited"),
    ),
    Case(
        "gen-config-string-width",
        bad_snapshot(_edit_config(lambda c: c["generator"].update(dim="32"))),
        1,
        ("generator.dim", "integer"),
    ),
    Case(
        "gen-config-wrong-width",
        bad_snapshot(_edit_config(lambda c: c["generator"].update(dim=64))),
        1,
        ("does not match its own config",),
    ),
    Case(
        "gen-config-unknown-arch",
        bad_snapshot(_edit_config(lambda c: c["generator"].update(arch="gan9"))),
        1,
        ("model config",),
    ),
    Case(
        "gen-config-broken-json",
        bad_snapshot(lambda m: m.update(model_config="{oops")),
        1,
        ("not valid JSON",),
    ),
    Case("gen-config-missing", bad_snapshot(lambda m: m.pop("model_config")), 1, ("model config",)),
    Case("gen-extra-broken-json", bad_snapshot(lambda m: m.update(extra="[1,")), 1, ("'extra'",)),
    Case(
        "gen-other-format",
        bad_snapshot(lambda m: m.update(format="other/1")),
        1,
        ("not a TransGAN",),
    ),
    # generate: options
    Case(
        "gen-seed-too-big",
        lambda w, b: [
            "generate",
            str(snap(w, b)),
            "--grid",
            str(w / "g.png"),
            "--seed",
            str(2**64),
        ],
        2,
        ("--seed",),
    ),
    Case(
        "gen-device-unknown",
        lambda w, b: ["generate", str(snap(w, b)), "--grid", str(w / "g.png"), "--device", "tpu9"],
        2,
        ("tpu9", "not a device"),
    ),
    Case(
        "gen-class-of-unconditional",
        lambda w, b: ["generate", str(snap(w, b)), "--grid", str(w / "g.png"), "--class", "3"],
        2,
        ("unconditional",),
    ),
    Case(
        "gen-n-zero",
        lambda w, b: ["generate", str(snap(w, b)), "--grid", str(w / "g.png"), "--n", "0"],
        2,
        ("--n",),
    ),
    Case(
        "gen-snapshot-and-preset",
        lambda w, b: [
            "generate",
            str(snap(w, b)),
            "--preset",
            "transgan_tiny",
            "--grid",
            str(w / "g.png"),
        ],
        2,
        ("exactly one",),
    ),
    Case(
        "gen-unknown-preset",
        lambda w, b: ["generate", "--preset", "nope", "--grid", str(w / "g.png")],
        2,
        ("unknown model preset",),
    ),
    # eval
    Case("eval-nothing-to-score", lambda w, b: ["eval"], 2, ("exactly one",)),
    Case(
        "eval-unknown-metric",
        lambda w, b: ["eval", str(snap(w, b)), "--metrics", "fud1k"],
        1,
        ("unknown metric",),
    ),
    Case(
        "eval-too-many-samples",
        lambda w, b: ["eval", str(snap(w, b)), "--metrics", "dfid999999999999k"],
        1,
        ("at most",),
    ),
    Case(
        "eval-npz-zero-images",
        lambda w, b: [
            "eval",
            "--images",
            str(npz(w, np.zeros((0, 8, 8, 3), np.uint8))),
            "--metrics",
            "dcov16",
        ],
        1,
        ("0 images",),
    ),
    Case(
        "eval-npz-floats",
        lambda w, b: [
            "eval",
            "--images",
            str(npz(w, np.zeros((4, 8, 8, 3), np.float32))),
            "--metrics",
            "dcov16",
        ],
        1,
        ("uint8",),
    ),
    Case(
        "eval-npz-random-bytes",
        lambda w, b: ["eval", "--images", str(bad_file(w, "r.npz", RANDOM)), "--metrics", "dcov16"],
        1,
        ("not a NumPy .npz",),
    ),
    Case(
        "eval-folder-of-empty-pngs",
        lambda w, b: [
            "eval",
            "--images",
            str(images_folder(w, {"a.png": b"", "b.png": b""})),
            "--metrics",
            "dcov16",
        ],
        1,
        ("cannot read",),
    ),
    Case(
        "eval-folder-without-images",
        lambda w, b: [
            "eval",
            "--images",
            str(images_folder(w, {"a.txt": b"x"})),
            "--metrics",
            "dcov16",
        ],
        1,
        ("no image files",),
    ),
    Case(
        "eval-out-onto-its-snapshot",
        lambda w, b: ["eval", str(snap(w, b)), "--metrics", "dcov16", "--out", str(snap(w, b))],
        2,
        ("also an input",),
    ),
    Case(
        "eval-out-onto-existing-file",
        lambda w, b: [
            "eval",
            str(snap(w, b)),
            "--metrics",
            "dcov16",
            "--out",
            str(_existing(w, "r.json")),
        ],
        2,
        ("exists", "--force"),
    ),
    Case(
        "eval-missing-ref-stats",
        lambda w, b: [
            "eval",
            str(snap(w, b)),
            "--ref-stats",
            str(w / "no.npz"),
            "--metrics",
            "fid16",
        ],
        1,
        ("no.npz",),
    ),
    Case(
        "eval-seed-too-big",
        lambda w, b: ["eval", str(snap(w, b)), "--seed", str(2**70)],
        2,
        ("--seed",),
    ),
    # plot
    Case(
        "plot-out-onto-stats",
        lambda w, b: ["plot", str(run_copy(w, b)), "--out", str(run_copy(w, b) / "stats.jsonl")],
        2,
        ("also an input",),
    ),
    Case("plot-not-a-run", lambda w, b: ["plot", str(w)], 1, ("stats.jsonl", "does not exist")),
    # import / export
    Case(
        "import-random-bytes",
        lambda w, b: [
            "import",
            str(bad_file(w, "r.pth", RANDOM)),
            "--preset",
            "transgan_tiny",
            "--out",
            str(w / "o.safetensors"),
        ],
        1,
        ("damaged",),
    ),
    Case(
        "import-empty-file",
        lambda w, b: [
            "import",
            str(bad_file(w, "e.pth", b"")),
            "--preset",
            "transgan_tiny",
            "--out",
            str(w / "o.safetensors"),
        ],
        1,
        ("not a readable PyTorch checkpoint",),
    ),
    Case(
        "import-onto-itself",
        lambda w, b: [
            "import",
            str(bad_file(w, "x.pth", RANDOM)),
            "--preset",
            "transgan_tiny",
            "--out",
            str(w / "x.pth"),
        ],
        2,
        ("also an input",),
    ),
    Case(
        "import-onto-existing-file",
        lambda w, b: [
            "import",
            str(bad_file(w, "x.pth", RANDOM)),
            "--preset",
            "transgan_tiny",
            "--out",
            str(_existing(w, "o.safetensors")),
        ],
        2,
        ("exists", "--force"),
    ),
    Case(
        "import-missing",
        lambda w, b: [
            "import",
            str(w / "no.pth"),
            "--preset",
            "transgan_tiny",
            "--out",
            str(w / "o.safetensors"),
        ],
        1,
        ("does not exist",),
    ),
    Case(
        "export-onto-itself",
        lambda w, b: ["export", str(snap(w, b)), "--out", str(snap(w, b))],
        2,
        ("also an input",),
    ),
    Case(
        "export-onto-existing-file",
        lambda w, b: ["export", str(snap(w, b)), "--out", str(_existing(w, "c.pth"))],
        2,
        ("exists", "--force"),
    ),
    Case(
        "export-random-bytes",
        lambda w, b: [
            "export",
            str(bad_file(w, "r.safetensors", RANDOM)),
            "--out",
            str(w / "c.pth"),
        ],
        1,
        ("not a safetensors file",),
    ),
    # prepare-data / fid-stats
    Case(
        "prepare-resolution-huge",
        lambda w, b: ["prepare-data", "digits", "--resolution", "100000", "--out", str(w / "p")],
        2,
        ("--resolution",),
    ),
    Case(
        "prepare-into-existing",
        lambda w, b: ["prepare-data", "digits", "--resolution", "8", "--out", str(w)],
        1,
        ("exists",),
    ),
    Case(
        "prepare-missing-source",
        lambda w, b: ["prepare-data", str(w / "none"), "--resolution", "8", "--out", str(w / "p")],
        1,
        ("neither",),
    ),
    Case(
        "prepare-labelled-split-of-digits",
        lambda w, b: [
            "prepare-data",
            "digits",
            "--resolution",
            "8",
            "--labelled-split",
            "--out",
            str(w / "p"),
        ],
        1,
        ("--labelled-split",),
    ),
    Case(
        "fid-stats-onto-existing-file",
        lambda w, b: [
            "fid-stats",
            "--data",
            "digits",
            "--resolution",
            "8",
            "--out",
            str(_existing(w, "s.npz")),
        ],
        2,
        ("exists", "--force"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, tiny_run: Path, digits_cache: None) -> None:
    check_case(case, tmp_path, tiny_run)


def test_debug_shows_the_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transgan.runtime import DeviceError

    args = ["generate", "--preset", "transgan_tiny", "--grid", str(tmp_path / "g.png")]
    args += ["--device", "tpu9"]
    assert CliRunner().invoke(main, args).exit_code == 2  # a message without debug
    monkeypatch.setenv("TRANSGAN_DEBUG", "1")
    result = CliRunner().invoke(main, args)
    assert isinstance(result.exception, DeviceError)  # the real exception, for its traceback


def test_an_unexpected_error_is_one_paragraph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    cli = importlib.import_module("transgan.cli.main")  # the module (the package's `main` is
    # the click group it re-exports)

    def broken() -> list:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "models_table", broken)
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 1
    assert "ZeroDivisionError" in result.output and "TRANSGAN_DEBUG=1" in result.output
    assert "Traceback" not in result.output


def test_force_overwrites_an_existing_grid(tmp_path: Path, tiny_run: Path) -> None:
    grid = _existing(tmp_path)
    args = ["generate", str(snap(tmp_path, tiny_run)), "--n", "4", "--grid", str(grid), "--force"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert grid.read_bytes()[:4] == b"\x89PNG"


def test_plot_skips_rows_it_cannot_draw(tmp_path: Path, tiny_run: Path) -> None:
    run = run_copy(tmp_path, tiny_run)
    _stats_row_without_kimg(run)
    _metric_without_results(run)
    lines = len((run / "stats.jsonl").read_text().splitlines())
    (run / "stats.jsonl").write_text((run / "stats.jsonl").read_text() + "{not json\n")
    result = CliRunner().invoke(main, ["plot", str(run)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # one note per file, as a sentence (not a Python warning), counting every line
    assert f"skipped 2 of {lines + 1} lines" in result.output
    assert "metric-fid16.jsonl: skipped 2 of 2 lines" in result.output
    assert "UserWarning" not in result.output
    assert (run / "curves.png").exists()


def test_prepare_refuses_what_the_disk_cannot_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil as sh

    monkeypatch.setattr(sh, "disk_usage", lambda p: sh._ntuple_diskusage(10**9, 10**9, 10**6))
    args = ["prepare-data", "digits", "--resolution", "64", "--out", str(tmp_path / "p")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "GiB" in result.output and "--resolution" in result.output
    assert not any(tmp_path.iterdir())
