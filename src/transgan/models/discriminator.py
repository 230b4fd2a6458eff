"""The TransGAN v1 patch-level discriminator: a ViT with one logit per image.

Image -> 4x4-pixel patches -> Linear to dim -> [cls] + tokens + position embedding ->
blocks -> LayerNorm -> Linear(dim, 1) on the [cls] token.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange
from torch import nn

from transgan.models.layers import (
    ATTENTION_IMPLS,
    Block,
    block_flops,
    count_params,
    init_transformer_weights,
)


@dataclass(frozen=True)
class DiscriminatorConfig:
    img_size: int = 32  # side of the square input image in pixels
    patch_size: int = 4  # side of one patch in pixels (4 at 32, 48 and 64 px)
    dim: int = 384  # token width
    depth: int = 7  # number of transformer blocks
    num_heads: int = 4  # attention heads in every block
    mlp_ratio: float = 4.0  # MLP hidden width / dim
    attn_impl: str = "sdpa"  # "sdpa" (fused kernels) or "math" (explicit fp32 softmax)

    def __post_init__(self) -> None:
        if self.img_size % self.patch_size != 0:
            raise ValueError(
                f"discriminator img_size must be divisible by patch_size, got "
                f"{self.img_size} and {self.patch_size}"
            )
        if self.dim % self.num_heads != 0:
            raise ValueError(
                f"discriminator dim must be divisible by num_heads, got dim={self.dim} and "
                f"num_heads={self.num_heads}"
            )
        if self.depth < 1:
            raise ValueError(f"discriminator depth must be >= 1, got {self.depth}")
        if self.attn_impl not in ATTENTION_IMPLS:
            raise ValueError(f"attn_impl must be one of {ATTENTION_IMPLS}, got {self.attn_impl!r}")

    @property
    def num_patches(self) -> int:
        return (self.img_size // self.patch_size) ** 2


class Discriminator(nn.Module):
    """TransGAN v1 discriminator. ``forward(x)`` returns logits (B,)."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = c = config
        self.patch_embed = nn.Linear(3 * c.patch_size**2, c.dim)  # the authors' strided conv
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + c.num_patches, c.dim))
        self.blocks = nn.ModuleList(
            Block(c.dim, num_heads=c.num_heads, mlp_ratio=c.mlp_ratio, attn_impl=c.attn_impl)
            for _ in range(c.depth)
        )
        self.norm = nn.LayerNorm(c.dim)
        self.head = nn.Linear(c.dim, 1)
        self.apply(init_transformer_weights)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        if x.shape[-1] != c.img_size or x.shape[-2] != c.img_size:
            raise ValueError(
                f"discriminator expects {c.img_size}x{c.img_size} images, got {tuple(x.shape[-2:])}"
            )
        p = c.patch_size
        # (B, 3, H, W) -> (B, N, 3·p·p), channel-major inside a patch like a conv kernel
        patches = rearrange(x, "b c (h p1) (w p2) -> b (h w) (c p1 p2)", p1=p, p2=p)
        tokens = self.patch_embed(patches)  # (B, N, 3·p·p) -> (B, N, C)
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # (1, 1, C) -> (B, 1, C)
        tokens = torch.cat([cls, tokens], dim=1) + self.pos_embed  # (B, 1 + N, C)
        for block in self.blocks:
            tokens = block(tokens)
        return self.head(self.norm(tokens[:, 0])).squeeze(-1)  # (B, C) -> (B,)

    def set_grad_checkpointing(self, enabled: bool = True) -> None:
        for block in self.blocks:
            block.grad_checkpointing = enabled

    def count_params(self) -> int:
        return count_params(self)

    def estimate_flops(self) -> int:
        """Forward FLOPs per image (multiply-add = 2); see ``block_flops``."""
        c = self.config
        n = c.num_patches
        flops = 2 * n * 3 * c.patch_size**2 * c.dim
        flops += c.depth * block_flops(n + 1, c.dim, c.mlp_ratio)
        return flops + 2 * c.dim
