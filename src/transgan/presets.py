"""Model presets: a registry of small functions that return configs.

``create_model("transgan_s", g_dim=64)`` builds a generator/discriminator pair;
``list_models()`` names what is registered. Overrides name a config field with a ``g_``
(generator) or ``d_`` (discriminator) prefix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from transgan.models.conv import (
    ConvDiscriminator,
    ConvDiscriminatorConfig,
    ConvGenerator,
    ConvGeneratorConfig,
)
from transgan.models.discriminator import Discriminator, DiscriminatorConfig
from transgan.models.generator import Generator, GeneratorConfig

ARCHS = ("transformer", "conv")
G_CONFIGS = {"transformer": GeneratorConfig, "conv": ConvGeneratorConfig}
D_CONFIGS = {"transformer": DiscriminatorConfig, "conv": ConvDiscriminatorConfig}
AnyGeneratorConfig = GeneratorConfig | ConvGeneratorConfig
AnyDiscriminatorConfig = DiscriminatorConfig | ConvDiscriminatorConfig


def arch_of(config: object) -> str:
    """ "transformer" or "conv" for a network config."""
    return (
        "conv"
        if isinstance(config, ConvGeneratorConfig | ConvDiscriminatorConfig)
        else ("transformer")
    )


@dataclass(frozen=True)
class ModelConfig:
    name: str  # preset this config came from
    generator: AnyGeneratorConfig  # the generator's architecture (transformer or conv)
    discriminator: AnyDiscriminatorConfig  # the discriminator's architecture
    dataset: str = "cifar10"  # the data set the preset was made for
    paper: str = ""  # the paper's result for this preset, for the table

    def __post_init__(self) -> None:
        if self.generator.img_size != self.discriminator.img_size:
            raise ValueError(
                f"generator makes {self.generator.img_size}px images but the discriminator "
                f"expects {self.discriminator.img_size}px; set d_img_size={self.generator.img_size}"
            )

    @property
    def img_size(self) -> int:
        return self.generator.img_size

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["generator"]["arch"] = arch_of(self.generator)
        data["discriminator"]["arch"] = arch_of(self.discriminator)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        g = dict(data["generator"])
        d = dict(data["discriminator"])
        g_cls = G_CONFIGS[g.pop("arch", "transformer")]
        d_cls = D_CONFIGS[d.pop("arch", "transformer")]
        if "depths" in g:
            g["depths"] = tuple(g["depths"])
        return cls(
            name=data["name"],
            generator=g_cls(**g),
            discriminator=d_cls(**d),
            dataset=data.get("dataset", "cifar10"),
            paper=data.get("paper", ""),
        )


@dataclass
class GAN:
    """A generator and a discriminator built from one ``ModelConfig``."""

    config: ModelConfig
    generator: nn.Module
    discriminator: nn.Module


_REGISTRY: dict[str, Callable[[], ModelConfig]] = {}


def register_preset(fn: Callable[[], ModelConfig]) -> Callable[[], ModelConfig]:
    """Decorator: register ``fn`` under its function name."""
    _REGISTRY[fn.__name__] = fn
    return fn


def _cifar(name: str, dim: int, depths: tuple[int, ...], paper: str) -> ModelConfig:
    return ModelConfig(
        name=name,
        generator=GeneratorConfig(latent_dim=1024, bottom_width=8, dim=dim, depths=depths),
        discriminator=DiscriminatorConfig(img_size=32, patch_size=4, dim=384, depth=7),
        dataset="cifar10",
        paper=paper,
    )


@register_preset
def transgan_s() -> ModelConfig:
    """CIFAR-10 32px, paper Table 4 TransGAN-S."""
    return _cifar("transgan_s", 384, (5, 2, 2), "IS 8.22 / FID 18.58")


@register_preset
def transgan_m() -> ModelConfig:
    """CIFAR-10 32px, paper Table 4 TransGAN-M."""
    return _cifar("transgan_m", 512, (5, 2, 2), "IS 8.36 / FID 16.27")


@register_preset
def transgan_l() -> ModelConfig:
    """CIFAR-10 32px, paper Table 4 TransGAN-L."""
    return _cifar("transgan_l", 768, (5, 2, 2), "IS 8.50 / FID 14.46")


@register_preset
def transgan_xl() -> ModelConfig:
    """CIFAR-10 32px, paper Table 4 TransGAN-XL."""
    return _cifar("transgan_xl", 1024, (5, 4, 2), "IS 8.63 / FID 11.89")


@register_preset
def transgan_stl10() -> ModelConfig:
    """STL-10 48px (12 -> 24 -> 48), the authors' v1 STL release."""
    return ModelConfig(
        name="transgan_stl10",
        generator=GeneratorConfig(latent_dim=1024, bottom_width=12, dim=768, depths=(5, 2, 2)),
        discriminator=DiscriminatorConfig(img_size=48, patch_size=4, dim=384, depth=7),
        dataset="stl10",
    )


