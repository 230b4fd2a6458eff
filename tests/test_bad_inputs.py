"""Bad and unusual inputs against every command: a clear message, the right exit status, no
traceback, and nothing that existed before lost or changed (issue 25's corpus)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import tiny_train_config
from safetensors import safe_open
from safetensors.torch import save_file

from transgan.cli.main import main
from transgan.training.loop import train

TINY_SET = ["--set", "g_dim=32", "--set", "g_latent_dim=16", "--set", "g_num_heads=2"]
TINY_SET += ["--set", "d_dim=16", "--set", "d_depth=1", "--set", "d_num_heads=2"]
TRAIN = ["train", "--model", "transgan_tiny", "--device", "cpu", "--workers", "0", *TINY_SET]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A finished tiny run (two training states, snapshots) to copy from."""
    root = tmp_path_factory.mktemp("base")
    run = train(tiny_train_config(), out=root)
    return run


def _digest(folder: Path) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def _rewrite_header(src: Path, dst: Path, edit: Callable[[dict], None]) -> None:
    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    edit(meta)
    save_file(tensors, str(dst), metadata=meta)


def _edit_config(change: Callable[[dict], None]) -> Callable[[dict], None]:
    def edit(meta: dict) -> None:
        config = json.loads(meta["model_config"])
        change(config)
        meta["model_config"] = json.dumps(config)

    return edit


@dataclass
class Case:
    name: str
    make: Callable[[Path, Path], list[str]]  # (work folder, base run) -> arguments
    status: int
    words: tuple[str, ...]


def snap(work: Path, base: Path) -> Path:
    """A copy of the base run's snapshot in ``work``."""
    path = work / "s.safetensors"
    if not path.exists():
        shutil.copy(sorted(base.glob("network-snapshot-*.safetensors"))[-1], path)
    return path


def run_copy(work: Path, base: Path) -> Path:
    run = work / "run"
    if not run.exists():
        shutil.copytree(base, run)
    return run


def bad_file(work: Path, name: str, content: bytes) -> Path:
    path = work / name
    path.write_bytes(content)
    return path


def bad_snapshot(edit: Callable[[dict], None]) -> Callable[[Path, Path], list[str]]:
    def make(work: Path, base: Path) -> list[str]:
        out = work / "edited.safetensors"
        _rewrite_header(snap(work, base), out, edit)
        return ["generate", str(out), "--grid", str(work / "g.png")]

    return make


