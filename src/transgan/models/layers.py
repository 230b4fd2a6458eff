"""The transformer pieces that both TransGAN networks are built from.

Read top to bottom: attention, MLP, the pre-norm block, then weight initialisation.
Every block in G and D is the same: pre-LayerNorm, multi-head self-attention (qkv without
bias, output projection with bias, scale head_dim^-0.5), residual, pre-LayerNorm, MLP with
ratio 4 and exact (erf) GELU, residual.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from torch.utils.checkpoint import checkpoint

ATTENTION_IMPLS = ("sdpa", "math")


# ---------------------------------------------------------------------------------------
# Attention
# ---------------------------------------------------------------------------------------


def math_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """softmax(q·kᵀ·scale)·v computed explicitly in fp32, as the authors' code does.

    Args:
        q, k, v: (B, heads, N, head_dim).
        attn_mask: optional boolean (N, N); True where a query may see a key.
    Returns:
        (B, heads, N, head_dim) in the dtype of ``q``.
    """
    scale = q.shape[-1] ** -0.5
    scores = (q.float() @ k.float().transpose(-2, -1)) * scale  # (B, h, N, N)
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    return (weights @ v.float()).to(q.dtype)


class Attention(nn.Module):
    """Multi-head self-attention with an optional boolean attention mask."""

    def __init__(self, dim: int, *, num_heads: int, impl: str = "sdpa") -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(
                f"attention dim must be divisible by num_heads, got dim={dim} and "
                f"num_heads={num_heads}; choose a dim that is a multiple of {num_heads}"
            )
        if impl not in ATTENTION_IMPLS:
            raise ValueError(f"attention impl must be one of {ATTENTION_IMPLS}, got {impl!r}")
        self.num_heads = num_heads
        self.impl = impl
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        # (B, N, 3C) -> 3 x (B, heads, N, head_dim)
        q, k, v = rearrange(
            self.qkv(x), "b n (three h d) -> three b h n d", three=3, h=self.num_heads
        )
        if self.impl == "sdpa":
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        else:
            out = math_attention(q, k, v, attn_mask)
        out = rearrange(out, "b h n d -> b n (h d)")  # (B, heads, N, d) -> (B, N, C)
        return self.proj(out)


# ---------------------------------------------------------------------------------------
# MLP and block
# ---------------------------------------------------------------------------------------


class MLP(nn.Module):
    """Linear -> exact GELU -> Linear."""

    def __init__(self, dim: int, *, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # erf form, as in the paper's code
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer encoder block."""

    def __init__(
        self, dim: int, *, num_heads: int, mlp_ratio: float = 4.0, attn_impl: str = "sdpa"
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads=num_heads, impl=attn_impl)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, mlp_ratio=mlp_ratio)
        self.grad_checkpointing = False

    def _body(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), attn_mask)
        return x + self.mlp(self.norm2(x))

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.grad_checkpointing and torch.is_grad_enabled():
            return checkpoint(self._body, x, attn_mask, use_reentrant=False)
        return self._body(x, attn_mask)


def block_flops(num_tokens: int, dim: int, mlp_ratio: float = 4.0) -> int:
    """Forward FLOPs of one Block on one image (a multiply-add counts as 2).

    qkv 2·N·C·3C, projection 2·N·C·C, MLP 2·2·N·C·(ratio·C), q·kᵀ and weights·v 2·2·N²·C.
    Norms, softmax, GELU and residual adds are element-wise and left out.
    """
    n, c = num_tokens, dim
    hidden = int(c * mlp_ratio)
    linear = 2 * n * c * 3 * c + 2 * n * c * c + 2 * 2 * n * c * hidden
    attention = 2 * 2 * n * n * c
    return linear + attention


# ---------------------------------------------------------------------------------------
# Initialisation
# ---------------------------------------------------------------------------------------


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
