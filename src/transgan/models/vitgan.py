"""The ViTGAN generator (Lee et al., ICLR 2022, §4.2), read from the paper and its official
code (mlpc-ucsd/ViTGAN); no convolution anywhere.

z -> mapping network -> style w
Fourier features of the token grid's coordinates -> (grid², dim) tokens, the same for every
image -> blocks [h' = h + MSA(SLN(h, w)), h = h' + MLP(SLN(h', w))] -> SLN(h, w)
-> the implicit patch decoder: each token's feature, through its own mapping network, is the
style of a small per-pixel modulated MLP over Fourier features of the pixel coordinates
inside its patch (CIPS), whose RGB fills that patch.

SLN (self-modulated LayerNorm): LayerNorm without affine (eps 1e-3), then ·(1 + γ(w)) + β(w).
Attention: L2 distance with tied query/key (the paper's Lipschitz attention, lipschitz.py),
and improved spectral norm on the attention and MLP weights, as in the official generator.

The official code computes two things differently from the paper; ``attention="code"`` and
``residual="normed"`` compute what it computes (so that its checkpoints import exactly,
interop/vitgan_checkpoint.py) and are off in our presets:
- its logits are T/√d·(mean(q_i²) − 2·q_i·k_j + mean(q_j²)) with an untied k and a learned
  temperature T — not −‖q_i − k_j‖²/√d;
- its residuals are added to the normalised input: h' = SLN(h) + MSA(SLN(h)).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from torch.nn.utils import parametrize

from transgan.models.fields import check_fields
from transgan.models.init import count_params
from transgan.models.layers import ATTENTION_IMPLS, NoiseInjection, math_attention
from transgan.models.lipschitz import ImprovedSpectralNorm, l2_attention
from transgan.models.sdpa import sdpa
from transgan.models.style import (
    EqualLinear,
    FourierFeatures,
    MappingNetwork,
    ModulatedLinear,
    coordinate_grid,
    lrelu_gain,
)

VITGAN_ATTENTIONS = ("l2", "dot", "code")
VITGAN_RESIDUALS = ("input", "normed")


@dataclass(frozen=True)
class ViTGANGeneratorConfig:
    latent_dim: int = 384  # width of z and of the style w
    img_size: int = 32  # side of the generated image
    grid: int = 8  # token grid side; each token decodes a (img_size/grid)² patch
    dim: int = 384  # token width
    depth: int = 4  # transformer blocks
    num_heads: int = 6
    mlp_ratio: float = 4.0
    mapping_layers: int = 8  # z -> w
    mapping_lr: float = 0.01  # learning-rate multiplier of both mapping networks
    attention: str = "l2"  # "l2" (tied q/k), "dot", or "code" (the official code's logits)
    residual: str = "input"  # "input" (the paper's) or "normed" (the official code's)
    spectral_norm: bool = True  # improved spectral norm on attention and MLP weights
    decoder_dim: int = 512  # width of the per-pixel modulated MLP
    decoder_pairs: int = 1  # pairs of modulated layers after the first, each with an RGB out
    decoder_mapping_layers: int = 4  # token feature -> the patch's style
    decoder_noise: bool = True  # per-pixel noise in the decoder (gains start at 0)
    attn_impl: str = "sdpa"  # "sdpa" (fused kernels) or "math" (explicit fp32 softmax)

    def __post_init__(self) -> None:
        check_fields(
            self,
            "ViTGAN generator",
            positive=(
                "latent_dim",
                "img_size",
                "grid",
                "dim",
                "depth",
                "num_heads",
                "mlp_ratio",
                "mapping_lr",
                "decoder_dim",
            ),
        )
        if self.img_size % self.grid:
            raise ValueError(
                f"ViTGAN img_size {self.img_size} must be a multiple of the token grid side "
                f"{self.grid} (each token decodes one square patch)"
            )
        if self.dim % self.num_heads:
            raise ValueError(f"ViTGAN dim {self.dim} is not divisible by {self.num_heads} heads")
        if self.attention not in VITGAN_ATTENTIONS:
            raise ValueError(
                f"attention must be one of {VITGAN_ATTENTIONS}, got {self.attention!r}"
            )
        if self.residual not in VITGAN_RESIDUALS:
            raise ValueError(f"residual must be one of {VITGAN_RESIDUALS}, got {self.residual!r}")
        if self.attn_impl not in ATTENTION_IMPLS:
            raise ValueError(f"attn_impl must be one of {ATTENTION_IMPLS}, got {self.attn_impl!r}")
        for name in ("mapping_layers", "decoder_mapping_layers"):
            if getattr(self, name) < 0:
                raise ValueError(f"ViTGAN {name} must be >= 0, got {getattr(self, name)}")
        if self.decoder_pairs < 1:
            raise ValueError("ViTGAN decoder_pairs must be >= 1 (each pair ends in an RGB output)")

    @property
    def patch(self) -> int:
        return self.img_size // self.grid

    @property
    def num_tokens(self) -> int:
        return self.grid * self.grid


def spectrally_normed(layer: EqualLinear, enabled: bool) -> EqualLinear:
    """``layer`` with improved spectral norm on its weight (W·σ(W₀)/σ(W)) when ``enabled``."""
    if enabled:
        parametrize.register_parametrization(layer, "weight", ImprovedSpectralNorm(layer.weight))
    return layer


class SelfModulatedLayerNorm(nn.Module):
    """LN(x)·(1 + γ(w)) + β(w): LayerNorm without affine, its scale and shift from the style."""

    def __init__(self, dim: int, style_dim: int) -> None:
        super().__init__()
        self.gamma = EqualLinear(style_dim, dim)
        self.beta = EqualLinear(style_dim, dim)
        self.dim = dim

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """x (B, N, C), w (B, S) -> (B, N, C)."""
        normed = F.layer_norm(x, (self.dim,), eps=1e-3)
        return normed * (1 + self.gamma(w)[:, None]) + self.beta(w)[:, None]


class ViTGANAttention(nn.Module):
    """Multi-head self-attention of the ViTGAN generator (module docstring: the kinds)."""

    def __init__(self, dim: int, num_heads: int, kind: str, impl: str, sn: bool) -> None:
        super().__init__()
        self.num_heads, self.kind, self.impl = num_heads, kind, impl
        self.parts = 2 if kind == "l2" else 3  # l2: q (= k) and v
        width = self.parts * dim
        self.qkv = spectrally_normed(EqualLinear(dim, width, bias=False), sn)
        self.proj = spectrally_normed(EqualLinear(dim, dim), sn)
        self.temperature = nn.Parameter(torch.ones(1)) if kind == "code" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        heads = rearrange(self.qkv(x), "b n (k h d) -> k b h n d", k=self.parts, h=self.num_heads)
        if self.kind == "l2":
            out = l2_attention(heads[0], heads[1], None, self.impl)
        elif self.kind == "dot" and self.impl == "math":
            out = math_attention(heads[0], heads[1], heads[2])
        elif self.kind == "dot":
            out = sdpa(heads[0], heads[1], heads[2])
        else:
            out = code_attention(heads[0], heads[1], heads[2], self.temperature)
        return self.proj(rearrange(out, "b h n d -> b n (h d)"))


def code_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, temperature: torch.Tensor
) -> torch.Tensor:
    """The official code's logits T/√d·(mean(q_i²) − 2·q_i·k_j + mean(q_j²)), softmax over j.

    mean(q_i²) is the same for every key of row i, which a softmax ignores; the rest is one
    dot product of q′ = [−2q, 1] and k′ = [k, mean(q²)], so SDPA computes it.
    """
    scale = q.shape[-1] ** -0.5
    q_aug = torch.cat([-2 * q, torch.ones_like(q[..., :1])], dim=-1) * temperature
    k_aug = torch.cat([k, q.square().mean(-1, keepdim=True)], dim=-1)
    return sdpa(q_aug, k_aug, v, scale=scale)


class ViTGANBlock(nn.Module):
    """SLN -> attention -> residual, SLN -> MLP (SiLU) -> residual."""

    def __init__(self, c: ViTGANGeneratorConfig) -> None:
        super().__init__()
        sn = c.spectral_norm
        hidden = int(c.dim * c.mlp_ratio)
        self.norm1 = SelfModulatedLayerNorm(c.dim, c.latent_dim)
        self.attn = ViTGANAttention(c.dim, c.num_heads, c.attention, c.attn_impl, sn)
        self.norm2 = SelfModulatedLayerNorm(c.dim, c.latent_dim)
        self.fc1 = spectrally_normed(EqualLinear(c.dim, hidden), sn)
        self.fc2 = spectrally_normed(EqualLinear(hidden, c.dim), sn)
        self.residual_from_normed = c.residual == "normed"

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        normed = self.norm1(x, w)
        x = (normed if self.residual_from_normed else x) + self.attn(normed)
        normed = self.norm2(x, w)
        return (normed if self.residual_from_normed else x) + self.fc2(F.silu(self.fc1(normed)))


class ModulatedLayer(nn.Module):
    """ModulatedLinear -> per-pixel noise (gain from 0) -> + bias -> lrelu·√2."""

    def __init__(self, in_features: int, out_features: int, style_dim: int, noise: bool) -> None:
        super().__init__()
        self.linear = ModulatedLinear(in_features, out_features, style_dim)
        self.noise = NoiseInjection() if noise else None
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        x = self.linear(x, style)
        if self.noise is not None:
            x = self.noise(x)  # one value per pixel: x is (rows, pixels, C)
        return lrelu_gain(x + self.bias)


class ToRGB(nn.Module):
    """A modulated linear map to RGB without demodulation, plus a bias."""

    def __init__(self, in_features: int, style_dim: int) -> None:
        super().__init__()
        self.linear = ModulatedLinear(in_features, 3, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.linear(x, style) + self.bias


class PatchDecoder(nn.Module):
    """Tokens (B, grid², dim) -> images (B, 3, H, W), each token painting its own patch.

    Per token: style = mapping(feature); the patch's P² pixels start as Fourier features of
    their coordinates in [-1, 1]² and go through the first modulated layer, then pairs of
    modulated layers, each pair adding its RGB (a modulated linear without demodulation,
    + bias) to the output.
    """

    def __init__(self, c: ViTGANGeneratorConfig) -> None:
        super().__init__()
        self.grid, self.patch = c.grid, c.patch
        self.mapping = MappingNetwork(c.dim, c.decoder_mapping_layers, c.mapping_lr)
        self.fourier = FourierFeatures(c.dim)
        self.first = ModulatedLayer(c.dim, c.decoder_dim, c.dim, c.decoder_noise)
        self.layers = nn.ModuleList(
            ModulatedLayer(c.decoder_dim, c.decoder_dim, c.dim, c.decoder_noise)
            for _ in range(2 * c.decoder_pairs)
        )
        self.to_rgbs = nn.ModuleList(ToRGB(c.decoder_dim, c.dim) for _ in range(c.decoder_pairs))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        b, n, dim = tokens.shape
        style = self.mapping(tokens.reshape(b * n, dim))  # one style per patch (B·N, dim)
        pixels = self.fourier(coordinate_grid(self.patch, tokens.device))  # (P², dim)
        x = self.first(pixels.expand(b * n, -1, -1), style)  # (B·N, P², D)
        rgb = torch.zeros((), device=tokens.device)
        for i, to_rgb in enumerate(self.to_rgbs):
            x = self.layers[2 * i + 1](self.layers[2 * i](x, style), style)
            rgb = rgb + to_rgb(x, style)
        # (B·N, P², 3) -> (B, 3, H, W): patch (r, c) of the grid holds token r·grid + c
        return rearrange(
            rgb,
            "(b gh gw) (ph pw) c -> b c (gh ph) (gw pw)",
            gh=self.grid,
            gw=self.grid,
            ph=self.patch,
        )


class ViTGANGenerator(nn.Module):
    """``forward(z)`` returns images (B, 3, H, W) in about [-1, 1] (linear output)."""

    def __init__(self, config: ViTGANGeneratorConfig) -> None:
        super().__init__()
        self.config = c = config
        self.mapping = MappingNetwork(c.latent_dim, c.mapping_layers, c.mapping_lr)
        self.fourier = FourierFeatures(c.dim)  # the input tokens: features of the grid
        self.blocks = nn.ModuleList(ViTGANBlock(c) for _ in range(c.depth))
        self.norm = SelfModulatedLayerNorm(c.dim, c.latent_dim)
        self.decoder = PatchDecoder(c)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is not None:
            raise ValueError("the ViTGAN generator is unconditional: it takes no class labels")
        c = self.config
        w = self.mapping(z)  # (B, S)
        tokens = self.fourier(coordinate_grid(c.grid, z.device))  # (N, C), no batch
        x = tokens.expand(z.shape[0], -1, -1)
        for block in self.blocks:
            x = block(x, w)
        return self.decoder(self.norm(x, w))

    def count_params(self) -> int:
        return count_params(self)

    def estimate_flops(self) -> int:
        """Forward FLOPs of one image (a multiply-add counts as 2): every matmul, Fourier
        projections included; norms, softmax, activations, noise and the spectral norms'
        matrix-vector products (per weight, not per image) left out."""
        c = self.config
        n, d, s, p2 = c.num_tokens, c.dim, c.latent_dim, c.patch**2
        hidden = int(d * c.mlp_ratio)
        flops = 2 * c.mapping_layers * s * s + 2 * n * 2 * d  # mapping, grid features
        qkv = 2 if c.attention == "l2" else 3
        # logits q·kᵀ over all heads: 2·N·N·C; the code's kernel adds one column per head
        logits = 2 * n * n * (d + (c.num_heads if c.attention == "code" else 0))
        per_block = (
            2 * 2 * 2 * s * d  # the two SLNs' γ and β
            + 2 * n * d * qkv * d
            + logits
            + 2 * n * n * d  # weights · v
            + 2 * n * d * d  # the output projection
            + 2 * 2 * n * d * hidden
        )
        flops += c.depth * per_block + 2 * 2 * s * d  # the final SLN
        dd = c.decoder_dim
        flops += n * 2 * c.decoder_mapping_layers * d * d + 2 * p2 * 2 * d  # styles, features
        layers = [(d, dd)] + [(dd, dd)] * (2 * c.decoder_pairs)
        for fan_in, fan_out in layers:  # modulation, demodulation, the per-pixel map
            flops += n * (2 * d * fan_in + 2 * fan_in * fan_out + p2 * 2 * fan_in * fan_out)
        flops += c.decoder_pairs * n * (2 * d * dd + p2 * 2 * dd * 3)
        return flops
