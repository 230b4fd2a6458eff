"""The networks: exact sizes, shapes, gradients, FLOP formula, config validation."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_overrides
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import transgan
from transgan import presets
from transgan.models import DiscriminatorConfig, GeneratorConfig

# SPEC §1-2: the authors' v1 releases, less the unused BatchNorm.
EXPECTED_PARAMS = {
    "transgan_s": (34_368_171, 12_458_497),
    "transgan_m": (49_860_835, 12_458_497),
    "transgan_l": (86_901_075, 12_458_497),
    "transgan_xl": (133_592_515, 12_458_497),
    "transgan_stl10": (150_061_395, 12_489_217),
    "transgan_celeba64": (132_925_171, 12_532_225),
}


@pytest.mark.parametrize("name", list(EXPECTED_PARAMS))
def test_preset_parameter_counts_match_the_paper_release(name: str) -> None:
    with torch.device("meta"):
        gan = transgan.create_model(name)
    assert (gan.generator.count_params(), gan.discriminator.count_params()) == EXPECTED_PARAMS[name]


@pytest.mark.parametrize("name", transgan.list_models())
def test_generator_output_shape_and_finite(name: str) -> None:
    gan = transgan.create_model(name, **tiny_overrides(name))
    size = gan.config.img_size
    z = torch.randn(3, gan.config.generator.latent_dim)
    images = gan.generator(z)
    assert images.shape == (3, 3, size, size)
    assert torch.isfinite(images).all()


@pytest.mark.parametrize("name", transgan.list_models())
def test_discriminator_gives_one_logit_per_image(name: str) -> None:
    gan = transgan.create_model(name, **tiny_overrides(name))
    size = gan.config.img_size
    logits = gan.discriminator(torch.randn(5, 3, size, size))
    assert logits.shape == (5,)
    assert torch.isfinite(logits).all()


def _params_without_grad(module: nn.Module) -> list[str]:
    return [n for n, p in module.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]


@pytest.mark.parametrize("name", transgan.list_models())
def test_every_parameter_receives_a_gradient(name: str) -> None:
    gan = transgan.create_model(name, **tiny_overrides(name))
    z = torch.randn(4, gan.config.generator.latent_dim)
    gan.discriminator(gan.generator(z)).sum().backward()
    assert _params_without_grad(gan.generator) == []
    assert _params_without_grad(gan.discriminator) == []


def test_tanh_output_is_bounded() -> None:
    gan = transgan.create_model("transgan_tiny", g_output="tanh")
    images = gan.generator(torch.randn(2, 64) * 50)
    assert images.abs().max() <= 1


TRANSFORMER_PRESETS = [m for m in transgan.list_models() if m.startswith(("transgan", "vitgan"))]


@pytest.mark.parametrize("name", TRANSFORMER_PRESETS)
def test_transformer_networks_have_no_convolution(name: str) -> None:
    with torch.device("meta"):
        gan = transgan.create_model(name)
    conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)
    # ViTGAN's D reads overlapping patches through a strided conv (a patch embedding)
    nets = (gan.generator,) if name.startswith("vitgan") else (gan.generator, gan.discriminator)
    for net in nets:
        assert not [m for m in net.modules() if isinstance(m, conv)]


def test_estimate_flops_matches_torch_flop_counter() -> None:
    # The math attention path is plain matmuls, which FlopCounterMode counts (2 per MAC).
    gan = transgan.create_model("transgan_tiny", g_attn_impl="math", d_attn_impl="math")
    with FlopCounterMode(display=False) as counter:
        gan.generator(torch.randn(1, 64))
    assert counter.get_total_flops() == gan.generator.estimate_flops()
    with FlopCounterMode(display=False) as counter:
        gan.discriminator(torch.randn(1, 3, 32, 32))
    # The counter also counts the 2·dim head; norms and softmax are left out by both.
    assert counter.get_total_flops() == gan.discriminator.estimate_flops()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"dim": 100}, "25 channels cannot go through 'pixel', which divides them by 4"),
        ({"dim": 96, "num_heads": 5}, "num_heads=5"),
        ({"output": "sigmoid"}, "'sigmoid'"),
        ({"depths": (0, 0, 0)}, "depths"),
        ({"depths": (1, 1), "windows": (0, 3)}, "window 3"),
        ({"depths": (1, 1), "upsample": ("nearest",)}, "upsample ops"),
    ],
)
def test_bad_generator_config_names_the_value(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        GeneratorConfig(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"img_size": 30, "patch_size": 4}, "got 30 and 4"),
        ({"dim": 100, "num_heads": 3}, "dim=100"),
    ],
)
def test_bad_discriminator_config_names_the_value(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        DiscriminatorConfig(**kwargs)


def test_unknown_override_and_preset_are_explained() -> None:
    with pytest.raises(ValueError, match="g_dimension"):
        presets.get_config("transgan_s", g_dimension=3)
    with pytest.raises(ValueError, match="choose one of"):
        presets.get_config("transgan_xxl")


def test_mismatched_resolutions_are_refused() -> None:
    with pytest.raises(ValueError, match="d_img_size=32"):
        presets.get_config("transgan_s", d_img_size=48)


def test_config_round_trips_through_dict() -> None:
    config = presets.get_config("transgan_celeba64")
    assert presets.ModelConfig.from_dict(config.to_dict()) == config
