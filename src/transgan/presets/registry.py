"""The preset registry: ModelConfig, registration, overrides, and building networks.

The presets themselves are small functions in ``v1.py``, ``v2.py`` and ``reference.py``,
registered with ``@register_preset`` (see ``presets/__init__.py``).

``create_model("transgan_s", g_dim=64)`` builds a generator/discriminator pair;
``list_models()`` names what is registered. Overrides name a config field with a ``g_``
(generator) or ``d_`` (discriminator) prefix.
"""

from __future__ import annotations

import dataclasses
import typing
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
from transgan.models.dcgan import (
    DCGANDiscriminator,
    DCGANDiscriminatorConfig,
    DCGANGenerator,
    DCGANGeneratorConfig,
)
from transgan.models.discriminator import (
    Discriminator,
    DiscriminatorConfig,
    MultiScaleDiscriminator,
    MultiScaleDiscriminatorConfig,
)
from transgan.models.fields import describe, matches
from transgan.models.generator import Generator, GeneratorConfig
from transgan.models.vitgan import ViTGANGenerator, ViTGANGeneratorConfig

ARCHS = ("transformer", "conv", "dcgan")  # for g_arch / d_arch overrides
G_CONFIGS = {
    "transformer": GeneratorConfig,
    "conv": ConvGeneratorConfig,
    "dcgan": DCGANGeneratorConfig,
    "vitgan": ViTGANGeneratorConfig,
}
D_CONFIGS = {
    "transformer": DiscriminatorConfig,
    "multiscale": MultiScaleDiscriminatorConfig,
    "conv": ConvDiscriminatorConfig,
    "dcgan": DCGANDiscriminatorConfig,
}
G_NETWORKS = {GeneratorConfig: Generator, ConvGeneratorConfig: ConvGenerator}
G_NETWORKS[DCGANGeneratorConfig] = DCGANGenerator
G_NETWORKS[ViTGANGeneratorConfig] = ViTGANGenerator
D_NETWORKS = {DiscriminatorConfig: Discriminator, ConvDiscriminatorConfig: ConvDiscriminator}
D_NETWORKS[DCGANDiscriminatorConfig] = DCGANDiscriminator
D_NETWORKS[MultiScaleDiscriminatorConfig] = MultiScaleDiscriminator
AnyGeneratorConfig = (
    GeneratorConfig | ConvGeneratorConfig | DCGANGeneratorConfig | ViTGANGeneratorConfig
)
AnyDiscriminatorConfig = (
    DiscriminatorConfig
    | MultiScaleDiscriminatorConfig
    | ConvDiscriminatorConfig
    | DCGANDiscriminatorConfig
)


def arch_of(config: object) -> str:
    """ "transformer", "conv" or "dcgan" for a network config."""
    for arch, cls in (*G_CONFIGS.items(), *D_CONFIGS.items()):
        if type(config) is cls:
            return arch
    raise TypeError(f"not a network config: {config!r}")


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
        g = {k: tuple(v) if isinstance(v, list) else v for k, v in g.items()}
        d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
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


def list_models() -> list[str]:
    """Names of all registered presets, in registration order."""
    return list(_REGISTRY)


def _check_name(name: str) -> None:
    if name not in _REGISTRY:
        raise ValueError(f"unknown model preset {name!r}; choose one of {', '.join(_REGISTRY)}")


def _check_override_types(config: object, overrides: dict[str, Any], prefix: str) -> None:
    """Name the override (``g_dim``) whose value has the wrong type for its field."""
    hints = typing.get_type_hints(type(config))
    for field, value in overrides.items():
        if not matches(value, hints[field]):
            raise ValueError(
                f"model override {prefix}{field} must be {describe(hints[field])}, got {value!r}"
            )


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
    if g_arch == "dcgan":
        if size % 4 or size & (size - 1):
            raise ValueError(f"the DCGAN generator needs a power-of-two size >= 4, got {size}")
        num_up = size.bit_length() - 3  # 4 · 2^num_up = size
        config = dataclasses.replace(config, generator=DCGANGeneratorConfig(num_up=num_up))
    if d_arch == "conv":
        config = dataclasses.replace(config, discriminator=ConvDiscriminatorConfig(img_size=size))
    if d_arch == "dcgan":
        config = dataclasses.replace(config, discriminator=DCGANDiscriminatorConfig(img_size=size))
    g_fields = {f.name for f in dataclasses.fields(config.generator)}
    d_fields = {f.name for f in dataclasses.fields(config.discriminator)}
    g_over: dict[str, Any] = {}
    d_over: dict[str, Any] = {}
    for key, value in overrides.items():
        prefix, _, field = key.partition("_")
        if prefix == "g" and field in g_fields:
            g_over[field] = tuple(value) if isinstance(value, list | tuple) else value
        elif prefix == "d" and field in d_fields:
            d_over[field] = tuple(value) if isinstance(value, list | tuple) else value
        else:
            valid = sorted([f"g_{f}" for f in g_fields] + [f"d_{f}" for f in d_fields])
            valid += ["g_arch", "d_arch"]
            raise ValueError(f"unknown model override {key!r}; valid overrides: {valid}")
    _check_override_types(config.generator, g_over, "g_")
    _check_override_types(config.discriminator, d_over, "d_")
    try:
        generator = dataclasses.replace(config.generator, **g_over)
        d_over.setdefault("img_size", generator.img_size)
        discriminator = dataclasses.replace(config.discriminator, **d_over)
        return dataclasses.replace(config, generator=generator, discriminator=discriminator)
    except ValueError as err:
        if not overrides:
            raise
        given = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
        raise ValueError(f"{err} (preset {name} with the model overrides {given})") from err


def build_generator(config: ModelConfig) -> nn.Module:
    """The generator network of ``config``."""
    return G_NETWORKS[type(config.generator)](config.generator)


def build_discriminator(config: ModelConfig) -> nn.Module:
    """The discriminator network of ``config``."""
    return D_NETWORKS[type(config.discriminator)](config.discriminator)


def build_gan(config: ModelConfig) -> GAN:
    """Build both networks of ``config``."""
    return GAN(config, build_generator(config), build_discriminator(config))


def create_model(name: str, **overrides: Any) -> GAN:
    """Build preset ``name`` (see ``get_config`` for overrides)."""
    return build_gan(get_config(name, **overrides))
