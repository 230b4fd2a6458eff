"""TransGAN: a GAN whose generator and discriminator are both pure transformers."""

from transgan.models import (
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
    MultiScaleDiscriminator,
    MultiScaleDiscriminatorConfig,
)
from transgan.presets import GAN, ModelConfig, build_gan, create_model, get_config, list_models
from transgan.snapshot import load_generator
from transgan.snapshot import read_snapshot as load_snapshot

__version__ = "0.3.1"

__all__ = [
    "GAN",
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "ModelConfig",
    "MultiScaleDiscriminator",
    "MultiScaleDiscriminatorConfig",
    "build_gan",
    "create_model",
    "get_config",
    "list_models",
    "load_generator",
    "load_snapshot",
]
