"""Model files from strangers: a pickle that would run code is refused, never executed."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import tiny_train_config

from transgan.cli.main import main
from transgan.snapshot import SnapshotError, load_generator
from transgan.training.loop import train
from transgan.training.state import StateError, load_latest_state, load_state


class CreatesAFile:
    """Unpickling this runs `touch MARKER`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _malicious(tmp_path: Path, name: str) -> tuple[Path, Path]:
    marker = tmp_path / f"{name}.pwned"
    path = tmp_path / name
    with open(path, "wb") as f:
        pickle.dump({"generator": CreatesAFile(marker)}, f)
    return path, marker


def test_the_malicious_pickle_really_runs_code_when_unpickled(tmp_path: Path) -> None:
    # Guards the other tests: if this payload did nothing, they would prove nothing.
    path, marker = _malicious(tmp_path, "probe.pkl")
    with open(path, "rb") as f:
        pickle.load(f)
    assert marker.exists()


def test_malicious_snapshot_is_refused_without_running(tmp_path: Path) -> None:
    path, marker = _malicious(tmp_path, "network-snapshot-000010.safetensors")
    with pytest.raises(SnapshotError, match="not a safetensors file"):
        load_generator(path)
    result = CliRunner().invoke(main, ["generate", str(path), "--grid", str(tmp_path / "g.png")])
    assert result.exit_code == 1 and "never" in result.output
    assert not marker.exists()


def test_malicious_training_state_is_refused_without_running(tmp_path: Path) -> None:
    path, marker = _malicious(tmp_path, "training-state-000000001000.pt")
    torch.save({"x": 1}, tmp_path / "plain.pt")  # a real torch file, still not a state
    with pytest.raises(StateError, match="weights_only"):
        load_state(path)
    with pytest.raises(StateError, match="not a TransGAN training state"):
        load_state(tmp_path / "plain.pt")
    with pytest.raises(StateError, match="no training state"):
        load_latest_state(tmp_path)
    assert not marker.exists()


def test_resume_from_a_run_whose_only_state_is_malicious_stops(tmp_path: Path) -> None:
    run_dir = train(tiny_train_config(kimg=0.016, tick_kimg=0.016), out=tmp_path)
    for state in run_dir.glob("training-state-*.pt"):
        state.unlink()
    _, marker = _malicious(run_dir, "training-state-000000000016.pt")
    result = CliRunner().invoke(main, ["train", "--resume", str(run_dir), "--kimg", "0.032"])
    assert result.exit_code == 1 and "no training state" in result.output
    assert not marker.exists()


def test_written_states_load_with_weights_only(tmp_path: Path) -> None:
    run_dir = train(tiny_train_config(kimg=0.016, tick_kimg=0.016), out=tmp_path)
    (state_file,) = run_dir.glob("training-state-*.pt")
    state = torch.load(state_file, weights_only=True)
    assert {"generator", "discriminator", "ema", "opt_g", "opt_d", "rng", "counters"} <= set(state)
