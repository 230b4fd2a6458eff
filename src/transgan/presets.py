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
from transgan.models.generator import Generator, GeneratorConfig

ARCHS = ("transformer", "conv", "dcgan")  # for g_arch / d_arch overrides
G_CONFIGS = {
    "transformer": GeneratorConfig,
    "conv": ConvGeneratorConfig,
    "dcgan": DCGANGeneratorConfig,
}
D_CONFIGS = {
    "transformer": DiscriminatorConfig,
    "multiscale": MultiScaleDiscriminatorConfig,
    "conv": ConvDiscriminatorConfig,
    "dcgan": DCGANDiscriminatorConfig,
}
G_NETWORKS = {GeneratorConfig: Generator, ConvGeneratorConfig: ConvGenerator}
G_NETWORKS[DCGANGeneratorConfig] = DCGANGenerator
D_NETWORKS = {DiscriminatorConfig: Discriminator, ConvDiscriminatorConfig: ConvDiscriminator}
D_NETWORKS[DCGANDiscriminatorConfig] = DCGANDiscriminator
D_NETWORKS[MultiScaleDiscriminatorConfig] = MultiScaleDiscriminator
AnyGeneratorConfig = GeneratorConfig | ConvGeneratorConfig | DCGANGeneratorConfig
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


# ---------------------------------------------------------------------------------------
# TransGAN v2 (SPEC-v2): the authors' later configurations, and ours at 64 and 128 px
# ---------------------------------------------------------------------------------------


def _v2_scale2_d(img_size: int, norm: str) -> MultiScaleDiscriminatorConfig:
    """The CIFAR/STL discriminator: 2 scales (p = 2), relative bias and noise everywhere."""
    return MultiScaleDiscriminatorConfig(
        img_size=img_size, patch_size=2, scale_dims=(288, 96), depths=(3, 3), norm=norm
    )


@register_preset
def transgan2_cifar10() -> ModelConfig:
    """CIFAR-10 32px, the authors' later model (SPEC-v2 §3.1, §4.1)."""
    return ModelConfig(
        name="transgan2_cifar10",
        generator=GeneratorConfig(
            latent_dim=256,
            bottom_width=8,
            dim=1024,
            depths=(5, 4, 2),
            rel_bias=True,
            init="pytorch",
        ),
        discriminator=_v2_scale2_d(32, "ln"),
        dataset="cifar10",
        paper="IS 9.02 / FID 9.26",
    )


@register_preset
def transgan2_stl10() -> ModelConfig:
    """STL-10 48px, the authors' later model (PixelNorm)."""
    return ModelConfig(
        name="transgan2_stl10",
        generator=GeneratorConfig(
            latent_dim=512,
            bottom_width=12,
            dim=1024,
            depths=(7, 5, 3),
            rel_bias=True,
            norm="pn",
            init="pytorch",
        ),
        discriminator=_v2_scale2_d(48, "pn"),
        dataset="stl10",
        paper="STL-10: IS 10.43 / FID 18.28",
    )


def _v2_256_generator(cross_attention: bool) -> GeneratorConfig:
    """The 256-px generators: bicubic ×2 twice, then PixelShuffle; 16×16 windows from 64²."""
    return GeneratorConfig(
        latent_dim=512,
        bottom_width=8,
        dim=1024,
        depths=(0 if cross_attention else 5, 4, 4, 4, 4, 4),
        upsample=("bicubic", "bicubic", "pixel")
        + (("updown", "updown") if cross_attention else ("pixel", "pixel")),
        windows=(0, 0, 0, 16, 16, 16),
        rel_bias=True,
        noise=True,
        norm="pn",
        cross_attention=cross_attention,
        init="pytorch",
    )


@register_preset
def transgan2_church256() -> ModelConfig:
    """LSUN Church 256px, the authors' later model (SPEC-v2 §3.2, §4.2)."""
    return ModelConfig(
        name="transgan2_church256",
        generator=_v2_256_generator(cross_attention=False),
        discriminator=MultiScaleDiscriminatorConfig(
            img_size=256,
            patch_size=4,
            scale_dims=(288, 48, 48),
            depths=(3, 3, 4),
            windows=(16, 0, 0),
            global_tail=(1, 0, 0),
            noise=False,
        ),
        dataset="lsun-church",
        paper="LSUN Church 256",
    )