def truncated(work: Path, base: Path) -> Path:
    data = snap(work, base).read_bytes()
    return bad_file(work, "cut.safetensors", data[: len(data) // 2])


def images_folder(work: Path, files: dict[str, bytes]) -> Path:
    folder = work / "imgs"
    folder.mkdir()
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


def npz(work: Path, array: np.ndarray) -> Path:
    path = work / "x.npz"
    np.savez(path, images=array)
    return path


def run_with(edit: Callable[[Path], None]) -> Callable[[Path, Path], list[str]]:
    """``train --resume`` of a copy of the base run after ``edit``."""

    def make(work: Path, base: Path) -> list[str]:
        run = run_copy(work, base)
        edit(run)
        return ["train", "--resume", str(run), "--kimg", "0.096"]

    return make


def _states(run: Path) -> list[Path]:
    return sorted(run.glob("training-state-*.pt"))


def _no_states(run: Path) -> None:
    for p in _states(run):
        p.unlink()


def _truncate_states(run: Path) -> None:
    for p in _states(run):
        p.write_bytes(p.read_bytes()[:5000])


def _index_error_states(run: Path) -> None:
    for p in _states(run):
        p.write_bytes(b"\x80\x02}q\x00(X" + b"\x00" * 64)  # a pickle stream cut off


def _broken_config(run: Path) -> None:
    (run / "config.json").write_text('{"train": {"model": ')


def _config_without_train(run: Path) -> None:
    (run / "config.json").write_text('{"model": {}}')


def _config_edited_field(run: Path) -> None:
    whole = json.loads((run / "config.json").read_text())
    whole["train"]["batch"] = "lots"
    (run / "config.json").write_text(json.dumps(whole))


def _config_unknown_field(run: Path) -> None:
    whole = json.loads((run / "config.json").read_text())
    whole["train"]["colour"] = 1
    (run / "config.json").write_text(json.dumps(whole))


def _stats_row_without_kimg(run: Path) -> None:
    with open(run / "stats.jsonl", "a") as f:
        f.write('{"nimg": 99, "d_loss": 1.0}\n')


def _metric_without_results(run: Path) -> None:
    (run / "metric-fid16.jsonl").write_text('{"kimg": 0.03, "nimg": 32}\n[1, 2]\n')


def plot_of(edit: Callable[[Path], None]) -> Callable[[Path, Path], list[str]]:
    def make(work: Path, base: Path) -> list[str]:
        run = run_copy(work, base)
        edit(run)
        return ["plot", str(run), "--out", str(work / "c.png")]

    return make


def _existing(work: Path, name: str = "exists.png") -> Path:
    return bad_file(work, name, b"precious")


RANDOM = bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))
LONG = "n" * 300

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
        1,
        ("exists",),
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
def test_bad_input(case: Case, tmp_path: Path, base: Path, digits_cache: None) -> None:
    work = tmp_path / "work"
    work.mkdir()
    args = case.make(work, base)
    before = _digest(work)
    result = CliRunner().invoke(main, args)
    output = result.output
    assert result.exit_code == case.status, output
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    for word in case.words:
        assert word in output, (word, output)
    after = _digest(work)
    for path, digest in before.items():  # nothing that existed is lost or changed
        assert after.get(path) == digest, f"{path} was changed or removed"


def test_the_corpus_is_large() -> None:
    assert len(CASES) >= 60


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


