"""Scaled-dot-product attention by the fastest path the device has for the tensors' dtype.

torch's fused SDPA is the path everywhere but one place: bf16 or fp16 tensors on a CPU.
There its fused (flash) kernel's backward ran 5.7× slower than in fp32 on `mnist-pure`'s
16-token windows (6.4 against 1.1 ms a call; Intel Xeon with AMX-BF16, torch 2.14.1,
docs/quality.md, sixth round), which made bf16 lose to fp32 for every transformer recipe on a
CPU. Two batched matmuls and a softmax in the same dtype run on the matrix units instead, so
on a CPU in low precision the attention is computed from those three ops (the matmuls
accumulate in fp32, the scores are kept in the inputs' dtype, as autocast keeps every matmul
output). fp32 anywhere, and every dtype on a GPU, goes through the fused kernel.

The softmax of rows shorter than ``SHORT_ROW`` keys runs in fp32: torch's bf16 softmax kernel
on a CPU ran its forward and backward 5× slower on rows of 16–24 keys than on rows of 32
(5.5 against 1.0 ms for 2¹⁹ scores; Intel Xeon with AMX-BF16, torch 2.14.1) — a row shorter
than one 512-bit vector of bf16 — while fp32's took 1.1 ms; the casts there and back cost less
than the difference (2.2 ms in all). From 32 keys on, bf16's kernel is as fast as fp32's and
the casts would only add (docs/quality.md, seventh round).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOW_PRECISION = (torch.bfloat16, torch.float16)
SHORT_ROW = 32


def uses_fused_kernel(q: torch.Tensor) -> bool:
    """Whether attention on ``q``'s device and dtype goes through torch's fused SDPA."""
    return not (q.device.type == "cpu" and q.dtype in LOW_PRECISION)


def sdpa(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """softmax(q·kᵀ·scale + mask)·v for (B, heads, N, d) queries and (B, heads, M, d) keys.

    ``attn_mask``: boolean (True where a query may see a key) or an additive float bias,
    broadcastable to (B, heads, N, M). ``scale`` defaults to d^-0.5, as in torch's SDPA.
    """
    if uses_fused_kernel(q):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, scale=scale)
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = (q * scale) @ k.transpose(-2, -1)  # (B, heads, N, M)
    scores = apply_mask(scores, attn_mask, scores.dtype)
    if scores.shape[-1] < SHORT_ROW:
        weights = scores.float().softmax(dim=-1).to(v.dtype)
    else:
        weights = scores.softmax(dim=-1)
    return weights @ v


def apply_mask(
    scores: torch.Tensor, mask: torch.Tensor | None, bias_dtype: torch.dtype
) -> torch.Tensor:
    """Attention logits with a mask applied: −inf where a boolean mask is False, or an
    additive float bias, cast to ``bias_dtype`` first (None: the logits unchanged)."""
    if mask is None:
        return scores
    if mask.dtype == torch.bool:
        return scores.masked_fill(~mask, float("-inf"))
    return scores + mask.to(bias_dtype)