@register_preset
def transgan_celeba64() -> ModelConfig:
    """CelebA 64px (8 -> 16 -> 32 -> 64), the authors' v1 CelebA release."""
    return ModelConfig(
        name="transgan_celeba64",
        generator=GeneratorConfig(latent_dim=1024, bottom_width=8, dim=1024, depths=(5, 3, 3, 2)),
        discriminator=DiscriminatorConfig(img_size=64, patch_size=4, dim=384, depth=7),
        dataset="celeba",
    )


@register_preset
def transgan_tiny() -> ModelConfig:
    """A small 32px model for CPU demos and smoke tests (not from the paper)."""
    return ModelConfig(
        name="transgan_tiny",
        generator=GeneratorConfig(latent_dim=64, bottom_width=8, dim=128, depths=(2, 1, 1)),
        discriminator=DiscriminatorConfig(img_size=32, patch_size=4, dim=96, depth=2),
        dataset="digits",
    )


@register_preset
def transgan_digits() -> ModelConfig:
    """A 16px model (4 -> 8 -> 16) for the CPU demo on `digits` (not from the paper)."""
    return ModelConfig(
        name="transgan_digits",
        generator=GeneratorConfig(latent_dim=64, bottom_width=4, dim=128, depths=(2, 1, 1)),
        discriminator=DiscriminatorConfig(img_size=16, patch_size=2, dim=64, depth=2),
        dataset="digits",
    )


def list_models() -> list[str]:
    """Names of all registered presets, in registration order."""
    return list(_REGISTRY)


def _check_name(name: str) -> None:
    if name not in _REGISTRY:
        raise ValueError(f"unknown model preset {name!r}; choose one of {', '.join(_REGISTRY)}")


def get_config(name: str, **overrides: Any) -> ModelConfig:
    """The config of preset ``name`` with ``g_*`` / ``d_*`` field overrides applied.

    ``d_img_size`` follows the generator's image size unless it is overridden too.
    """
    _check_name(name)
    config = _REGISTRY[name]()
    overrides = dict(overrides)
    g_arch = overrides.pop("g_arch", "transformer")
    d_arch = overrides.pop("d_arch", "transformer")
    for key, arch in (("g_arch", g_arch), ("d_arch", d_arch)):
        if arch not in ARCHS:
            raise ValueError(f"{key} must be one of {ARCHS}, got {arch!r}")
    size = config.img_size
    if g_arch == "conv":
        if size % 8:
            raise ValueError(f"the conv generator needs an image size divisible by 8, got {size}")
        config = dataclasses.replace(config, generator=ConvGeneratorConfig(bottom_width=size // 8))
    if d_arch == "conv":
        config = dataclasses.replace(config, discriminator=ConvDiscriminatorConfig(img_size=size))
    g_fields = {f.name for f in dataclasses.fields(config.generator)}
    d_fields = {f.name for f in dataclasses.fields(config.discriminator)}
    g_over: dict[str, Any] = {}
    d_over: dict[str, Any] = {}
    for key, value in overrides.items():
        prefix, _, field = key.partition("_")
        if prefix == "g" and field in g_fields:
            g_over[field] = tuple(value) if field == "depths" else value
        elif prefix == "d" and field in d_fields:
            d_over[field] = value
        else:
            valid = sorted([f"g_{f}" for f in g_fields] + [f"d_{f}" for f in d_fields])
            valid += ["g_arch", "d_arch"]
            raise ValueError(f"unknown model override {key!r}; valid overrides: {valid}")
    generator = dataclasses.replace(config.generator, **g_over)
    d_over.setdefault("img_size", generator.img_size)
    discriminator = dataclasses.replace(config.discriminator, **d_over)
    return dataclasses.replace(config, generator=generator, discriminator=discriminator)


def build_generator(config: ModelConfig) -> nn.Module:
    """The generator network of ``config``."""
    if isinstance(config.generator, ConvGeneratorConfig):
        return ConvGenerator(config.generator)
    return Generator(config.generator)


def build_discriminator(config: ModelConfig) -> nn.Module:
    """The discriminator network of ``config``."""
    if isinstance(config.discriminator, ConvDiscriminatorConfig):
        return ConvDiscriminator(config.discriminator)
    return Discriminator(config.discriminator)


def build_gan(config: ModelConfig) -> GAN:
    """Build both networks of ``config``."""
    return GAN(config, build_generator(config), build_discriminator(config))


def create_model(name: str, **overrides: Any) -> GAN:
    """Build preset ``name`` (see ``get_config`` for overrides)."""
    return build_gan(get_config(name, **overrides))
