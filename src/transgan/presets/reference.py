"""Conv reference presets (not transformers), for the quality comparisons."""

from __future__ import annotations

from transgan.models.dcgan import DCGANDiscriminatorConfig, DCGANGeneratorConfig
from transgan.presets.registry import ModelConfig, register_preset


@register_preset
def dcgan_digits() -> ModelConfig:
    """The DCGAN-sized conv reference at 16 px (G 0.30 M, D 0.04 M; not a transformer)."""
    return ModelConfig(
        name="dcgan_digits",
        generator=DCGANGeneratorConfig(latent_dim=64, bottom_width=4, channels=32, num_up=2),
        discriminator=DCGANDiscriminatorConfig(img_size=16, channels=32, num_down=2),
        dataset="digits",
    )


@register_preset
def dcgan_mnist() -> ModelConfig:
    """The DCGAN-sized conv reference at 32 px (MNIST padded): dcgan_digits with one more
    up-sampling block in G and one more strided conv in D."""
    return ModelConfig(
        name="dcgan_mnist",
        generator=DCGANGeneratorConfig(latent_dim=64, bottom_width=4, channels=32, num_up=3),
        discriminator=DCGANDiscriminatorConfig(img_size=32, channels=32, num_down=3),
        dataset="mnist",
    )
