"""Faults found by the review of the D options and the sharing path (issue 29): each ran
without an error and did something other than what the docs promise."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import one_iteration, tiny_train_config

from transgan.distributed import DistInfo
from transgan.fileio import read_jsonl
from transgan.training.augment import AugmentConfig
from transgan.training.losses import LossConfig
from transgan.training.setup import build_networks
from transgan.training.steps import TickStats

CPU = DistInfo(0, 1, 0, torch.device("cpu"))
LECAM = LossConfig("logistic", r1_gamma=0.1, lecam_weight=0.3)


def _trained(iterations: int = 3, **changes):
    # no augmentation: its draws differ per micro-batch shape
    cfg = tiny_train_config(loss=LECAM, augment=AugmentConfig(policy=()), **changes)
    torch.manual_seed(0)
    nets = build_networks(cfg, cfg.model_config(), CPU)
    torch.manual_seed(1)
    for _ in range(iterations):
        one_iteration(nets, cfg)
    return nets


def test_lecam_with_accumulation_is_the_same_update() -> None:
    # --accum-steps promises the same update with less memory: the anchors must move once
    # per D step, from the whole batch (they moved per micro-batch: D differed by 2e-4)
    one, two = _trained(accum_steps=1), _trained(accum_steps=2)
    for key in ("real", "fake"):
        torch.testing.assert_close(getattr(one.lecam, key), getattr(two.lecam, key))
    for (name, a), b in zip(
        one.discriminator.state_dict().items(),
        two.discriminator.state_dict().values(),
        strict=True,
    ):
        torch.testing.assert_close(a, b, atol=2e-6, rtol=1e-5, msg=name)


def test_one_non_finite_d_step_does_not_poison_lecam() -> None:
    cfg = tiny_train_config(loss=LECAM)
    nets = build_networks(cfg, cfg.model_config(), CPU)
    real_d, calls = nets.d_train, {"n": 0}

    def nan_once(x: torch.Tensor) -> torch.Tensor:  # D's logits are NaN on its first call
        calls["n"] += 1
        out = real_d(x)
        return out * float("nan") if calls["n"] == 1 else out

    nets.d_train = nan_once
    skipped = []
    for _ in range(5):
        stats = TickStats()
        one_iteration(nets, cfg, stats)
        skipped.append(round(stats.sums["d_skipped"].item()))
    assert skipped == [1, 0, 0, 0, 0]
    assert torch.isfinite(nets.lecam.real) and torch.isfinite(nets.lecam.fake)


@pytest.mark.parametrize("world, accum", [(1, 1), (2, 1), (1, 2)])
def test_mbstd_group_is_checked_against_each_ranks_micro_batch(world: int, accum: int) -> None:
    cfg = tiny_train_config(
        batch=12,
        g_batch=12,
        accum_steps=accum,
        model_overrides={**tiny_train_config().model_overrides, "d_mbstd_group": 4},
    )
    model = cfg.model_config() if accum == 1 else None
    if world == 1 and accum == 1:  # 12 per micro-batch: groups of 4 never mix
        cfg.check_mbstd_groups(model, world)
        return
    with pytest.raises(ValueError, match=r"each rank.s micro-batch .* = 6 images"):
        cfg.check_mbstd_groups(model or cfg.model_config(), world)


def test_restart_sets_aside_tensorboard_and_config(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from transgan.training.loop import train

    run = train(tiny_train_config(tensorboard=True, seed=1), out=tmp_path)
    old_config = (run / "config.json").read_text()
    train(tiny_train_config(tensorboard=True, seed=2), out=tmp_path, resume=run, restart=True)
    (aside,) = run.glob("abandoned-*")
    assert (aside / "tensorboard").is_dir() and (aside / "config.json").read_text() == old_config
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    steps = [e.step for e in events.Scalars("stats/d_loss")]
    assert steps == [r["nimg"] for r in read_jsonl(run / "stats.jsonl")] == [32, 64]
    assert json.loads((run / "config.json").read_text())["train"]["seed"] == 2


def test_resume_sets_aside_files_written_after_the_resume_point_within_its_kimg(
    tmp_path: Path, tiny_run: Path
) -> None:
    from transgan.images import png_text
    from transgan.snapshot import read_snapshot_extra
    from transgan.training.rundir import set_aside

    # the tiny run writes everything under kimg 0: states at 32 and 64 images, and one
    # snapshot and one grid, last written at 64. Resuming from 32 abandons both.
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    snapshot, grid = run / "network-snapshot-000000.safetensors", run / "fakes000000.png"
    assert read_snapshot_extra(snapshot)["nimg"] == 64 and png_text(grid)["nimg"] == "64"
    aside = set_aside(run, 32)
    assert (aside / snapshot.name).exists() and (aside / grid.name).exists()
    assert not snapshot.exists() and not grid.exists()
    assert (aside / "training-state-000000000064.pt").exists()
    assert (run / "training-state-000000000032.pt").exists()


def _noisy_v2(path: Path, **kw) -> Path:
    import transgan
    from transgan.snapshot import save_snapshot

    torch.manual_seed(0)
    gan = transgan.create_model("transgan2_tiny", **kw)
    for m in gan.generator.modules():  # trained gains are not 0; make the noise show in
        if hasattr(m, "gain"):  # the pixels (other noise: ~10 levels of 255 apart)
            m.gain.data.fill_(20.0)
    save_snapshot(path, gan.generator, gan.config, {})
    return path


@pytest.mark.parametrize("kind", ["v2-noise", "v2-noise-cond", "odd-latent"], ids=lambda k: k)
def test_an_image_is_a_function_of_seed_and_index_alone(tmp_path: Path, kind: str) -> None:
    from transgan.sampling import generate_images, latents
    from transgan.sharing.sampler import Sampler

    kw = {"g_latent_dim": 33} if kind == "odd-latent" else {}
    if kind == "v2-noise-cond":
        kw["g_num_classes"] = 3
    path = _noisy_v2(tmp_path / "g.safetensors", **kw)
    s = Sampler.from_snapshot(path, torch.device("cpu"), batch_size=64)
    g, dim = s.generator, s.config.generator.latent_dim
    label = 1 if kind == "v2-noise-cond" else None
    labels = None if label is None else torch.full((10,), label)
    z = latents(10, dim, 7)
    assert torch.equal(latents(1, dim, 7), z[:1])  # a latent does not depend on the count
    whole = generate_images(g, z, batch_size=64, noise_seed=7, labels=labels)
    pieces = generate_images(g, z, batch_size=3, noise_seed=7, labels=labels)
    # batches of other sizes may round differently (BLAS kernels): 1e-5 on [-1, 1] images,
    # where other noise differs by ~1e-3 and more
    close = {"atol": 1e-5, "rtol": 0}
    torch.testing.assert_close(whole, pieces, **close)  # nor on the device batch
    first = generate_images(g, z[:1], noise_seed=7, labels=None if labels is None else labels[:1])
    torch.testing.assert_close(first, whole[:1], **close)  # nor on how many are drawn
    # the page's image at seed 7 is image 0 of its grid (and of `generate --seed 7`)
    _same_pixels(s.image(7, label), s.grid(7, 10, label).crop((1, 1, 17, 17)))
    # the walk: the slider's frame at a position is the GIF's frame there
    frames = s.walk_frames(3, 5, 5, label)
    for t, i in ((0.0, 0), (0.25, 1), (0.5, 2), (1.0, 4)):
        _same_pixels(s.walk_frame(3, 5, t, label), frames[i])
    _same_pixels(frames[0], s.image(3, label))


def _same_pixels(a, b) -> None:
    """Two images equal to one level of 255 (a float at a rounding boundary may flip)."""
    x, y = (torch.from_numpy(np.array(im)).int() for im in (a, b))
    assert x.shape == y.shape and (x - y).abs().max() <= 1
