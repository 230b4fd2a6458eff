"""The TransGAN v1 "memory-friendly" generator: a pure transformer, no convolution.

z -> Linear -> (bottom_width², dim) tokens -> stage 1 blocks -> [PixelShuffle(2): resolution
×2, channels ÷4 -> stage blocks] ... -> per-token Linear to RGB.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from transgan.models.layers import (
    ATTENTION_IMPLS,
    Block,
    block_flops,
    count_params,
    init_transformer_weights,
)

OUTPUT_KINDS = ("linear", "tanh")


@dataclass(frozen=True)
class GeneratorConfig:
    latent_dim: int = 1024  # size of z ~ N(0, I)
    bottom_width: int = 8  # token grid side at stage 1 (8 -> 32 px with three stages)
    dim: int = 384  # channels at stage 1; each later stage has a quarter of the one before
    depths: tuple[int, ...] = (5, 2, 2)  # transformer blocks per stage
    num_heads: int = 4  # attention heads in every block
    mlp_ratio: float = 4.0  # MLP hidden width / dim
    output: str = "linear"  # "linear" as the authors' release, or "tanh"
    attn_impl: str = "sdpa"  # "sdpa" (fused kernels) or "math" (explicit fp32 softmax)
    mtct: bool = False  # add the low-resolution token embedding used by MT-CT co-training

    def __post_init__(self) -> None:
        if len(self.depths) < 1 or any(d < 1 for d in self.depths):
            raise ValueError(f"generator depths must be >= 1 per stage, got {self.depths}")
        if self.mtct and len(self.depths) < 2:
            raise ValueError("MT-CT needs at least two generator stages")
        shrink = 4 ** (len(self.depths) - 1)
        if self.dim % shrink != 0:
            raise ValueError(
                f"generator dim must be divisible by {shrink} (4 per upsampling, "
                f"{len(self.depths)} stages), got dim={self.dim}"
            )
        for d in self.stage_dims:
            if d % self.num_heads != 0:
                raise ValueError(
                    f"generator stage dim {d} is not divisible by num_heads={self.num_heads}; "
                    f"stage dims are {self.stage_dims}: pick dim or num_heads so each divides"
                )
        if self.output not in OUTPUT_KINDS:
            raise ValueError(f"generator output must be one of {OUTPUT_KINDS}, got {self.output!r}")
        if self.attn_impl not in ATTENTION_IMPLS:
            raise ValueError(f"attn_impl must be one of {ATTENTION_IMPLS}, got {self.attn_impl!r}")
        if self.latent_dim < 1 or self.bottom_width < 1:
            raise ValueError("latent_dim and bottom_width must be positive")

    @property
    def stage_dims(self) -> tuple[int, ...]:
        return tuple(self.dim // 4**i for i in range(len(self.depths)))

    @property
    def stage_widths(self) -> tuple[int, ...]:
        return tuple(self.bottom_width * 2**i for i in range(len(self.depths)))

    @property
    def img_size(self) -> int:
        return self.stage_widths[-1]


def upsample_tokens(x: torch.Tensor, width: int) -> torch.Tensor:
    """PixelShuffle(2) on a token sequence: (B, W², C) -> (B, (2W)², C/4)."""
    x = rearrange(x, "b (h w) c -> b c h w", h=width)  # (B, N, C) -> (B, C, H, W)
    x = F.pixel_shuffle(x, 2)  # (B, C, H, W) -> (B, C/4, 2H, 2W)
    return rearrange(x, "b c h w -> b (h w) c")  # (B, C/4, 2H, 2W) -> (B, 4N, C/4)


class Generator(nn.Module):
    """TransGAN v1 generator. ``forward(z)`` returns images (B, 3, H, W)."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = c = config
        self.to_tokens = nn.Linear(c.latent_dim, c.bottom_width**2 * c.dim)
        self.pos_embeds = nn.ParameterList(
            nn.Parameter(torch.zeros(1, w * w, d))
            for w, d in zip(c.stage_widths, c.stage_dims, strict=True)
        )
        self.stages = nn.ModuleList(
            nn.ModuleList(
                Block(d, num_heads=c.num_heads, mlp_ratio=c.mlp_ratio, attn_impl=c.attn_impl)
                for _ in range(depth)
            )
            for d, depth in zip(c.stage_dims, c.depths, strict=True)
        )
        self.to_rgb = nn.Linear(c.stage_dims[-1], 3)  # the authors' 1x1 conv, as a Linear
        # MT-CT: a low-resolution image enters stage 2 through its own pixel embedding.
        self.lowres_embed = nn.Linear(3, c.stage_dims[1]) if c.mtct else None
        # Locality-aware attention masks, keyed by (stage, block); set by LocalityMasks.
        self.block_masks: dict[tuple[int, int], torch.Tensor] = {}
        self.apply(init_transformer_weights)
        for pos in self.pos_embeds:
            nn.init.trunc_normal_(pos, std=0.02)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        c = self.config
        x = self.to_tokens(z).view(z.shape[0], c.bottom_width**2, c.dim)  # (B, Z) -> (B, N, C)
        return self._run_stages(x, first_stage=0)

    def super_resolve(self, low_res: torch.Tensor) -> torch.Tensor:
        """MT-CT: feed a real image at stage 2's resolution into stage 2, finish G.

        Args:
            low_res: (B, 3, W₂, W₂) in [-1, 1], W₂ = 2·bottom_width.
        Returns:
            (B, 3, H, W), G's reconstruction at full resolution.
        """
        if self.lowres_embed is None:
            raise RuntimeError("this generator was built without MT-CT (config.mtct=False)")
        width = self.config.stage_widths[1]
        if low_res.shape[-1] != width or low_res.shape[-2] != width:
            raise ValueError(f"MT-CT input must be {width}x{width}, got {tuple(low_res.shape)}")
        pixels = rearrange(low_res, "b c h w -> b (h w) c")  # (B, 3, H, W) -> (B, N, 3)
        return self._run_stages(self.lowres_embed(pixels), first_stage=1)

    def _run_stages(self, x: torch.Tensor, first_stage: int) -> torch.Tensor:
        c = self.config
        for s in range(first_stage, len(self.stages)):
            if s > first_stage:
                x = upsample_tokens(x, c.stage_widths[s - 1])
            x = x + self.pos_embeds[s]
            for b, block in enumerate(self.stages[s]):
                x = block(x, self.block_masks.get((s, b)))
        x = self.to_rgb(x)  # (B, N, C) -> (B, N, 3)
        if c.output == "tanh":
            x = torch.tanh(x)
        return rearrange(x, "b (h w) c -> b c h w", h=c.img_size)  # (B, N, 3) -> (B, 3, H, W)

    def set_grad_checkpointing(self, enabled: bool = True) -> None:
        for stage in self.stages:
            for block in stage:
                block.grad_checkpointing = enabled

    def count_params(self) -> int:
        return count_params(self)

    def estimate_flops(self) -> int:
        """Forward FLOPs per generated image (multiply-add = 2); see ``block_flops``."""
        c = self.config
        flops = 2 * c.latent_dim * c.bottom_width**2 * c.dim
        for w, d, depth in zip(c.stage_widths, c.stage_dims, c.depths, strict=True):
            flops += depth * block_flops(w * w, d, c.mlp_ratio)
        flops += 2 * c.img_size**2 * c.stage_dims[-1] * 3
        return flops
