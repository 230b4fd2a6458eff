"""Networks: the transformer blocks, the TransGAN generator and discriminator."""

from transgan.models.discriminator import Discriminator, DiscriminatorConfig
from transgan.models.generator import Generator, GeneratorConfig

__all__ = ["Discriminator", "DiscriminatorConfig", "Generator", "GeneratorConfig"]
