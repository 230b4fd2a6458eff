"""Crash-proof runs: kill -9 at random moments, SIGTERM, then resume — same final weights."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import tiny_run_dir_args

from transgan.training.state import list_states, load_state

pytestmark = pytest.mark.slow


def _command(run_dir: Path) -> list[str]:
    return [sys.executable, *tiny_run_dir_args("0.512", run_dir)]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "2"}


def _finish(run_dir: Path) -> None:
    result = subprocess.run(
        _command(run_dir), env=_env(), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]


def _final(run_dir: Path) -> dict:
    return load_state(list_states(run_dir)[-1])


def _same(a: dict, b: dict) -> bool:
    def counters(state: dict) -> dict:  # train_seconds is wall-clock time, not state
        return {k: v for k, v in state["counters"].items() if k != "train_seconds"}

    return counters(a) == counters(b) and all(
        torch.equal(t, b[key][name])
        for key in ("generator", "discriminator", "ema")
        for name, t in a[key].items()
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    _finish(run_dir)
    return _final(run_dir)


def _newest_nimg(run_dir: Path) -> int:
    states = list_states(run_dir) if run_dir.exists() else []
    return int(states[-1].stem.split("-")[-1]) if states else -1


def test_kill_9_at_random_moments_then_resume_gives_identical_weights(
    tmp_path: Path, reference: dict
) -> None:
    run_dir = tmp_path / "run"
    rng = random.Random(1234)
    kills = 0
    for _ in range(3):
        before = _newest_nimg(run_dir)
        proc = subprocess.Popen(
            _command(run_dir), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.time() + 120
        while _newest_nimg(run_dir) <= before and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)  # wait until this attempt is really training
        time.sleep(rng.uniform(0.0, 1.0))  # then kill at a random moment
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        for state in list_states(run_dir):
            load_state(state)  # never left unreadable
    assert kills >= 1, "the run finished before any kill; the test proved nothing"
    _finish(run_dir)
    assert _same(_final(run_dir), reference)


def test_sigterm_saves_a_state_and_resume_gives_identical_weights(
    tmp_path: Path, reference: dict
) -> None:
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        _command(run_dir), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 120
    while not (run_dir.exists() and list_states(run_dir)) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    stopped_at = _final(run_dir)["counters"]["nimg"]
    assert "stopped by signal" in err and stopped_at < 512
    _finish(run_dir)
    assert _same(_final(run_dir), reference)


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    """64 small PNGs: a folder run reads them through data-loader worker processes."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    gen = torch.Generator().manual_seed(0)
    for i in range(64):
        pixels = torch.randint(0, 256, (16, 16, 3), generator=gen, dtype=torch.uint8)
        Image.fromarray(pixels.numpy()).save(folder / f"{i:03d}.png")
    return folder


def _folder_command(run_dir: Path, folder: Path) -> list[str]:
    args = _command(run_dir)
    args[args.index("--workers") + 1] = "2"
    return [*args, "--data", str(folder)]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR1], ids=["TERM", "USR1"])
def test_signal_to_the_whole_process_group_with_loader_workers(
    tmp_path: Path, image_folder: Path, sig: int
) -> None:
    """What SLURM and systemd do: signal every process of the job, workers included."""
    reference_dir = tmp_path / "reference"
    done = subprocess.run(
        _folder_command(reference_dir, image_folder), env=_env(), capture_output=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        _folder_command(run_dir, image_folder),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a scheduler's job
    )
    deadline = time.time() + 120
    while not (run_dir.exists() and list_states(run_dir)) and time.time() < deadline:
        time.sleep(0.2)
    workers = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True)
    assert len(workers.stdout.split()) >= 3, "expected the main process and 2 loader workers"
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert "stopped by signal" in err and "Traceback" not in err
    stopped_at = _final(run_dir)["counters"]["nimg"]
    assert stopped_at < 512, "the run ended before the signal; the test proved nothing"
    resumed = subprocess.run(
        _folder_command(run_dir, image_folder), env=_env(), capture_output=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _same(_final(run_dir), _final(reference_dir))
