"""Style-based pieces of the ViTGAN generator (StyleGAN2 and CIPS, from their papers).

- ``EqualLinear``: a Linear whose weight is stored as N(0, 1)/lr_mul and scaled at run time
  by lr_mul/√fan_in ("equalised learning rate"); lr_mul 0.01 slows the mapping network.
- ``MappingNetwork``: PixelNorm, then Linear + leaky ReLU (slope 0.2, gain √2) layers: z -> w.
- ``FourierFeatures``: sin(W·(x, y) + b) of 2-D coordinates on [-1, 1] with W drawn wide
  (uniform ±√(9/2)), the "learned Fourier features" of CIPS and ViTGAN.
- ``ModulatedLinear``: a per-pixel linear layer modulated by a style (StyleGAN2's 1×1
  modulated convolution): inputs scaled by s = A(style), outputs demodulated by
  1/√(Σᵢ (Wₒᵢ·sᵢ)² + 1e-8). Written as scale-then-matmul, never as per-sample weights: the
  same numbers without a (rows, out, in) weight tensor.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LRELU_GAIN = math.sqrt(2.0)


def pixel_norm(x: torch.Tensor) -> torch.Tensor:
    """x / √(mean(x²) + 1e-8) over the last dimension."""
    return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + 1e-8)


def lrelu_gain(x: torch.Tensor) -> torch.Tensor:
    """leaky ReLU (slope 0.2) times √2, StyleGAN2's activation."""
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


class EqualLinear(nn.Module):
    """y = x·(W·lr_mul/√in)ᵀ + (b·lr_mul + bias_init); W ~ N(0, 1)/lr_mul, b = 0.

    ``bias=False`` keeps no bias at all, ``bias_init`` included (the official code keeps a
    frozen zero vector).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        lr_mul: float = 1.0,
        bias: bool = True,
        bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.lr_mul, self.bias_init = lr_mul, bias_init
        self.scale = lr_mul / math.sqrt(in_features)

    def effective_weight(self) -> torch.Tensor:
        return self.weight * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias * self.lr_mul + self.bias_init
        return F.linear(x, self.effective_weight(), bias)


class MappingNetwork(nn.Module):
    """z (…, width) -> w (…, width): PixelNorm, then ``depth`` × (EqualLinear, lrelu·√2)."""

    def __init__(self, width: int, depth: int, lr_mul: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EqualLinear(width, width, lr_mul=lr_mul) for _ in range(depth))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(z)
        for layer in self.layers:
            x = lrelu_gain(layer(x))
        return x


def coordinate_grid(side: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(side², 2) raster-ordered (x, y) coordinates on [-1, 1]; x runs along a row."""
    axis = torch.linspace(-1.0, 1.0, side, device=device)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x.flatten(), y.flatten()], dim=-1)


class FourierFeatures(nn.Module):
    """(…, 2) coordinates -> (…, dim) features sin(W·c + b), W ~ U(±√(9/2)), b ~ U(±1/√2)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(2, dim)
        nn.init.uniform_(self.proj.weight, -math.sqrt(9 / 2), math.sqrt(9 / 2))
        nn.init.uniform_(self.proj.bias, -1 / math.sqrt(2), 1 / math.sqrt(2))

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.proj(coords))


class ModulatedLinear(nn.Module):
    """Per-pixel linear map modulated by one style per row of pixels.

    ``forward(x, style)``: x (R, M, in) — R rows (an image, or one patch), M pixels each —
    and style (R, style_dim) give (R, M, out).
    """

    def __init__(
        self, in_features: int, out_features: int, style_dim: int, demodulate: bool = True
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.scale = 1 / math.sqrt(in_features)
        self.modulation = EqualLinear(style_dim, in_features, bias_init=1.0)
        self.demodulate = demodulate

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        s = self.modulation(style)  # (R, in)
        weight = self.weight * self.scale  # (out, in)
        out = (x * s[:, None, :]) @ weight.t()  # (R, M, in) -> (R, M, out)
        if self.demodulate:  # 1/‖W·diag(s)‖ per output channel and row
            demod = torch.rsqrt(s.square() @ weight.square().t() + 1e-8)  # (R, out)
            out = out * demod[:, None, :]
        return out
