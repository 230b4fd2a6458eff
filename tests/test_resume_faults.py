"""Resume faults (issue 25, items 1-3 and 5): a damaged newest state, an abandoned
timeline, a run without states — resumed explicitly, and nothing good deleted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bad_input_kit import TRAIN, _no_states, _states, run_copy
from click.testing import CliRunner

from transgan.cli.main import main


def _cut_newest(run: Path, content: bytes | None = None) -> Path:
    newest = _states(run)[-1]
    data = newest.read_bytes()
    newest.write_bytes(content if content is not None else data[: len(data) // 2])
    return newest


@pytest.mark.parametrize("damage", [None, b"", b"\x80\x02}q\x00(X"], ids=["half", "empty", "cut"])
def test_resume_past_a_damaged_newest_state_keeps_the_good_one(
    tmp_path: Path, tiny_run: Path, damage: bytes | None
) -> None:
    run = run_copy(tmp_path, tiny_run)
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


def test_restart_starts_over_in_place_and_keeps_the_old_files(tmp_path: Path, tiny_run: Path):
    run = run_copy(tmp_path, tiny_run)
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
