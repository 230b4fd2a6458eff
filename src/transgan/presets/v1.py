"""The seed paper's presets (SPEC.md) and our small v1-structure models for the CPU."""

from __future__ import annotations

from transgan.models.discriminator import DiscriminatorConfig
from transgan.models.generator import GeneratorConfig
from transgan.presets.registry import ModelConfig, register_preset


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
