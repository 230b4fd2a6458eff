"""The training job end to end on the CPU: files written, exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import TINY_TRAIN_MODEL, one_iteration, tiny_train_config

from transgan.fileio import read_jsonl
from transgan.snapshot import load_generator
from transgan.training.augment import AugmentConfig
from transgan.training.loop import train
from transgan.training.losses import LossConfig
from transgan.training.state import list_states, load_state

# GAT's D options (RMSNorm, QK-norm, LayerScale, 2-D rotary positions) on the tiny D
MODERN_D = {"d_norm": "rms", "d_qk_norm": True, "d_layer_scale": 0.1, "d_pos": "rope"}


def test_run_directory_has_config_stats_grids_snapshot_and_state(tmp_path: Path) -> None:
    run_dir = train(tiny_train_config(), out=tmp_path)
    assert run_dir.name == "00000-transgan_tiny-digits"
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "stats.jsonl", "reals.png", "fakes-init.png"} <= names
    assert "network-snapshot-000000.safetensors" in names
    stats = read_jsonl(run_dir / "stats.jsonl")
    assert [r["tick"] for r in stats] == [1, 2]
    assert stats[-1]["nimg"] == 64
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "penalty", "images_per_s", "peak_mem_mb"):
        assert key in stats[-1]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["generator"]["bottom_width"] == 4
    generator, _ = load_generator(run_dir / "network-snapshot-000000.safetensors")
    assert generator(torch.randn(2, 16)).shape == (2, 3, 16, 16)


def _final_state(run_dir: Path) -> dict:
    return load_state(list_states(run_dir)[-1])


def _assert_states_identical(a: dict, b: dict) -> None:
    for key in ("generator", "discriminator", "ema", "lecam", "augment_p"):
        assert a.get(key, {}).keys() == b.get(key, {}).keys(), key
        for name, tensor in a.get(key, {}).items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name} differs"
    for key in ("opt_g", "opt_d"):
        for pid, slots in a[key]["state"].items():
            for slot, value in slots.items():
                assert torch.equal(value, b[key]["state"][pid][slot]), f"{key} {pid} {slot}"
    wall_clock = {"train_seconds"}  # time, not state: the only counter allowed to differ
    assert {k: v for k, v in a["counters"].items() if k not in wall_clock} == {
        k: v for k, v in b["counters"].items() if k not in wall_clock
    }


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {
            "mtct_weight": 50.0,
            "local_kind": "2d",
            "local_windows": (1,),
            "local_until_kimg": (0.04,),
        },
        {"loss": LossConfig("logistic")},
        {"cond": True, "mirror": True},
        {
            "loss": LossConfig("relativistic", r1_gamma=0.1, bcr_weight=10.0, lecam_weight=0.3),
            "model_overrides": {**TINY_TRAIN_MODEL, "d_mbstd_group": 4},
            "n_critic": 1,
            "reuse_fakes": True,
        },
        {
            # (not γ's schedule: it runs over --kimg, which the interrupted run here changes)
            "loss": LossConfig("logistic", r1_gamma=1.0),
            "augment": AugmentConfig(
                policy=("translation",), prob=0.0, ada_target=0.6, ada_kimg=0.05
            ),
            "model_overrides": {**TINY_TRAIN_MODEL, **MODERN_D},
        },
    ],
    ids=[
        "default",
        "mtct+locality",
        "logistic-r1",
        "cond+mirror",
        "r3gan+bcr+lecam+mbstd+reuse",
        "ada+modern-d",
    ],
)
def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path: Path, extra: dict) -> None:
    straight = train(tiny_train_config(**extra), out=tmp_path / "a")
    if "augment_p" in _final_state(straight) and _final_state(straight)["augment_p"]:
        p = [r["augment_p"] for r in read_jsonl(straight / "stats.jsonl")]
        assert p[-1] > 0  # ADA moved p: the state to resume is not the initial one
    first = train(tiny_train_config(**extra, kimg=0.032), out=tmp_path / "b")
    resumed = train(tiny_train_config(**extra), out=tmp_path / "b", resume=first)
    assert resumed == first
    _assert_states_identical(_final_state(straight), _final_state(resumed))
    ticks = [r["tick"] for r in read_jsonl(resumed / "stats.jsonl")]
    assert ticks == [1, 2]


def test_g_step_writes_no_gradient_into_d() -> None:
    # The authors' later code let G's backward add to D's gradients. Snapshot D's gradients
    # as its optimizer steps; after the G step they must be exactly the same.
    from transgan.distributed import DistInfo
    from transgan.training.setup import build_networks

    cfg = tiny_train_config(n_critic=1)
    nets = build_networks(cfg, cfg.model_config(), DistInfo(0, 1, 0, torch.device("cpu")))
    seen: list[torch.Tensor] = []
    original_step = nets.opt_d.step

    def recording_step(*args, **kwargs):
        seen[:] = [p.grad.clone() for p in nets.discriminator.parameters()]
        return original_step(*args, **kwargs)

    nets.opt_d.step = recording_step
    one_iteration(nets, cfg)
    after = [p.grad for p in nets.discriminator.parameters()]
    assert len(seen) == len(after) > 0
    assert all(torch.equal(a, b) for a, b in zip(after, seen, strict=True))
    assert all(p.requires_grad for p in nets.discriminator.parameters())


def test_generate_grid_and_interpolation_from_a_snapshot(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from PIL import Image

    from transgan.cli.main import main

    run_dir = train(tiny_train_config(kimg=0.016, tick_kimg=0.016), out=tmp_path)
    snapshot = str(run_dir / "network-snapshot-000000.safetensors")
    lerp = tmp_path / "lerp.png"
    args = ["generate", snapshot, "--n", "3", "--interpolate", "5", "--grid", str(lerp)]
    result = CliRunner().invoke(main, [*args, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert Image.open(lerp).size == (5 * 17 + 1, 3 * 17 + 1)  # 5 steps × 3 rows of 16 px
    a = CliRunner().invoke(
        main, ["generate", snapshot, "--n", "2", "--seed", "7", "--out-dir", str(tmp_path / "a")]
    )
    b = CliRunner().invoke(
        main, ["generate", snapshot, "--n", "2", "--seed", "7", "--out-dir", str(tmp_path / "b")]
    )
    assert a.exit_code == b.exit_code == 0
    for name in ("seed0007-000000.png", "seed0007-000001.png"):  # same seed, same images
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
