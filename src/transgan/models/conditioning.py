"""Class conditioning: the generator's class embedding and modulation, D's projection.

Generator (``GeneratorConfig.cond``):

- ``"adanorm"``: a learned class embedding e(y) gives every block a scale and shift for each
  of its two norms, h = norm(x)·(1 + γ(e)) + β(e) (adaptive norm as in DiT's adaLN, without
  its residual gates). The maps start at zero, so a conditional generator starts as the
  unconditional one and the class signal enters every block at every resolution.
- ``"latent"``: e(y) is concatenated to z before the first projection (the token stream
  sees the class only through the initial tokens).
- ``"both"``: the two together.

Discriminator: a projection head (Miyato & Koyama, 2018) on the final cls feature h,
logit = ψ(h) + ⟨e_D(y), h⟩.
"""

from __future__ import annotations

import torch
from torch import nn

COND_MODES = ("adanorm", "latent", "both")


class ClassEmbedding(nn.Module):
    """A learned vector per class, (B,) labels -> (B, dim)."""

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, dim)
        nn.init.normal_(self.embed.weight, std=1.0)
        self.num_classes = num_classes

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        return self.embed(labels)


class NormModulation(nn.Module):
    """Scales and shifts for a block's two norms from a class embedding; zero at init."""

    def __init__(self, cond_dim: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(cond_dim, 4 * dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, cond: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(B, E) -> four (B, 1, C) tensors: scale₁, shift₁, scale₂, shift₂."""
        return tuple(t[:, None] for t in self.proj(cond).chunk(4, dim=-1))


def modulate(h: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    return h * (1 + scale) + shift


def projection_embedding(num_classes: int, dim: int) -> nn.Embedding:
    """D's class embedding for the projection term (trunc-normal 0.02 like D's weights)."""
    embed = nn.Embedding(num_classes, dim)
    nn.init.trunc_normal_(embed.weight, std=0.02)
    return embed


def head_logit(
    head: nn.Linear, class_embed: nn.Embedding | None, h: torch.Tensor, labels: torch.Tensor | None
) -> torch.Tensor:
    """ψ(h), plus the projection term ⟨e(y), h⟩ for a conditional D: (B, C) -> (B,)."""
    logit = head(h).squeeze(-1)
    if class_embed is None:
        return logit
    return logit + (class_embed(labels) * h).sum(-1)


def check_labels(labels: torch.Tensor | None, num_classes: int, batch: int, who: str) -> None:
    """A clear error for missing or misshapen labels (not an error deep in torch). Values
    are not read here: that would synchronise the device on every step."""
    if num_classes == 0:
        if labels is not None:
            raise ValueError(f"this {who} is unconditional; do not pass labels")
        return
    if labels is None:
        raise ValueError(
            f"this {who} is class-conditional ({num_classes} classes): pass labels (B,)"
        )
    if labels.shape != (batch,):
        raise ValueError(f"labels must have shape ({batch},), got {tuple(labels.shape)}")
