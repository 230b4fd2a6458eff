"""TransGAN: a GAN whose generator and discriminator are both pure transformers."""

from transgan.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from transgan.presets import GAN, ModelConfig, build_gan, create_model, get_config, list_models

__version__ = "0.1.0"

__all__ = [
    "GAN",
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "ModelConfig",
    "build_gan",
    "create_model",
    "get_config",
    "list_models",
]
