"""Model presets: a registry of small functions that return configs.

``create_model("transgan_s", g_dim=64)`` builds a generator/discriminator pair;
``list_models()`` names what is registered, in this order: the v1 presets (``v1.py``), the v2
presets (``v2.py``), the conv references (``reference.py``).
"""

# Importing the preset modules registers their presets, in this order (= list_models()).
from transgan.presets import v1, v2, vitgan, reference  # noqa: F401, I001
from transgan.presets.registry import (
    ARCHS,
    GAN,
    ModelConfig,
    arch_of,
    build_discriminator,
    build_gan,
    build_generator,
    create_model,
    get_config,
    list_models,
    register_preset,
)

__all__ = [
    "ARCHS",
    "GAN",
    "ModelConfig",
    "arch_of",
    "build_discriminator",
    "build_gan",
    "build_generator",
    "create_model",
    "get_config",
    "list_models",
    "register_preset",
]