def test_force_overwrites_an_existing_grid(tmp_path: Path, base: Path) -> None:
    grid = _existing(tmp_path)
    args = ["generate", str(snap(tmp_path, base)), "--n", "4", "--grid", str(grid), "--force"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert grid.read_bytes()[:4] == b"\x89PNG"


def test_plot_skips_rows_it_cannot_draw(tmp_path: Path, base: Path) -> None:
    run = run_copy(tmp_path, base)
    _stats_row_without_kimg(run)
    _metric_without_results(run)
    with pytest.warns(UserWarning, match="skipped 1 of"):
        result = CliRunner().invoke(main, ["plot", str(run)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (run / "curves.png").exists()


def test_a_failed_start_leaves_no_run_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transgan.training import loop

    def failing(*args, **kwargs):
        raise RuntimeError("the first step failed")

    monkeypatch.setattr(loop, "train_iteration", failing)
    with pytest.raises(RuntimeError, match="first step"):
        train(tiny_train_config(), out=tmp_path / "runs")
    assert list((tmp_path / "runs").iterdir()) == []


def test_prepare_refuses_what_the_disk_cannot_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil as sh

    monkeypatch.setattr(sh, "disk_usage", lambda p: sh._ntuple_diskusage(10**9, 10**9, 10**6))
    args = ["prepare-data", "digits", "--resolution", "64", "--out", str(tmp_path / "p")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "GiB" in result.output and "--resolution" in result.output
    assert not any(tmp_path.iterdir())


def test_desc_of_300_characters_makes_a_valid_run_directory(tmp_path: Path) -> None:
    args = [*TRAIN, "--kimg", "0.016", "--tick", "0.016", "--batch", "8", "--g-batch", "8"]
    args += ["--n-critic", "1", "--precision", "fp32", "--out", str(tmp_path), "--desc", LONG]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (run,) = tmp_path.iterdir()
    assert len(run.name.encode()) <= 255 and (run / "config.json").exists()


# Resume faults (issue 25, items 1-3 and 5)
def _cut_newest(run: Path, content: bytes | None = None) -> Path:
    newest = _states(run)[-1]
    data = newest.read_bytes()
    newest.write_bytes(content if content is not None else data[: len(data) // 2])
    return newest


@pytest.mark.parametrize("damage", [None, b"", b"\x80\x02}q\x00(X"], ids=["half", "empty", "cut"])
def test_resume_past_a_damaged_newest_state_keeps_the_good_one(
    tmp_path: Path, base: Path, damage: bytes | None
) -> None:
    run = run_copy(tmp_path, base)
    bad = _cut_newest(run, damage)
    args = ["train", "--resume", str(run), "--kimg", "0.096", "--keep-states", "1"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "resuming from training-state-000000000032.pt" in first.output
    assert f"skipped newer {bad.name}" in first.output and "moved to" in first.output
    (aside,) = run.glob("abandoned-*")
    assert (aside / bad.name).exists()  # the damaged file is kept, out of the way
    assert [p.name for p in _states(run)] == ["training-state-000000000096.pt"]
    again = CliRunner().invoke(main, [*args[:3], "--kimg", "0.128", "--keep-states", "1"])
    assert again.exit_code == 0, again.output  # the state it kept loads
    assert [r["nimg"] for r in json_lines(run / "stats.jsonl")] == [32, 64, 96, 128]


def json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_abandoned_timeline_is_moved_aside_not_mixed(tmp_path: Path) -> None:
    from transgan.fileio import append_jsonl
    from transgan.training.rundir import set_aside

    run = tmp_path / "run"
    run.mkdir()
    for nimg in (2000, 3000):
        (run / f"training-state-{nimg:012d}.pt").write_bytes(b"s")
    for kimg in (2, 3):
        (run / f"network-snapshot-{kimg:06d}.safetensors").write_bytes(b"n")
        (run / f"fakes{kimg:06d}.png").write_bytes(b"f")
    for nimg in (1000, 2000, 3000):
        append_jsonl(run / "stats.jsonl", {"kimg": nimg / 1000, "nimg": nimg})
        append_jsonl(run / "metric-fid16.jsonl", {"kimg": nimg / 1000, "nimg": nimg})
    aside = set_aside(run, 2000)
    assert sorted(p.name for p in aside.iterdir()) == [
        "fakes000003.png",
        "metric-fid16.jsonl",
        "network-snapshot-000003.safetensors",
        "stats.jsonl",
        "training-state-000000003000.pt",
    ]
    assert [r["nimg"] for r in json_lines(run / "stats.jsonl")] == [1000, 2000]
    assert [r["nimg"] for r in json_lines(aside / "stats.jsonl")] == [3000]
    assert (run / "network-snapshot-000002.safetensors").exists()
    assert set_aside(run, 2000) is None  # nothing left to move


def test_restart_starts_over_in_place_and_keeps_the_old_files(tmp_path: Path, base: Path):
    run = run_copy(tmp_path, base)
    _no_states(run)
    old_stats = (run / "stats.jsonl").read_text()
    result = CliRunner().invoke(main, ["train", "--resume", str(run), "--restart"])
    assert result.exit_code == 0, result.output
    assert "starting" in result.output and "over from kimg 0" in result.output
    (aside,) = run.glob("abandoned-*")
    assert (aside / "stats.jsonl").read_text() == old_stats
    assert (aside / "reals.png").exists() and (run / "reals.png").exists()
    assert [r["nimg"] for r in json_lines(run / "stats.jsonl")] == [32, 64]


def test_run_dir_restarts_a_job_killed_before_its_first_state(tmp_path: Path) -> None:
    run = tmp_path / "job"
    args = [*TRAIN, "--kimg", "0.032", "--tick", "0.016", "--batch", "8", "--g-batch", "8"]
    args += ["--n-critic", "1", "--precision", "fp32", "--snap", "100", "--run-dir", str(run)]
    (run).mkdir()
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    for path in [*run.glob("training-state-*"), *run.glob("network-snapshot-*")]:
        path.unlink()  # as if killed before the first state: nothing of value yet
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert "over from kimg 0" in again.output
