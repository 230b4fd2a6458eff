"""Issue 20's silent faults: each test failed on the code before the fix (see the note)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
import torch
from conftest import tiny_overrides, tiny_train_config

import transgan
from transgan import presets
from transgan.data import datasets as builtin
from transgan.data import labels as labelled
from transgan.distributed import DistInfo
from transgan.fileio import append_jsonl, read_jsonl
from transgan.models.layers import NoiseInjection
from transgan.sampling import generate_images, latents, stream_seed
from transgan.training import autoprecision, precision
from transgan.training.d_terms import discriminator_loss
from transgan.training.loop import train
from transgan.training.losses import LossConfig
from transgan.training.precision import PrecisionError
from transgan.training.precision_cache import cache_key
from transgan.training.state import list_states, load_state


def _pretend_bf16_cpu(monkeypatch: pytest.MonkeyPatch, slower: str) -> list[str]:
    """A CPU with AMX-BF16 whose training iteration is slower in ``slower`` (a sleep added
    to the real iteration); returns the precisions of the timed iterations."""
    monkeypatch.setattr(precision, "cpu_model_and_flags", lambda: ("AMX test CPU", {"amx_bf16"}))
    timed: list[str] = []
    real_iteration = autoprecision.train_iteration

    def iteration(nets, data, cfg, **kwargs):
        timed.append(cfg.precision)
        real_iteration(nets, data, cfg, **kwargs)
        if cfg.precision == slower:
            time.sleep(0.05)

    monkeypatch.setattr(autoprecision, "train_iteration", iteration)
    return timed


# 1. auto decides on the run's own iteration, not on a matmul
@pytest.mark.parametrize("slower, expected", [("bf16", "fp32"), ("fp32", "bf16")])
def test_auto_times_the_runs_iteration_both_ways_and_keeps_the_faster(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, slower: str, expected: str
) -> None:
    timed = _pretend_bf16_cpu(monkeypatch, slower)
    run_dir = train(tiny_train_config(precision="auto", kimg=0.016), out=tmp_path)
    assert {"fp32", "bf16"} <= set(timed) and len(timed) >= 4  # warm-up + rounds, both ways
    record = json.loads((run_dir / "config.json").read_text())["precision"]
    assert record["used"] == expected
    measured = record["measured_images_per_s"]
    assert set(measured) == {"fp32", "bf16"}
    assert (measured["bf16"] > measured["fp32"]) == (expected == "bf16")
    assert "img/s" in record["reason"]


def test_auto_times_whole_cycles_of_the_lazy_penalty(monkeypatch: pytest.MonkeyPatch) -> None:
    from transgan.distributed import DistInfo

    steps: list[int] = []
    real_iteration = autoprecision.train_iteration

    def iteration(nets, data, cfg, **kwargs):
        steps.append(kwargs["first_d_step"])
        real_iteration(nets, data, cfg, **kwargs)

    monkeypatch.setattr(autoprecision, "train_iteration", iteration)
    cfg = tiny_train_config(penalty_every=3, n_critic=2)
    batch = torch.rand(cfg.batch, 3, 16, 16) * 2 - 1
    info = DistInfo(0, 1, 0, torch.device("cpu"))
    autoprecision.iteration_seconds(cfg, cfg.model_config(), info, batch, ("fp32",))
    # D steps 0-5 of each timing: the penalty (every 3rd D step) on 2 of 6, as in training
    assert steps[:3] == [0, 2, 4] and len(steps) % 3 == 0


def test_auto_leaves_the_runs_random_streams_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    explicit = train(tiny_train_config(precision="fp32"), out=tmp_path / "a")
    _pretend_bf16_cpu(monkeypatch, "bf16")
    auto = train(tiny_train_config(precision="auto"), out=tmp_path / "b")
    a, b = (load_state(list_states(r)[-1]) for r in (explicit, auto))
    for name, tensor in a["generator"].items():
        assert torch.equal(tensor, b["generator"][name]), name


def test_auto_is_fp32_without_bf16_units(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "cpu_model_and_flags", lambda: ("Test CPU", {"avx2"}))
    ok, why = precision.bf16_candidate(torch.device("cpu"))
    assert not ok and "no bf16 units" in why


def test_auto_decision_needs_a_margin() -> None:
    assert autoprecision.decide({"fp32": 1.0, "bf16": 0.5}, 64, "cpu").precision == "bf16"
    assert autoprecision.decide({"fp32": 1.0, "bf16": 0.99}, 64, "cpu").precision == "fp32"
    choice = autoprecision.decide({"fp32": 1.0, "bf16": 2.0}, 64, "cpu")
    assert choice.precision == "fp32" and choice.images_per_s == {"fp32": 64.0, "bf16": 32.0}


# 2. resume keeps the precision the run recorded
def test_resume_keeps_the_recorded_precision(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    _pretend_bf16_cpu(monkeypatch, "fp32")  # bf16 wins at the start
    run_dir = train(tiny_train_config(precision="auto", kimg=0.032), out=tmp_path)
    monkeypatch.undo()
    _pretend_bf16_cpu(monkeypatch, "bf16")  # now fp32 would win a new measurement
    train(tiny_train_config(precision="auto", kimg=0.064), out=tmp_path, resume=run_dir)
    record = json.loads((run_dir / "config.json").read_text())["precision"]
    assert record["used"] == "bf16"
    assert record["history"] == [{"from_nimg": 0, "used": "bf16"}]
    assert json.loads(load_state(list_states(run_dir)[-1])["config"])["precision"] == "bf16"


def test_an_explicit_switch_on_resume_is_recorded(tmp_path: Path) -> None:
    run_dir = train(tiny_train_config(precision="bf16", kimg=0.032), out=tmp_path)
    train(tiny_train_config(precision="fp32", kimg=0.064), out=tmp_path, resume=run_dir)
    record = json.loads((run_dir / "config.json").read_text())["precision"]
    assert record["used"] == "fp32" and "used bf16 before" in record["reason"]
    assert record["history"] == [
        {"from_nimg": 0, "used": "bf16"},
        {"from_nimg": 32, "used": "fp32"},
    ]


def test_resume_refuses_a_recorded_precision_this_device_cannot_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run_dir = train(tiny_train_config(precision="bf16", kimg=0.032), out=tmp_path)
    monkeypatch.setattr(precision, "can_run", lambda p, d: (p != "bf16", "no bf16 support"))
    with pytest.raises(PrecisionError, match=r"trained in bf16.*--precision fp32"):
        train(tiny_train_config(precision="auto", kimg=0.064), out=tmp_path, resume=run_dir)
    assert len(read_jsonl(run_dir / "stats.jsonl")) == 1  # nothing trained, nothing lost


# 3. a prepared STL-10 holds what --data stl10 trains on
class _Images(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.zeros(3, 8, 8)


def test_prepared_stl10_is_the_unlabelled_split(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from transgan.data.preparation import prepare

    monkeypatch.setattr(builtin, "_torchvision", lambda name, res, root, dl: _Images(12))

    def labelled_split(name, res, root, dl):  # STL-10's 5,000 labelled images, here 4
        return labelled.LabeledDataset(
            labelled.MappedDataset(_Images(4), lambda x: (x, 0)),
            torch.zeros(4, dtype=torch.long),
            ["airplane"],
        )

    monkeypatch.setattr(labelled, "_torchvision_labeled", labelled_split)
    index = prepare("stl10", 8, tmp_path / "unlabelled")
    assert index["count"] == 12 and index["class_names"] == [] and index["split"] == "unlabeled"
    index = prepare("stl10", 8, tmp_path / "labelled", labelled_split=True)
    assert index["count"] == 4 and index["class_names"] == ["airplane"]
    assert index["split"] == "train"


# 4. metrics during training do not touch the run's random streams
def test_resume_is_bit_identical_with_a_metric_during_training(
    tmp_path: Path, digits_cache: None
) -> None:
    extra = {"metrics": ("dcov16",), "metrics_every_kimg": 0.032}
    straight = train(tiny_train_config(**extra), out=tmp_path / "a")
    first = train(tiny_train_config(**extra, kimg=0.032), out=tmp_path / "b")
    resumed = train(tiny_train_config(**extra), out=tmp_path / "b", resume=first)
    a, b = (load_state(list_states(r)[-1]) for r in (straight, resumed))
    for key in ("generator", "discriminator"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name}"


def test_a_run_evaluates_its_final_snapshot_between_metric_intervals(
    tmp_path: Path, digits_cache: None
) -> None:
    """--metrics-every 64 images on a run of 96: the last tick (kimg 0.096) lies between two
    evaluations, and its snapshot — the one a user reports — gets its numbers too."""
    extra = {"metrics": ("dcov16",), "metrics_every_kimg": 0.064, "snap_ticks": 10}
    run_dir = train(tiny_train_config(**extra, kimg=0.096), out=tmp_path / "run")
    lines = read_jsonl(run_dir / "metric-dcov16.jsonl")
    assert [line["kimg"] for line in lines] == [0.064, 0.096]
    assert lines[-1]["snapshot"] == "network-snapshot-000000.safetensors"
    assert (run_dir / lines[-1]["snapshot"]).exists()


# 5. latents, noise and labels are independent streams of one seed
def test_noise_is_not_a_clone_of_the_latents() -> None:
    config = presets.get_config("transgan2_tiny")
    g = presets.build_generator(config).eval()
    assert any(isinstance(m, NoiseInjection) for m in g.modules())
    drawn: list[torch.Tensor] = []
    original = torch.randn

    def spy(*args, **kwargs):  # draws from a private generator: the noise (image 0's first)
        out = original(*args, **kwargs)
        if kwargs.get("generator") is not None:
            drawn.append(out)
        return out

    z = latents(2, config.generator.latent_dim, seed=7)
    torch.randn = spy
    try:
        generate_images(g, z, noise_seed=7)
    finally:
        torch.randn = original
    n = min(drawn[0].numel(), z.shape[1])  # one noise value per token of the first map
    noise = drawn[0].flatten()[:n]
    assert not torch.allclose(noise, z[0, :n], atol=1e-3)
    assert abs(torch.corrcoef(torch.stack([noise, z[0, :n]]))[0, 1]) < 0.9


def test_stream_seeds_are_stable_and_distinct() -> None:
    assert stream_seed(7, "latents") == 7
    assert stream_seed(7, "noise") == stream_seed(7, "noise")  # the same every call
    assert len({stream_seed(7, s) for s in ("latents", "noise", "labels")}) == 3
    # documented as stable across versions: this value must never change
    assert stream_seed(0, "noise") == int.from_bytes(
        hashlib.sha256(b"transgan/noise/0").digest()[:8], "little"
    ) & (2**63 - 1)
    with pytest.raises(ValueError, match="unknown random stream"):
        stream_seed(0, "colour")


def test_metric_labels_are_not_drawn_from_the_noise_stream() -> None:
    from transgan.evaluation.metrics import Uint8Generator

    config = presets.get_config("transgan_tiny", **tiny_overrides("transgan_tiny"))
    wrapped = Uint8Generator(presets.build_generator(config), noise_seed=3)
    assert wrapped.rng.initial_seed() != wrapped.label_rng.initial_seed()
    assert 3 not in (wrapped.rng.initial_seed(), wrapped.label_rng.initial_seed())


# 6. --mirror's default follows --data
@pytest.mark.parametrize(
    "model, data, cond, expected",
    [
        ("transgan_s", "digits", False, False),  # a CIFAR-10 preset on the digits
        ("transgan_s", "digits-all", True, False),
        ("transgan_digits", "cifar10", False, True),
        ("transgan_s", "cifar10", False, True),
    ],
)
def test_mirror_default_follows_the_data(model: str, data: str, cond: bool, expected: bool):
    from transgan.training.config import TrainConfig

    assert TrainConfig(model=model, data=data, cond=cond).mirror_used() is expected
    assert TrainConfig(model=model, data=data, mirror=True).mirror_used() is True


def test_mirror_default_of_a_folder_prepared_from_digits(tmp_path: Path) -> None:
    from transgan.data.preparation import prepare
    from transgan.training.config import TrainConfig

    prepare("digits", 8, tmp_path / "digits8")
    assert TrainConfig(data=str(tmp_path / "digits8")).mirror_used() is False


# 7. metric logs are truncated on resume like stats.jsonl
def test_metric_log_after_resume_lists_each_kimg_once(tmp_path: Path) -> None:
    first = train(tiny_train_config(kimg=0.032), out=tmp_path)
    # what an evaluation after the saved state wrote before the run died
    for nimg in (32, 48):
        append_jsonl(first / "metric-dcov16.jsonl", {"kimg": nimg / 1000, "nimg": nimg})
    train(tiny_train_config(kimg=0.064), out=tmp_path, resume=first)
    assert [r["nimg"] for r in read_jsonl(first / "metric-dcov16.jsonl")] == [32]


# also: the fp16 penalty is taken from scaled gradients
def test_fp16_r1_penalty_does_not_underflow() -> None:
    torch.manual_seed(0)
    d = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(12, 12, bias=False),
        torch.nn.Linear(12, 12, bias=False),
        torch.nn.Linear(12, 1, bias=False),
    )
    with torch.no_grad():
        for layer in d[1:]:
            layer.weight.copy_(torch.full_like(layer.weight, 2e-4))  # d/dx ~ 1e-9: underflows
    real, fake = torch.rand(4, 3, 2, 2), torch.rand(4, 3, 2, 2)
    config = LossConfig("logistic", r1_gamma=1.0)

    def penalty(dtype: torch.dtype | None, scale: torch.Tensor | None) -> float:
        on = dtype is not None
        with torch.autocast("cpu", dtype=dtype or torch.float16, enabled=on):
            _, stats = discriminator_loss(
                lambda x: d(x).squeeze(-1), real, fake, config, lambda x: x, grad_scale=scale
            )
        return stats["penalty"].item()

    reference = penalty(None, None)
    assert reference > 0
    assert penalty(torch.float16, None) == 0.0  # unscaled: the gradient underflows
    scaled = penalty(torch.float16, torch.tensor(2.0**16))
    assert scaled == pytest.approx(reference, rel=0.05)


def test_auto_remembers_its_decision_for_the_same_cpu_model_and_iteration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A second run with the same device, model and iteration takes the recorded decision
    without timing ("cached"); another batch size times again."""
    timed = _pretend_bf16_cpu(monkeypatch, "bf16")
    train(tiny_train_config(precision="auto", kimg=0.016), out=tmp_path / "a")
    first = len(timed)
    assert first >= 4
    run = train(tiny_train_config(precision="auto", kimg=0.016, seed=3), out=tmp_path / "b")
    assert len(timed) == first  # nothing timed
    record = json.loads((run / "config.json").read_text())["precision"]
    assert record["used"] == "fp32" and record["reason"].startswith("cached from")
    train(tiny_train_config(precision="auto", kimg=0.016, batch=16), out=tmp_path / "c")
    assert len(timed) > first


def test_auto_times_again_after_an_upgrade(monkeypatch: pytest.MonkeyPatch) -> None:
    """A remembered decision holds for one transgan version: a release that computes
    differently (bf16 attention on CPUs, issue 37's sixth round) must not inherit it."""
    cfg = tiny_train_config(precision="auto")
    info = DistInfo(0, 1, 0, torch.device("cpu"))
    key = cache_key(cfg, cfg.model_config(), info)
    assert cache_key(cfg, cfg.model_config(), info) == key
    monkeypatch.setattr(transgan, "__version__", "99.0.0")
    assert cache_key(cfg, cfg.model_config(), info) != key
