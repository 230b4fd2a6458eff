"""Weight initialisation of the transformer networks, and parameter counting."""

from __future__ import annotations

from torch import nn


def init_pytorch_default(module: nn.Module) -> None:
    """Linear layers keep PyTorch's default init (the authors' v2 generators); LayerNorm 1/0."""
    if isinstance(module, nn.Linear):
        module.reset_parameters()
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def init_transformer_weights(module: nn.Module) -> None:
    """Linear: trunc-normal(0.02) weights, zero bias. LayerNorm: weight 1, bias 0."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def count_params(module: nn.Module) -> int:
    """Number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())