@register_preset
def transgan2_celebahq256() -> ModelConfig:
    """CelebA-HQ 256px, the authors' later model: cross-attention G (SPEC-v2 §3.3, §4.3)."""
    return ModelConfig(
        name="transgan2_celebahq256",
        generator=_v2_256_generator(cross_attention=True),
        discriminator=MultiScaleDiscriminatorConfig(
            img_size=256,
            patch_size=2,
            scale_dims=(96, 96, 192),
            depths=(3, 3, 4),
            windows=(4, 4, 0),
            global_tail=(0, 1, 0),
            rel_bias=False,
            noise=False,
            overlap_first=True,
        ),
        dataset="celeba-hq",
        paper="CelebA-HQ 256",
    )


@register_preset
def transgan2_celeba64() -> ModelConfig:
    """Faces 64px — our design, not the authors': the CIFAR plan one stage deeper, with
    16×16 windows at 64² and the 2-scale D at p = 4 (cost of the 32-px model per token)."""
    return ModelConfig(
        name="transgan2_celeba64",
        generator=GeneratorConfig(
            latent_dim=512,
            bottom_width=8,
            dim=1024,
            depths=(5, 4, 2, 2),
            upsample=("bicubic", "pixel", "pixel"),
            windows=(0, 0, 0, 16),
            rel_bias=True,
            noise=True,
            norm="pn",
            init="pytorch",
        ),
        discriminator=MultiScaleDiscriminatorConfig(
            img_size=64,
            patch_size=2,
            scale_dims=(192, 96, 96),
            depths=(3, 3, 3),
            windows=(16, 0, 0),
            global_tail=(1, 0, 0),
        ),
        dataset="celeba",
        paper="(ours; no authors' result)",
    )


@register_preset
def transgan2_celeba128() -> ModelConfig:
    """Faces 128px — our design: the 256-px church plan one stage shorter (16×16 windows
    from 64²) and its 3-scale D at p = 4."""
    return ModelConfig(
        name="transgan2_celeba128",
        generator=GeneratorConfig(
            latent_dim=512,
            bottom_width=8,
            dim=1024,
            depths=(5, 4, 4, 4, 4),
            upsample=("bicubic", "bicubic", "pixel", "pixel"),
            windows=(0, 0, 0, 16, 16),
            rel_bias=True,
            noise=True,
            norm="pn",
            init="pytorch",
        ),
        discriminator=MultiScaleDiscriminatorConfig(
            img_size=128,
            patch_size=4,
            scale_dims=(288, 48, 48),
            depths=(3, 3, 4),
            windows=(16, 0, 0),
            global_tail=(1, 0, 0),
            noise=False,
        ),
        dataset="celeba",
        paper="(ours; no authors' result)",
    )


@register_preset
def transgan2_tiny() -> ModelConfig:
    """A tiny v2 model at 16px for CPU tests: every v2 piece (bicubic and PixelShuffle,
    windows, relative bias, noise, 2-scale D) at toy widths (not from the paper)."""
    return ModelConfig(
        name="transgan2_tiny",
        generator=GeneratorConfig(
            latent_dim=32,
            bottom_width=4,
            dim=64,
            depths=(1, 1, 1),
            upsample=("bicubic", "pixel"),
            windows=(0, 0, 8),
            rel_bias=True,
            noise=True,
        ),
        discriminator=MultiScaleDiscriminatorConfig(
            img_size=16,
            patch_size=2,
            scale_dims=(24, 8),
            depths=(1, 1),
            windows=(4, 0),
        ),
        dataset="digits",
    )


@register_preset
def transgan2_digits() -> ModelConfig:
    """16px digits (ours): transgan_digits' G with the last up-sampling bicubic instead of
    PixelShuffle (no 2×2 checkerboard; width 32 at 16²) and 4×4 windows at 16² — what the
    quality sweeps found (docs/quality.md); the v1 patch D."""
    return ModelConfig(
        name="transgan2_digits",
        generator=GeneratorConfig(
            latent_dim=64,
            bottom_width=4,
            dim=128,
            depths=(2, 1, 1),
            upsample=("pixel", "bicubic"),
            windows=(0, 0, 4),
        ),
        discriminator=DiscriminatorConfig(img_size=16, patch_size=2, dim=64, depth=2),
        dataset="digits",
    )


@register_preset
def dcgan_digits() -> ModelConfig:
    """The DCGAN-sized conv reference at 16 px (G 0.30 M, D 0.04 M; not a transformer)."""
    return ModelConfig(
        name="dcgan_digits",
        generator=DCGANGeneratorConfig(latent_dim=64, bottom_width=4, channels=32, num_up=2),
        discriminator=DCGANDiscriminatorConfig(img_size=16, channels=32, num_down=2),
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
    generator = dataclasses.replace(config.generator, **g_over)
    d_over.setdefault("img_size", generator.img_size)
    discriminator = dataclasses.replace(config.discriminator, **d_over)
    return dataclasses.replace(config, generator=generator, discriminator=discriminator)


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
