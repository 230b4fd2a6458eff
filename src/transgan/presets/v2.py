"""TransGAN v2 (SPEC-v2): the authors' later configurations, ours at 64 and 128 px, and
small v2 models for the CPU."""

from __future__ import annotations

from transgan.models.discriminator import DiscriminatorConfig, MultiScaleDiscriminatorConfig
from transgan.models.generator import GeneratorConfig
from transgan.presets.registry import ModelConfig, register_preset


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
def transgan2_mnist() -> ModelConfig:
    """32px MNIST (ours): a G of 4² → 8² tokens (two blocks at 4², one at 8²) whose tokens
    up-sample by "expand" — each token's learned Linear to four children of half its width,
    128 → 64 → 32 (PixelShuffle's 128 → 32 → 32 left 8² at a quarter of the width: median
    MNIST-FID at 300 s 110 against 142 over five seeds run side by side) — to 16² tokens with
    no block there, then a bicubic ×2 to 32² and a tanh output: from 8² on, a smooth linear
    decoder to pixels, not stages of attention on 256 or 1,024 tokens (a windowed block at
    16² cost 1.22× the iteration and did no better in the same time: docs/quality.md, ninth
    round); the patch D reads 8-px patches (16 tokens: with mnist-pure's overlap, 16-px
    windows, as digits-pure's D reads 8-px windows at 16 px; 4-px patches, 64 tokens, cost
    2.2× the iteration time and did no better per second). docs/quality.md: the sweeps (2×2
    patches per token, ``out_patch=2``, drew checkerboards)."""
    return ModelConfig(
        name="transgan2_mnist",
        generator=GeneratorConfig(
            latent_dim=64,
            bottom_width=4,
            dim=128,
            depths=(2, 1, 0, 0),
            num_heads=2,
            upsample=("expand", "expand", "bicubic"),
            output="tanh",
        ),
        discriminator=DiscriminatorConfig(img_size=32, patch_size=8, dim=64, depth=2),
        dataset="mnist",
    )
