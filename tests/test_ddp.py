"""Two-process DDP on the CPU (gloo) through torchrun, as users launch it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_cli_args, tiny_run_dir_args

from transgan.fileio import read_jsonl

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent


def _env() -> dict[str, str]:
    """This environment without an outer torchrun's variables, one thread per worker."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return env


def _torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = _env()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    return subprocess.run(
        [*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("mode", ["mtct", "lecam"])
def test_ddp_ranks_hold_equal_weights_and_disjoint_data(tmp_path: Path, mode: str) -> None:
    result = _torchrun([str(HERE / "ddp_worker.py"), str(tmp_path), mode], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    if mode == "lecam":  # the anchors follow the global batch's logits: equal on each rank
        assert r0["lecam"]["started"] and r1["lecam"]["started"]
        assert r0["lecam"]["real"] != 0 and r0["lecam"]["fake"] != 0
    for key in ("generator", "discriminator", "ema", "lecam"):
        for name, tensor in r0[key].items():
            assert torch.equal(tensor, r1[key][name]), f"{key}.{name} differs between ranks"
    shared = set(r0["indices"].tolist()) & set(r1["indices"].tolist())
    assert not shared, f"ranks drew the same images: {sorted(shared)[:5]}"


@pytest.mark.parametrize("cond", [False, True], ids=["uncond", "cond"])
def test_torchrun_cli_training_writes_one_run(tmp_path: Path, cond: bool) -> None:
    args = [
        "-m",
        "transgan",
        "train",
        *tiny_cli_args("0.064", "0.032"),
        "--out",
        str(tmp_path / "runs"),
        *(["--cond"] if cond else []),
    ]
    result = _torchrun(args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1  # rank 0 alone created and wrote the run directory
    config = json.loads((runs[0] / "config.json").read_text())
    assert config["world_size"] == 2
    assert config["model"]["generator"]["num_classes"] == (10 if cond else 0)
    assert [r["tick"] for r in read_jsonl(runs[0] / "stats.jsonl")] == [1, 2]


def test_torchrun_max_restarts_recovers_a_killed_worker(tmp_path: Path) -> None:
    # kill -9 one worker after the first state exists; torchrun restarts both workers and
    # `--run-dir` makes them continue from the newest state to the end of the run.
    import signal
    import time

    from transgan.training.state import list_states, load_state

    run_dir = tmp_path / "run"
    env = _env()
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "--max-restarts=1",
        *tiny_run_dir_args("0.64", run_dir),
    ]
    agent = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 180
    while not (run_dir.exists() and list_states(run_dir)) and time.time() < deadline:
        time.sleep(0.2)
    workers = subprocess.run(["pgrep", "-P", str(agent.pid)], capture_output=True, text=True)
    pids = [int(p) for p in workers.stdout.split()]
    assert pids, "no worker processes found under torchrun"
    nimg_at_kill = load_state(list_states(run_dir)[-1])["counters"]["nimg"]
    os.kill(pids[-1], signal.SIGKILL)  # raises if the worker had already gone
    assert nimg_at_kill < 640, "the run was over before the kill; the test proved nothing"
    _, err = agent.communicate(timeout=300)
    # Exit 0 means the restarted workers finished the run: the killed one could not.
    assert agent.returncode == 0, err[-3000:]
    final = load_state(list_states(run_dir)[-1])
    assert final["counters"]["nimg"] == 640
    assert [r["tick"] for r in read_jsonl(run_dir / "stats.jsonl")][-1] == 40


def test_torchrun_refuses_mbstd_groups_that_mix_reals_and_fakes_per_rank(tmp_path: Path) -> None:
    # --batch 12 on 2 ranks: each rank's D sees 6 reals and 6 fakes; a group of 4 would put
    # reals 4–5 with fakes 0–1. The global batch (12) is divisible by 4: only a per-rank
    # check catches it.
    args = ["-m", "transgan", "train", *tiny_cli_args("0.064", "0.032")]
    args += ["--batch", "12", "--g-batch", "12", "--set", "d_mbstd_group=4"]
    result = _torchrun([*args, "--out", str(tmp_path / "runs")], cwd=tmp_path)
    assert result.returncode != 0
    assert "d_mbstd_group=4 must divide each rank's micro-batch" in result.stderr
    assert "2 ranks" in result.stderr and "= 6 images" in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
