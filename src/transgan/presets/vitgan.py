"""ViTGAN (Lee et al., ICLR 2022): its transformer generator (models/vitgan.py) with the ViT
discriminator the paper describes — overlapping patches, L2 attention with tied query/key,
improved spectral norm — built from our discriminator's options (the official code ships
this generator only with a StyleGAN2 conv discriminator)."""

from __future__ import annotations

from transgan.models.discriminator import DiscriminatorConfig
from transgan.models.vitgan import ViTGANGeneratorConfig
from transgan.presets.registry import ModelConfig, register_preset


def _vit_d(img_size: int, patch_size: int, dim: int, depth: int, heads: int) -> DiscriminatorConfig:
    """The paper's ViT D: patches of p px read through 2p windows (stride p), L2 attention
    with tied q/k, improved spectral norm on every weight, the logit from the cls token."""
    return DiscriminatorConfig(
        img_size=img_size,
        patch_size=patch_size,
        dim=dim,
        depth=depth,
        num_heads=heads,
        attn_kind="l2",
        spectral_norm=True,
        patch_overlap=True,
    )


@register_preset
def vitgan_cifar10() -> ModelConfig:
    """CIFAR-10 32px: G and D of width 384, 6 heads, 4 blocks; 4×4 patches on an 8×8 grid
    (the paper's CIFAR sizes; the decoder as the official code's: width 512, one pair)."""
    return ModelConfig(
        name="vitgan_cifar10",
        generator=ViTGANGeneratorConfig(latent_dim=384, img_size=32, grid=8, dim=384, depth=4),
        discriminator=_vit_d(32, 4, 384, 4, 6),
        dataset="cifar10",
        paper="ViTGAN (ViT D): IS 9.30 / FID 6.66",
    )


@register_preset
def vitgan_celeba64() -> ModelConfig:
    """Faces 64px: the CIFAR model with 8×8 patches on the 8×8 grid (the official code's
    64-px generator keeps the 8×8 grid and width 384); D reads 8-px patches."""
    return ModelConfig(
        name="vitgan_celeba64",
        generator=ViTGANGeneratorConfig(latent_dim=384, img_size=64, grid=8, dim=384, depth=4),
        discriminator=_vit_d(64, 8, 384, 4, 6),
        dataset="celeba",
        paper="(sizes: the official 64-px generator)",
    )


@register_preset
def vitgan_digits() -> ModelConfig:
    """16px digits on the CPU (ours): a 4×4 grid of 4×4 patches, width 96, 2 blocks, a
    decoder of width 64; D: the paper's ViT D at width 64, 2 blocks."""
    return ModelConfig(
        name="vitgan_digits",
        generator=ViTGANGeneratorConfig(
            latent_dim=64,
            img_size=16,
            grid=4,
            dim=96,
            depth=2,
            num_heads=2,
            mapping_layers=4,
            decoder_dim=64,
            decoder_mapping_layers=2,
        ),
        discriminator=_vit_d(16, 4, 64, 2, 2),
        dataset="digits",
    )


@register_preset
def vitgan_tiny() -> ModelConfig:
    """A toy ViTGAN pair at 16px for CPU tests (not from the paper)."""
    return ModelConfig(
        name="vitgan_tiny",
        generator=ViTGANGeneratorConfig(
            latent_dim=16,
            img_size=16,
            grid=4,
            dim=32,
            depth=1,
            num_heads=2,
            mapping_layers=2,
            decoder_dim=16,
            decoder_mapping_layers=1,
        ),
        discriminator=_vit_d(16, 4, 32, 1, 2),
        dataset="digits",
    )
