"""Token maps — the W×W grid of tokens that every stage of G and D works on: how a D reads
an image into one, how it splits into attention windows, where its tokens sit (2-D rotary
positions), and how it is up- and down-sampled between stages.

Tokens are (B, N, C) with N = W·W in row-major order; a map as an image is (B, C, W, W).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

# ---------------------------------------------------------------------------------------
# Images to tokens
# ---------------------------------------------------------------------------------------


def overlapping_patch_tokens(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, patch: int
) -> torch.Tensor:
    """Each p-px patch read through the 2p-px window around it (stride p, padding p/2), as a
    strided conv computes it, but from non-overlapping blocks: the padded image splits into
    p×p blocks, every block meets the four quarters of the kernel in one matmul, and a token
    adds the quarter-products of the 2×2 blocks its window covers. No im2col copy of each
    pixel four times — on a CPU its forward and backward (R1's double backward too) ran
    1.4–1.9× unfold + matmul's speed in bf16 and 1.0–1.2× in fp32, which in turn beat the conv
    (docs/quality.md, fourth and seventh rounds).

    x (B, c, H, W), weight (C, c·2p·2p) channel-major like a conv kernel -> (B, (H/p)², C).
    """
    if patch % 2 or x.shape[-1] % patch or x.shape[-2] % patch:
        raise ValueError(
            f"overlapping patches of {patch} px need an even patch size that divides the "
            f"image ({x.shape[-2]}x{x.shape[-1]})"
        )
    quarters = rearrange(  # (C, c, 2p, 2p) -> (4·C, c·p·p), quarter (dy, dx) outermost
        weight.view(weight.shape[0], x.shape[1], 2 * patch, 2 * patch),
        "o c (dy ky) (dx kx) -> (dy dx o) (c ky kx)",
        dy=2,
        dx=2,
    )
    padded = F.pad(x, (patch // 2,) * 4)  # (B, c, H + p, W + p): (H/p + 1)² blocks
    blocks = rearrange(padded, "b c (h ky) (w kx) -> b h w (c ky kx)", ky=patch, kx=patch)
    parts = F.linear(blocks, quarters).unflatten(-1, (4, -1))  # (B, h+1, w+1, 4, C)
    tokens = (
        parts[:, :-1, :-1, 0] + parts[:, :-1, 1:, 1] + parts[:, 1:, :-1, 2] + parts[:, 1:, 1:, 3]
    )  # (B, h, w, C): the window at (i, j) covers blocks (i..i+1, j..j+1)
    tokens = tokens.flatten(1, 2)
    return tokens if bias is None else tokens + bias


# ---------------------------------------------------------------------------------------
# Windows
# ---------------------------------------------------------------------------------------


def window_partition(x: torch.Tensor, width: int, window: int) -> torch.Tensor:
    """Split a W×W token map into non-overlapping w×w windows (row-major, batch outermost).

    (B, W·W, C) -> (B·(W/w)², w·w, C).
    """
    if width % window:
        raise ValueError(f"window {window} must divide the token grid side {width}")
    return rearrange(
        x, "b (hn wy wn wx) c -> (b hn wn) (wy wx) c", hn=width // window, wy=window, wx=window
    )


def window_merge(x: torch.Tensor, width: int, window: int) -> torch.Tensor:
    """Inverse of ``window_partition``: (B·(W/w)², w·w, C) -> (B, W·W, C)."""
    n = width // window
    return rearrange(
        x, "(b hn wn) (wy wx) c -> b (hn wy wn wx) c", hn=n, wn=n, wy=window, wx=window
    )


# ---------------------------------------------------------------------------------------
# 2-D rotary position embedding
# ---------------------------------------------------------------------------------------


def rotate_halves(x: torch.Tensor) -> torch.Tensor:
    """The 90° turn of every (real, imaginary) pair of ``x`` (…, d): the first half of the
    last dim holds the row axis' pairs (a, b) and the second the column axis' (c, e), each as
    two quarters; returns (−b, a, −e, c)."""
    a, b, c, e = x.chunk(4, dim=-1)
    return torch.cat([-b, a, -e, c], dim=-1)


class Rotary2D(nn.Module):
    """2-D rotary position embedding (RoPE; axial, as GAT's transformer GAN uses it) for the
    tokens of a grid×grid map, in place of learned positions.

    Half of each head's channels turn by angles y·θ_k of the token's row y, the other half
    by x·θ_k of its column x, θ_k = base^(−k/(d/4)), k < d/4. q·k of two turned vectors then
    depends on their offset only. The map's tokens are the ``start``-th onwards (before them
    e.g. a cls token, after them e.g. a minibatch-std token: both are left as they are).
    With ``window`` < grid the table is laid out as ``window_partition`` lays out tokens.
    The tables are buffers that are not saved (they follow from the sizes).
    """

    def __init__(
        self, grid: int, head_dim: int, *, window: int = 0, start: int = 0, base: float = 100.0
    ) -> None:
        super().__init__()
        if head_dim % 4:
            raise ValueError(
                f"2-D rotary embedding needs a head width divisible by 4, got {head_dim}"
            )
        quarter = head_dim // 4
        theta = base ** (-torch.arange(quarter, dtype=torch.float64) / quarter)  # (d/4,)
        rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
        y = rows.flatten()[:, None] * theta  # (N, d/4), tokens row-major
        x = cols.flatten()[:, None] * theta
        angles = torch.cat([y, y, x, x], dim=-1).float()[None]  # (1, N, d)
        if window and window < grid:
            angles = window_partition(angles, grid, window)  # (nW, w², d)
        self.start = start
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Turn the map's tokens of q or k (B', heads, n, d); B' = B · (windows per map)."""
        tables, m = self.cos.shape[0], self.cos.shape[1]
        s = self.start
        body = x[:, :, s : s + m]  # (B', h, m, d)
        grouped = body.reshape(-1, tables, *body.shape[1:])  # (B, tables, h, m, d)
        cos = self.cos[None, :, None].to(x.dtype)  # (1, tables, 1, m, d)
        sin = self.sin[None, :, None].to(x.dtype)
        turned = (grouped * cos + rotate_halves(grouped) * sin).reshape(body.shape)
        return torch.cat([x[:, :, :s], turned, x[:, :, s + m :]], dim=2)


# ---------------------------------------------------------------------------------------
# Token up- and down-sampling (tokens <-> maps)
# ---------------------------------------------------------------------------------------


@functools.cache
def _bicubic_matrix(n: int) -> torch.Tensor:
    """(n, 2n): row k holds the weights of input k in each of the 2n outputs of PyTorch's
    bicubic ×2 (align_corners=False, edges clamped) along one axis — the library's own
    weights, read off by up-sampling the identity."""
    eye = torch.eye(n, dtype=torch.float64).reshape(n, 1, 1, n)
    up = F.interpolate(eye, scale_factor=(1, 2), mode="bicubic", align_corners=False)
    return up.reshape(n, 2 * n)


def bicubic_up2(x: torch.Tensor) -> torch.Tensor:
    """``F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)`` for (B, C,
    H, W), as two small matmuls with that kernel's separable weights: the same numbers (to
    float rounding), but a backward that is two matmuls, where the library kernel's backward
    is a slow scalar loop on a CPU (the largest single item of a digits-pure iteration's
    profile, docs/quality.md)."""
    h, w = x.shape[-2:]
    along_w = _bicubic_matrix(w).to(device=x.device, dtype=x.dtype)  # (W, 2W)
    along_h = _bicubic_matrix(h).to(device=x.device, dtype=x.dtype).T  # (2H, H)
    return along_h @ (x @ along_w)  # (B, C, H, W) -> (B, C, H, 2W) -> (B, C, 2H, 2W)


def upsample_tokens(x: torch.Tensor, width: int, op: str = "pixel") -> torch.Tensor:
    """×2 up-sampling of a W×W token map (B, W², C):

    - ``pixel``: PixelShuffle(2) -> (B, (2W)², C/4); output channel c at offset (i, j)
      takes input channel 4c + 2i + j;
    - ``bicubic``: bicubic ×2 (align_corners=False) -> (B, (2W)², C);
    - ``updown``: bicubic ×4 then 4×4 average pooling (a parameter-free smoothing at the
      same size), then PixelShuffle(2) -> (B, (2W)², C/4).
    """
    x = rearrange(x, "b (h w) c -> b c h w", h=width)  # (B, N, C) -> (B, C, H, W)
    if op == "bicubic":
        x = bicubic_up2(x)
    else:
        if op == "updown":
            x = F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)
            x = F.avg_pool2d(x, 4)  # (B, C, 4H, 4W) -> (B, C, H, W)
        x = F.pixel_shuffle(x, 2)  # (B, C, H, W) -> (B, C/4, 2H, 2W)
    return rearrange(x, "b c h w -> b (h w) c")  # (B, C', 2H, 2W) -> (B, 4N, C')


def downsample_tokens(x: torch.Tensor, width: int) -> torch.Tensor:
    """2×2 average pooling of a W×W token map: (B, W², C) -> (B, (W/2)², C)."""
    x = rearrange(x, "b (h w) c -> b c h w", h=width)  # (B, N, C) -> (B, C, H, W)
    return rearrange(F.avg_pool2d(x, 2), "b c h w -> b (h w) c")  # -> (B, N/4, C)
