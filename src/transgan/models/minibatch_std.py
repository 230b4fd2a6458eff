"""Minibatch standard deviation as a token (StyleGAN's guard against mode collapse, Karras
et al. 2018 §3, in a transformer discriminator).

Images are taken in groups of ``group`` *consecutive* samples; each group's spread (the
standard deviation of every token feature over the group, averaged over features and
tokens) becomes one extra token, ``a + s·b`` with learned ``a`` and ``b``, that the next
blocks attend to. A batch of generated images that all look alike has a small spread, which
D can then see. With ``per_feature`` the spread is averaged over the tokens only, one
number per feature (the 32-px recipes' D: docs/quality.md, eleventh and twelfth rounds).
Consecutive groups keep reals and fakes apart when the loss concatenates them (each part's
size a multiple of the group), so D still runs once on both.
"""

from __future__ import annotations

import torch
from torch import nn


def group_size(batch: int, group: int) -> int:
    """The largest divisor of ``batch`` that is at most ``group``."""
    return next(g for g in range(min(group, batch), 0, -1) if batch % g == 0)


def minibatch_std(tokens: torch.Tensor, group: int, per_feature: bool = False) -> torch.Tensor:
    """(B, N, C) tokens -> (B,) spread of each sample's group (itself for a group of 1: 0);
    ``per_feature``: (B, C), each feature's spread averaged over the tokens only."""
    b = tokens.shape[0]
    g = group_size(b, group)
    grouped = tokens.float().reshape(b // g, g, *tokens.shape[1:])  # consecutive samples
    # the biased variance over the group, written out: torch's var over a short middle dim
    # is ~6× slower on a CPU (forward and backward), same numbers
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    spread = (centred.square().mean(dim=1) + 1e-8).sqrt()  # (B/g, N, C)
    spread = spread.mean(dim=1) if per_feature else spread.mean(dim=(1, 2))  # (B/g, C) or (B/g,)
    return spread.repeat_interleave(g, dim=0)  # (B,) or (B, C)


class MinibatchStdToken(nn.Module):
    """Appends the minibatch-std token: (B, N, C) -> (B, N + 1, C).

    ``per_feature``: feature c of the token is ``a_c + s_c·b_c`` with s_c the spread of
    feature c alone (StyleGAN's one number per group becomes C numbers), so D can see
    *which* features a group of fakes does not vary in."""

    def __init__(self, dim: int, group: int, per_feature: bool = False) -> None:
        super().__init__()
        self.group = group
        self.per_feature = per_feature
        self.base = nn.Parameter(torch.zeros(1, 1, dim))
        self.scale = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.base, std=0.02)
        nn.init.trunc_normal_(self.scale, std=0.02)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        spread = minibatch_std(tokens, self.group, self.per_feature).to(tokens.dtype)
        spread = spread[:, None, :] if self.per_feature else spread[:, None, None]
        token = self.base + spread * self.scale  # (B, 1, C)
        return torch.cat([tokens, token], dim=1)
