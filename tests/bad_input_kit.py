"""What the bad-input tests share: the workspace builders, the case record, and the check
every case goes through (exit status, message words, no traceback, nothing that existed
before lost or changed)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from safetensors import safe_open
from safetensors.torch import save_file

from transgan.cli.main import main

TINY_SET = ["--set", "g_dim=32", "--set", "g_latent_dim=16", "--set", "g_num_heads=2"]
TINY_SET += ["--set", "d_dim=16", "--set", "d_depth=1", "--set", "d_num_heads=2"]
TRAIN = ["train", "--model", "transgan_tiny", "--device", "cpu", "--workers", "0", *TINY_SET]


def _digest(folder: Path) -> dict[Path, str]:
    """Every file's hash, but a run directory's .lock (who holds it: each run rewrites it)."""
    return {
        p: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file() and p.name != ".lock"
    }


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


def check_case(case: Case, tmp_path: Path, base: Path) -> None:
    """Run ``case`` in a fresh work folder and hold it to the corpus's promises."""
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
