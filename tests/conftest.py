"""Shared test helpers: tiny configs so the suite stays fast on 2 CPU cores."""

from __future__ import annotations

import pytest
import torch

from transgan import presets

# Small enough to run forward/backward in milliseconds, same structure as each preset.
TINY = {"g_latent_dim": 16, "g_num_heads": 2, "d_dim": 16, "d_depth": 1, "d_num_heads": 2}


def tiny_overrides(name: str) -> dict:
    """Overrides that keep ``name``'s structure (stages, up-sampling ops, windows, scales)
    and resolution but shrink widths and depths."""
    from transgan.models import GeneratorConfig, MultiScaleDiscriminatorConfig
    from transgan.models.vitgan import ViTGANGeneratorConfig

    config = presets.get_config(name)
    out: dict = {}
    g = config.generator
    if isinstance(g, GeneratorConfig):
        shrinking = sum(op != "bicubic" for op in g.upsample_ops)
        out.update(
            g_latent_dim=16,
            g_num_heads=2,
            g_dim=2 * 4**shrinking * 2,
            g_depths=tuple(min(d, 1) for d in g.depths),
        )
    if isinstance(g, ViTGANGeneratorConfig):
        out.update(
            g_latent_dim=16,
            g_dim=24,
            g_depth=1,
            g_num_heads=2,
            g_mapping_layers=2,
            g_decoder_dim=16,
            g_decoder_mapping_layers=1,
        )
    d = config.discriminator
    if isinstance(d, MultiScaleDiscriminatorConfig):
        out.update(
            d_scale_dims=(8,) * len(d.scale_dims),
            d_depths=tuple(1 + t for t in d.tails),
            d_num_heads=2,
        )
    elif "d_dim" in {f"d_{k}" for k in vars(d)}:
        out.update(d_dim=16, d_depth=1, d_num_heads=2)
    return out


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own cache folder: no --precision auto decision carries over."""
    monkeypatch.setenv("TRANSGAN_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


# A 16-px model that trains a tick in well under a second on the CPU.
TINY_TRAIN_MODEL = {
    "g_bottom_width": 4,
    "g_dim": 32,
    "g_depths": (1, 1, 1),
    "g_latent_dim": 16,
    "g_num_heads": 2,
    "d_dim": 16,
    "d_depth": 1,
    "d_num_heads": 2,
}


def tiny_train_config(**changes):
    """A TrainConfig for tests: 16 real images per iteration, 2 iterations per tick."""
    from transgan.training.config import TrainConfig

    base = {
        "model": "transgan_tiny",
        "model_overrides": dict(TINY_TRAIN_MODEL),
        "data": "digits",
        "kimg": 0.064,
        "tick_kimg": 0.032,
        "snap_ticks": 1,
        "batch": 8,
        "g_batch": 8,
        "n_critic": 2,
        "workers": 0,
        "grid_size": 4,
        "device": "cpu",
        "precision": "fp32",  # the same arithmetic on every CI machine
    }
    base.update(changes)
    return TrainConfig(**base)


@pytest.fixture(scope="session")
def random_inception_weights(tmp_path_factory):
    """torch-fidelity's own Inception-v3 with Kaiming-random conv weights, saved to a file.

    Proves plumbing only: features of random weights say nothing about image quality.
    (torch-fidelity's default init, used without weights, collapses activations to ~1e-8.)
    """
    from unittest import mock

    from torch import nn
    from torch_fidelity import feature_extractor_inceptionv3 as fe

    cls = fe.FeatureExtractorInceptionV3
    with (
        mock.patch.object(fe, "load_state_dict_from_url", return_value={}),
        mock.patch.object(cls, "load_state_dict", return_value=None),
    ):
        model = cls("inception-v3-compat", ["2048", "logits_unbiased"])
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.weight[0].numel()
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2 / fan_in) ** 0.5)
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    torch.save(model.state_dict(), path)
    return path


def tiny_cli_args(kimg: str, tick: str) -> list[str]:
    """`transgan train` arguments for the tiny model (for subprocess and torchrun tests)."""
    model = []
    for key, value in TINY_TRAIN_MODEL.items():
        text = "(" + ",".join(map(str, value)) + ")" if isinstance(value, tuple) else str(value)
        model += ["--set", f"{key}={text}"]
    return [
        "--kimg",
        kimg,
        "--tick",
        tick,
        "--batch",
        "8",
        "--g-batch",
        "8",
        "--n-critic",
        "2",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--grid-size",
        "4",
        "--precision",
        "fp32",
        *model,
    ]


def cli(args: list[str]):
    """``transgan ARGS`` in this process (click's runner): the result's exit_code and output."""
    from click.testing import CliRunner

    from transgan.cli.main import main

    return CliRunner().invoke(main, args)


def one_iteration(nets, cfg, stats=None, data=None, index: int = 0) -> None:
    """Iteration ``index`` (0 = the first) of the tiny config on ``data`` (default: random
    16-px images), on the CPU."""
    from transgan.training.steps import TickStats, train_iteration

    if data is None:
        data = iter(lambda: torch.rand(cfg.batch, 3, 16, 16) * 2 - 1, None)
    step = cfg.batch * cfg.n_critic
    train_iteration(
        nets,
        data,
        cfg,
        device=torch.device("cpu"),
        local_batch=cfg.batch,
        local_g_batch=cfg.g_batch,
        nimg_step=step,
        nimg_after=step * (index + 1),
        stats=stats if stats is not None else TickStats(),
        first_d_step=index * cfg.n_critic,
    )


def tiny_run_dir_args(kimg: str, run_dir) -> list[str]:
    """`-m transgan train` arguments for a tiny run that snapshots every tick in ``run_dir``."""
    return [
        "-m",
        "transgan",
        "train",
        *tiny_cli_args(kimg, "0.016"),
        "--snap",
        "1",
        "--run-dir",
        str(run_dir),
    ]


def poison_d_loss(setattr_fn, first: int | None = None) -> None:
    """Make the D loss NaN (for the first ``first`` calls, or always) through ``setattr_fn``
    (``monkeypatch.setattr`` in a test, plain ``setattr`` in a worker process)."""
    from transgan.training.d_terms import DiscriminatorLoss

    real_loss = DiscriminatorLoss.__call__
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        loss, stats = real_loss(*args, **kwargs)
        calls["n"] += 1
        return (loss * float("nan") if first is None or calls["n"] <= first else loss), stats

    setattr_fn(DiscriminatorLoss, "__call__", poisoned)


@pytest.fixture
def digits_cache(tmp_path_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The digits classifier and torch-fidelity's feature cache in this session's temporary
    folder: trained once per session (~10 s), never written to the user's home."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("TRANSGAN_CACHE", str(base / "tg-cache"))
    monkeypatch.setenv("TORCH_HOME", str(base / "torch-home"))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A finished tiny run (two training states, snapshots) for tests to copy and damage."""
    from transgan.training.loop import train

    return train(tiny_train_config(), out=tmp_path_factory.mktemp("tiny-run"))


def cdist_as_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``torch.cdist`` through one matmul, which ``torch.utils.flop_counter`` counts (it does
    not see cdist): patch it in to count the L2 attention's FLOPs."""
    sq = a.square().sum(-1, keepdim=True) + b.square().sum(-1).unsqueeze(-2)
    return (sq - 2 * a @ b.transpose(-1, -2)).clamp_min(0).sqrt()
