"""The TransGAN generator, v1 and v2: a pure transformer, no convolution.

z -> Linear -> (bottom_width², dim) tokens -> stage 1 blocks -> [upsample ×2 -> + position
embedding -> stage blocks] ... -> per-token Linear to RGB.

One class, driven by a per-stage plan in ``GeneratorConfig``: the v1 "memory-friendly"
generator is the default plan (PixelShuffle between stages, global attention, LayerNorm);
the authors' later generators (SPEC-v2 §3) are other plans — bicubic or "updown"
up-sampling, attention in windows in the high-resolution stages, relative position bias,
noise injection, PixelNorm, and cross-attention to a latent memory (CelebA-HQ) — and ours:
"expand" up-sampling, a learned per-token Linear to four child tokens (what a 2×2,
stride-2 transposed convolution computes, written on tokens).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange
from torch import nn

from transgan.models.conditioning import (
    COND_MODES,
    ClassEmbedding,
    NormModulation,
    check_labels,
)
from transgan.models.fields import check_fields
from transgan.models.init import count_params, init_pytorch_default, init_transformer_weights
from transgan.models.layers import (
    ATTENTION_IMPLS,
    NORMS,
    Block,
    block_flops,
)
from transgan.models.token_maps import upsample_tokens

OUTPUT_KINDS = ("linear", "tanh")
# how each op changes the channels: ÷4, kept, ÷4 (after smoothing), ÷2 (learned)
UPSAMPLE_OPS = ("pixel", "bicubic", "updown", "expand")
CHANNEL_DIVISORS = {"pixel": 4, "bicubic": 1, "updown": 4, "expand": 2}
INITS = ("trunc_normal", "pytorch")


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
    # --- v2 plan (SPEC-v2 §3); the defaults give v1 ---
    upsample: tuple[str, ...] = ()  # op before each stage after the first: UPSAMPLE_OPS; ()=pixel
    windows: tuple[int, ...] = ()  # attention window side per stage; 0 = global; () = global
    rel_bias: bool = False  # relative position bias over each attended square
    noise: bool = False  # noise injection on every attention input
    norm: str = "ln"  # "ln" (LayerNorm) or "pn" (PixelNorm)
    cross_attention: bool = False  # every block first attends to a latent memory (CelebA-HQ)
    init: str = "trunc_normal"  # Linear init: "trunc_normal" (0.02) or "pytorch" (default)
    num_classes: int = 0  # > 0: class-conditional (conditioning.py)
    cond: str = "both"  # how the class enters: "adanorm" (every block), "latent" (z), "both"
    cond_dim: int = 32  # width of the class embedding (docs/conditional.md: the ablation)
    # pixels per token side at the output: each last-stage token emits an out_patch² patch
    # (a Linear to 3·out_patch² values, unpatchified) — 32 px from a 16² stage instead of a
    # 1,024-token one; 1 = one pixel per token (the paper's)
    out_patch: int = 1

    def __post_init__(self) -> None:
        check_fields(
            self,
            "generator",
            positive=(
                "latent_dim",
                "bottom_width",
                "dim",
                "num_heads",
                "mlp_ratio",
                "cond_dim",
                "out_patch",
            ),
        )
        stages = len(self.depths)
        if stages < 1 or any(d < 0 for d in self.depths) or sum(self.depths) < 1:
            raise ValueError(
                f"generator depths must be >= 0 per stage with at least one block, "
                f"got {self.depths}"
            )
        if self.upsample and len(self.upsample) != stages - 1:
            raise ValueError(
                f"upsample needs one op per stage after the first ({stages - 1}), "
                f"got {self.upsample}"
            )
        if any(op not in UPSAMPLE_OPS for op in self.upsample):
            raise ValueError(f"upsample ops must be among {UPSAMPLE_OPS}, got {self.upsample}")
        if self.windows and len(self.windows) != stages:
            raise ValueError(f"windows needs one entry per stage ({stages}), got {self.windows}")
        for w, width in zip(self.stage_windows, self.stage_widths, strict=True):
            if w < 0 or (w and width % w):
                raise ValueError(
                    f"window {w} must divide its stage's token grid side {width}; "
                    f"grids are {self.stage_widths}"
                )
        if self.mtct and stages < 2:
            raise ValueError("MT-CT needs at least two generator stages")
        dim = self.dim
        for op in self.upsample_ops:
            if dim % CHANNEL_DIVISORS[op]:
                raise ValueError(
                    f"generator dim {self.dim} must halve or quarter evenly at every "
                    f"up-sampling (plan {self.upsample_ops}); {dim} channels cannot go "
                    f"through {op!r}, which divides them by {CHANNEL_DIVISORS[op]}"
                )
            dim //= CHANNEL_DIVISORS[op]
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
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        if self.cond not in COND_MODES:
            raise ValueError(f"cond must be one of {COND_MODES}, got {self.cond!r}")
        if self.num_classes < 0 or self.cond_dim < 1:
            raise ValueError("num_classes must be >= 0 and cond_dim >= 1")
        if self.num_classes and self.mtct:
            raise ValueError("MT-CT is not defined for a class-conditional generator")
        if self.latent_dim < 1 or self.bottom_width < 1:
            raise ValueError("latent_dim and bottom_width must be positive")

    @property
    def upsample_ops(self) -> tuple[str, ...]:
        return self.upsample or ("pixel",) * (len(self.depths) - 1)

    @property
    def stage_windows(self) -> tuple[int, ...]:
        return self.windows or (0,) * len(self.depths)

    @property
    def stage_dims(self) -> tuple[int, ...]:
        dims = [self.dim]
        for op in self.upsample_ops:
            dims.append(dims[-1] // CHANNEL_DIVISORS[op])
        return tuple(dims)

    @property
    def stage_widths(self) -> tuple[int, ...]:
        return tuple(self.bottom_width * 2**i for i in range(len(self.depths)))

    @property
    def img_size(self) -> int:
        return self.stage_widths[-1] * self.out_patch


class Generator(nn.Module):
    """TransGAN generator (v1 or v2 by its plan). ``forward(z)`` returns images (B, 3, H, W).

    Parameter names follow v1 (``to_tokens``, ``pos_embeds.{s}``, ``stages.{s}.{b}``,
    ``to_rgb``), so every v1 snapshot loads; v2 adds ``memory_embed`` and ``memory_pos``
    (cross-attention) and per-block bias tables and noise gains.
    """

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = c = config
        self.class_embed = ClassEmbedding(c.num_classes, c.cond_dim) if c.num_classes else None
        in_latent, in_blocks = c.cond in ("latent", "both"), c.cond in ("adanorm", "both")
        latent_in = c.latent_dim + (c.cond_dim if c.num_classes and in_latent else 0)
        block_cond = c.cond_dim if c.num_classes and in_blocks else 0
        self.to_tokens = nn.Linear(latent_in, c.bottom_width**2 * c.dim)
        # CelebA-HQ: a second embedding of z is the memory every block attends to.
        memory_tokens = c.bottom_width**2 if c.cross_attention else 0
        self.memory_embed = (
            nn.Linear(c.latent_dim, memory_tokens * c.dim) if c.cross_attention else None
        )
        self.memory_pos = (
            nn.Parameter(torch.zeros(1, memory_tokens, c.dim)) if c.cross_attention else None
        )
        self.pos_embeds = nn.ParameterList(
            nn.Parameter(torch.zeros(1, w * w, d))
            for w, d in zip(c.stage_widths, c.stage_dims, strict=True)
        )
        self.stages = nn.ModuleList(
            nn.ModuleList(
                Block(
                    d,
                    num_heads=c.num_heads,
                    mlp_ratio=c.mlp_ratio,
                    attn_impl=c.attn_impl,
                    norm=c.norm,
                    grid=w,
                    window=win,
                    rel_bias=c.rel_bias,
                    noise=c.noise,
                    memory_dim=c.dim if c.cross_attention else 0,
                    cond_dim=block_cond,
                )
                for _ in range(depth)
            )
            for d, w, win, depth in zip(
                c.stage_dims, c.stage_widths, c.stage_windows, c.depths, strict=True
            )
        )
        # "expand": each token's Linear to its four children (2·C values, C/2 each), then
        # PixelShuffle places them; stages with another op hold a parameter-free Identity
        self.expands = nn.ModuleList(
            nn.Linear(d, 2 * d) if op == "expand" else nn.Identity()
            for d, op in zip(c.stage_dims, c.upsample_ops, strict=False)
        )
        # the authors' 1x1 conv as a Linear; with out_patch p, each token's p×p pixels
        self.to_rgb = nn.Linear(c.stage_dims[-1], 3 * c.out_patch**2)
        # MT-CT: a low-resolution image enters stage 2 through its own pixel embedding.
        self.lowres_embed = nn.Linear(3, c.stage_dims[1]) if c.mtct else None
        # Locality-aware attention masks, keyed by (stage, block); set by LocalityMasks.
        self.block_masks: dict[tuple[int, int], torch.Tensor] = {}
        self.apply(init_transformer_weights if c.init == "trunc_normal" else init_pytorch_default)
        for pos in self.pos_embeds:
            nn.init.trunc_normal_(pos, std=0.02)
        for expand in self.expands:
            # keeps the tokens' scale: at std 0.02 two expansions shrank the content of
            # transgan2_mnist's 16² tokens ~30× below their position embedding (a G that
            # started near one image for every z: MNIST-FID 654 at 300 s, docs/quality.md)
            if isinstance(expand, nn.Linear):
                nn.init.normal_(expand.weight, std=expand.in_features**-0.5)
        for module in self.modules():  # a conditional G starts as the unconditional one
            if isinstance(module, NormModulation):
                module.reset_parameters()

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images (B, 3, H, W) from z (B, latent_dim); a conditional G also takes labels (B,)."""
        c = self.config
        check_labels(labels, c.num_classes, z.shape[0], "generator")
        cond = self.class_embed(labels) if self.class_embed is not None else None  # (B, E)
        in_latent = cond is not None and c.cond in ("latent", "both")
        z_in = torch.cat([z, cond], dim=1) if in_latent else z
        x = self.to_tokens(z_in).view(z.shape[0], c.bottom_width**2, c.dim)  # (B, N, C)
        memory = None
        if self.memory_embed is not None:  # (B, Z) -> (B, N₁, C)
            memory = self.memory_embed(z).view(z.shape[0], -1, c.dim) + self.memory_pos
        block_cond = cond if c.cond in ("adanorm", "both") else None
        return self._run_stages(x, first_stage=0, memory=memory, cond=block_cond)

    def super_resolve(self, low_res: torch.Tensor) -> torch.Tensor:
        """MT-CT: feed a real image at stage 2's resolution into stage 2, finish G.

        Args:
            low_res: (B, 3, W₂, W₂) in [-1, 1], W₂ = 2·bottom_width.
        Returns:
            (B, 3, H, W), G's reconstruction at full resolution.
        """
        if self.lowres_embed is None:
            raise RuntimeError("this generator was built without MT-CT (config.mtct=False)")
        if self.memory_embed is not None:
            raise RuntimeError("MT-CT is not defined for the cross-attention generator")
        width = self.config.stage_widths[1]
        if low_res.shape[-1] != width or low_res.shape[-2] != width:
            raise ValueError(f"MT-CT input must be {width}x{width}, got {tuple(low_res.shape)}")
        pixels = rearrange(low_res, "b c h w -> b (h w) c")  # (B, 3, H, W) -> (B, N, 3)
        return self._run_stages(self.lowres_embed(pixels), first_stage=1, memory=None)

    def _run_stages(
        self,
        x: torch.Tensor,
        first_stage: int,
        memory: torch.Tensor | None,
        cond: torch.Tensor | None = None,
    ) -> torch.Tensor:
        c = self.config
        last = len(self.stages) - 1
        colour_first = first_stage < last and self._colour_before_last_upsample
        for s in range(first_stage, last if colour_first else last + 1):
            if s > first_stage:
                x = self.upsample_into(s, x)
            x = x + self.pos_embeds[s]
            for b, block in enumerate(self.stages[s]):
                x = block(x, self.block_masks.get((s, b)), memory, cond)
        # (B, N, C) -> (B, N, 3·p²)
        x = self._upsample_colours(x) if colour_first else self.to_rgb(x)
        if c.output == "tanh":
            x = torch.tanh(x)
        p = c.out_patch  # (B, N, 3·p²) -> (B, 3, H, W): token (h, w) fills its p×p patch
        return rearrange(
            x, "b (h w) (p1 p2 c) -> b c (h p1) (w p2)", h=c.stage_widths[-1], p1=p, p2=p
        )

    def upsample_into(self, stage: int, x: torch.Tensor) -> torch.Tensor:
        """Stage ``stage - 1``'s tokens (B, N, C) up-sampled ×2 to stage ``stage``'s grid
        (B, 4N, C'), before its position embedding."""
        op = self.config.upsample_ops[stage - 1]
        if op == "expand":  # (B, N, C) -> (B, N, 2C), then PixelShuffle -> (B, 4N, C/2)
            x, op = self.expands[stage - 1](x), "pixel"
        return upsample_tokens(x, self.config.stage_widths[stage - 1], op)

    @property
    def _colour_before_last_upsample(self) -> bool:
        """A last stage with no block after a bicubic up-sampling is linear in its input:
        bicubic per channel, + position, per-token Linear. The Linear then runs first, on the
        stage before (3 channels up-sampled instead of C: a quarter of transgan2_mnist's G
        time went to the C-channel map at 32²)."""
        c = self.config
        return (
            len(c.depths) > 1
            and c.depths[-1] == 0
            and c.upsample_ops[-1] == "bicubic"
            and c.out_patch == 1
        )

    def _upsample_colours(self, x: torch.Tensor) -> torch.Tensor:
        """to_rgb(bicubic(x) + pos) as bicubic(to_rgb(x)) + to_rgb.weight·pos — the same
        numbers up to float rounding, since bicubic's weights sum to 1 along each axis."""
        c = self.config
        colours = upsample_tokens(self.to_rgb(x), c.stage_widths[-2], "bicubic")  # (B, 4N, 3)
        return colours + self.pos_embeds[-1] @ self.to_rgb.weight.T  # + (1, 4N, 3)

    def set_grad_checkpointing(self, enabled: bool = True) -> None:
        for stage in self.stages:
            for block in stage:
                block.grad_checkpointing = enabled

    def count_params(self) -> int:
        return count_params(self)

    def estimate_flops(self) -> int:
        """Forward FLOPs per generated image (multiply-add = 2); see ``block_flops``."""
        c = self.config
        memory = c.bottom_width**2 if c.cross_attention else 0
        flops = 2 * c.latent_dim * c.bottom_width**2 * c.dim * (2 if memory else 1)
        for w, d, win, depth in zip(
            c.stage_widths, c.stage_dims, c.stage_windows, c.depths, strict=True
        ):
            block = block_flops(
                w * w, d, c.mlp_ratio, window=win, memory_tokens=memory, memory_dim=c.dim
            )
            flops += depth * block
        # bicubic ×2 runs as two matmuls per channel (token_maps.bicubic_up2): W×W -> W×2W costs
        # 2·W·W·2W, then 2W×W times W×2W costs 2·2W·W·2W: 12·W³ per channel
        dims = list(c.stage_dims[1:])
        rgb_tokens = c.img_size**2
        if self._colour_before_last_upsample:  # the last bicubic moves 3 channels
            dims[-1] = 3
            rgb_tokens = c.stage_widths[-2] ** 2
        for w, d_in, d, op in zip(c.stage_widths, c.stage_dims, dims, c.upsample_ops, strict=False):
            if op == "bicubic":
                flops += 12 * d * w**3
            elif op == "expand":  # a Linear from d_in to 2·d_in on each of the w² tokens
                flops += 2 * w * w * d_in * 2 * d_in
        flops += 2 * rgb_tokens * c.stage_dims[-1] * 3
        return flops
