"""Networks: the transformer blocks, the TransGAN generator and discriminators."""

from transgan.models.discriminator import (
    Discriminator,
    DiscriminatorConfig,
    MultiScaleDiscriminator,
    MultiScaleDiscriminatorConfig,
)
from transgan.models.generator import Generator, GeneratorConfig

__all__ = [
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "MultiScaleDiscriminator",
    "MultiScaleDiscriminatorConfig",
]
