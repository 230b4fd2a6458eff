"""The training step reads nothing back to the host between ticks (issue 23, CPU side).

On a GPU every read of a device value (``.item()``, ``float(t)``, ``if t:``, ``.cpu()``,
``.tolist()``) waits for the queued work: one per step caps the step at the GPU's latency.
Here the Tensor methods that read a value are wrapped to count their calls, on the CPU; the
GPU benchmark (benchmarks/bench.py --sync-check) runs under
``torch.cuda.set_sync_debug_mode("error")``, which also sees reads made inside torch.
"""

from __future__ import annotations

import pytest
import torch
from conftest import TINY_TRAIN_MODEL, one_iteration, tiny_train_config

from transgan.distributed import DistInfo
from transgan.training.losses import LossConfig
from transgan.training.setup import build_networks

READS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__", "cpu", "numpy")


@pytest.fixture
def count_reads(monkeypatch):
    """A function that starts counting: every later call of a value-reading Tensor method
    is appended, by name, to the list it returns."""
    return lambda: _count(monkeypatch)


def _count(monkeypatch) -> list[str]:
    seen: list[str] = []
    for name in READS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            seen.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return seen


def test_the_counter_sees_a_read(count_reads) -> None:
    host_reads = count_reads()
    t = torch.ones(())
    if t:  # __bool__
        t.item()
    assert host_reads == ["__bool__", "item"]


@pytest.mark.parametrize(
    "changes",
    [
        {},  # WGAN-GP every step, n_critic 2
        {"loss": LossConfig("logistic", r1_gamma=0.1), "penalty_every": 2},
        {
            "loss": LossConfig("relativistic", r1_gamma=0.1, bcr_weight=10.0, lecam_weight=0.3),
            "model_overrides": {**TINY_TRAIN_MODEL, "d_mbstd_group": 4},
            "n_critic": 1,
            "reuse_fakes": True,
        },
        {"cond": True, "class_names": tuple("0123456789"), "accum_steps": 2},
        {"precision": "fp16", "loss": LossConfig("logistic")},
        {"mtct_weight": 50.0, "grad_clip": 0.0},
    ],
    ids=["wgangp", "lazy-r1", "r3gan+bcr+lecam+mbstd+reuse", "cond+accum", "fp16", "mtct"],
)
def test_a_training_iteration_reads_nothing_on_the_host(changes: dict, count_reads) -> None:
    cfg = tiny_train_config(**changes)
    nets = build_networks(cfg, cfg.model_config(), DistInfo(0, 1, 0, torch.device("cpu")))
    host_reads = count_reads()
    if cfg.cond:
        nets.class_probs = torch.full((10,), 0.1)
        data = iter(
            lambda: (torch.rand(cfg.batch, 3, 16, 16) * 2 - 1, torch.randint(0, 10, (8,))), None
        )
    else:
        data = None
    one_iteration(nets, cfg, data=data)
    one_iteration(nets, cfg, data=data)
    assert host_reads == []


def test_the_loop_reads_values_only_at_the_end_of_a_tick(
    tmp_path, monkeypatch, count_reads
) -> None:
    from transgan.training import report
    from transgan.training.loop import train

    at_ticks: list[int] = []
    original_end = report.TickReporter.end

    def end(self, *args, **kwargs):
        before = len(host_reads)
        out = original_end(self, *args, **kwargs)
        at_ticks.append(len(host_reads) - before)
        return out

    monkeypatch.setattr(report.TickReporter, "end", end)
    host_reads = count_reads()
    # 4 iterations per tick (16 reals each), 2 ticks
    train(tiny_train_config(kimg=0.128, tick_kimg=0.064, snap_ticks=2), out=tmp_path)
    assert len(at_ticks) == 2
    # every read after the set-up happens inside a tick's end
    setup_reads = len(host_reads) - sum(at_ticks)
    host_reads.clear()
    train(tiny_train_config(kimg=0.256, tick_kimg=0.128, snap_ticks=2), out=tmp_path / "longer")
    assert len(host_reads) - sum(at_ticks[2:]) == setup_reads  # 8 iterations a tick: no more
