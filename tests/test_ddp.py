"""Two-process DDP on the CPU (gloo) through torchrun, as users launch it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_cli_args

from transgan.fileio import read_jsonl

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent


def _torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    return subprocess.run(
        [*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_ddp_ranks_hold_equal_weights_and_disjoint_data(tmp_path: Path) -> None:
    result = _torchrun([str(HERE / "ddp_worker.py"), str(tmp_path)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for key in ("generator", "discriminator", "ema"):
        for name, tensor in r0[key].items():
            assert torch.equal(tensor, r1[key][name]), f"{key}.{name} differs between ranks"
    shared = set(r0["indices"].tolist()) & set(r1["indices"].tolist())
    assert not shared, f"ranks drew the same images: {sorted(shared)[:5]}"


def test_torchrun_cli_training_writes_one_run(tmp_path: Path) -> None:
    args = [
        "-m",
        "transgan",
        "train",
        *tiny_cli_args("0.064", "0.032"),
        "--out",
        str(tmp_path / "runs"),
    ]
    result = _torchrun(args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1  # rank 0 alone created and wrote the run directory
    assert json.loads((runs[0] / "config.json").read_text())["world_size"] == 2
    assert [r["tick"] for r in read_jsonl(runs[0] / "stats.jsonl")] == [1, 2]

