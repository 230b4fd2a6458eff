"""TransGAN discriminators: ViTs with one logit per image.

v1 (patch-level): image -> 4x4-pixel patches -> Linear to dim -> [cls] + tokens + position
embedding -> blocks -> LayerNorm -> Linear(dim, 1) on the [cls] token.
v2 (multi-scale, SPEC-v2 §4): the image is patchified at 2 or 3 scales; each scale's
tokens are pooled 2×2 and concatenated with the next scale's patches; the cls token joins
only for the final block.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from einops import rearrange
from torch import nn

from transgan.models.conditioning import check_labels, head_logit, projection_embedding
from transgan.models.fields import check_fields
from transgan.models.init import count_params, init_transformer_weights
from transgan.models.layers import (
    ATTENTION_IMPLS,
    ATTENTION_KINDS,
    NORMS,
    Block,
    block_flops,
    make_norm,
)
from transgan.models.lipschitz import apply_improved_spectral_norm
from transgan.models.minibatch_std import MinibatchStdToken
from transgan.models.token_maps import downsample_tokens, overlapping_patch_tokens

V1_HEADS = ("cls", "mean", "flatten")
POSITIONS = ("learned", "rope")
D_NORMS = ("ln", "rms")


def check_modern_options(config: DiscriminatorConfig | MultiScaleDiscriminatorConfig) -> None:
    """The GAT options of a discriminator config: norm, LayerScale, positions."""
    norms = D_NORMS if isinstance(config, DiscriminatorConfig) else NORMS
    if config.norm not in norms:
        raise ValueError(f"norm must be one of {norms}, got {config.norm!r}")
    if not (isinstance(config.layer_scale, int | float) and config.layer_scale >= 0):
        raise ValueError(f"layer_scale must be a number >= 0 (0 = off), got {config.layer_scale!r}")
    if config.pos not in POSITIONS:
        raise ValueError(f"pos must be one of {POSITIONS}, got {config.pos!r}")
    widths = config.dims if isinstance(config, MultiScaleDiscriminatorConfig) else (config.dim,)
    if config.pos == "rope" and any((w // config.num_heads) % 4 for w in widths):
        raise ValueError(
            f"pos='rope' needs a head width (dim / num_heads) divisible by 4, got "
            f"{[w // config.num_heads for w in widths]}"
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
    num_classes: int = 0  # > 0: class-conditional, with a projection head (conditioning.py)
    # ViTGAN's discriminator (lipschitz.py); all off in the paper's presets
    attn_kind: str = "dot"  # "dot", or "l2": −‖q − k‖² logits with tied query/key weights
    spectral_norm: bool = False  # improved spectral norm W·σ(W₀)/σ(W) on every weight
    patch_overlap: bool = False  # read each p-px patch through a 2p window (stride p)
    mbstd_group: int = 0  # > 0: a minibatch-std token (groups of this many) before the last block
    mbstd_per_feature: bool = False  # the token carries each feature's spread, not their mean
    # what the logit is read from: "cls" (the cls token, the paper's), "mean" (the mean of
    # the patch tokens) or "flatten" (a Linear on all patch tokens, position-aware)
    head: str = "cls"
    # GAT's transformer discriminator (Scalable GAN with Transformers, 2025); all off in the
    # paper's presets
    norm: str = "ln"  # "ln" (LayerNorm, the paper's) or "rms" (RMSNorm), also the final norm
    qk_norm: bool = False  # RMSNorm of each head's queries and keys
    layer_scale: float = 0.0  # LayerScale: per-channel residual gains from this value; 0 = off
    pos: str = "learned"  # "learned" position embeddings, or "rope" (2-D rotary, none learned)

    def __post_init__(self) -> None:
        check_fields(
            self,
            "discriminator",
            positive=("img_size", "patch_size", "dim", "depth", "num_heads", "mlp_ratio"),
        )
        check_modern_options(self)
        if self.mbstd_group < 0:
            raise ValueError(f"mbstd_group must be >= 0 (0 = off), got {self.mbstd_group}")
        if self.mbstd_per_feature and not self.mbstd_group:
            raise ValueError("mbstd_per_feature needs a minibatch-std token: set mbstd_group > 0")
        if self.attn_kind not in ATTENTION_KINDS:
            raise ValueError(f"attn_kind must be one of {ATTENTION_KINDS}, got {self.attn_kind!r}")
        if self.head not in V1_HEADS:
            raise ValueError(f"head must be one of {V1_HEADS}, got {self.head!r}")
        if self.patch_overlap and self.patch_size % 2:
            raise ValueError(
                f"patch_overlap needs an even patch_size (padding p/2), got {self.patch_size}"
            )
        if self.num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {self.num_classes}")
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
        if c.patch_overlap:  # 2p-wide windows, stride p, padding p/2: (H/p)² tokens
            p = c.patch_size
            self.patch_embed = nn.Conv2d(3, c.dim, kernel_size=2 * p, stride=p, padding=p // 2)
        else:
            self.patch_embed = nn.Linear(3 * c.patch_size**2, c.dim)  # the authors' conv
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.dim))
        rope = c.pos == "rope"  # the patch tokens turn in attention; the cls token does not
        self.pos_embed = None if rope else nn.Parameter(torch.zeros(1, 1 + c.num_patches, c.dim))
        self.blocks = nn.ModuleList(
            Block(
                c.dim,
                num_heads=c.num_heads,
                mlp_ratio=c.mlp_ratio,
                attn_impl=c.attn_impl,
                attn_kind=c.attn_kind,
                norm=c.norm,
                qk_norm=c.qk_norm,
                layer_scale=c.layer_scale,
                rope_grid=c.img_size // c.patch_size if rope else 0,
                rope_start=1,
            )
            for _ in range(c.depth)
        )
        self.mbstd = (
            MinibatchStdToken(c.dim, c.mbstd_group, c.mbstd_per_feature) if c.mbstd_group else None
        )
        self.norm = make_norm(c.norm, c.dim)
        self.head = nn.Linear(c.dim * (c.num_patches if c.head == "flatten" else 1), 1)
        self.class_embed = (
            projection_embedding(c.num_classes, self.head.in_features) if c.num_classes else None
        )
        self.apply(init_transformer_weights)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        if self.pos_embed is not None:
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        if c.spectral_norm:  # after init: σ(W₀) is the spectral norm of the initial weights
            apply_improved_spectral_norm(self, equalized=True)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B,) of images (B, 3, H, W); a conditional D also takes labels (B,)."""
        c = self.config
        check_labels(labels, c.num_classes, x.shape[0], "discriminator")
        if x.shape[-1] != c.img_size or x.shape[-2] != c.img_size:
            raise ValueError(
                f"discriminator expects {c.img_size}x{c.img_size} images, got {tuple(x.shape[-2:])}"
            )
        p = c.patch_size
        if c.patch_overlap:  # (B, 3, H, W) -> (B, N, C); the conv's weight, from p×p blocks
            weight = self.patch_embed.weight.flatten(1)  # (C, 3, 2p, 2p) -> (C, 3·2p·2p)
            tokens = overlapping_patch_tokens(x, weight, self.patch_embed.bias, p)
        else:
            # (B, 3, H, W) -> (B, N, 3·p·p), channel-major inside a patch like a conv kernel
            patches = rearrange(x, "b c (h p1) (w p2) -> b (h w) (c p1 p2)", p1=p, p2=p)
            tokens = self.patch_embed(patches)  # (B, N, 3·p·p) -> (B, N, C)
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # (1, 1, C) -> (B, 1, C)
        tokens = torch.cat([cls, tokens], dim=1)  # (B, 1 + N, C)
        if self.pos_embed is not None:
            tokens = tokens + self.pos_embed
        for i, block in enumerate(self.blocks):
            if self.mbstd is not None and i == c.depth - 1:
                tokens = self.mbstd(tokens)  # (B, 1 + N, C) -> (B, 2 + N, C)
            tokens = block(tokens)
        if c.head == "cls":
            h = self.norm(tokens[:, 0])  # (B, C)
        else:
            patch_tokens = self.norm(tokens[:, 1 : 1 + c.num_patches])  # (B, N, C)
            h = patch_tokens.mean(1) if c.head == "mean" else patch_tokens.flatten(1)
        return head_logit(self.head, self.class_embed, h, labels)  # (B, C or N·C) -> (B,)

    def set_grad_checkpointing(self, enabled: bool = True) -> None:
        for block in self.blocks:
            block.grad_checkpointing = enabled

    def count_params(self) -> int:
        return count_params(self)

    def estimate_flops(self) -> int:
        """Forward FLOPs per image (multiply-add = 2); see ``block_flops``."""
        c = self.config
        n = c.num_patches
        window = 2 * c.patch_size if c.patch_overlap else c.patch_size
        flops = 2 * n * 3 * window**2 * c.dim
        kind = c.attn_kind
        flops += (c.depth - 1) * block_flops(n + 1, c.dim, c.mlp_ratio, attn_kind=kind)
        flops += block_flops(n + 1 + bool(c.mbstd_group), c.dim, c.mlp_ratio, attn_kind=kind)
        return flops + 2 * self.head.in_features


# ---------------------------------------------------------------------------------------
# TransGAN v2: the multi-scale discriminator (SPEC-v2 §4)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MultiScaleDiscriminatorConfig:
    img_size: int = 32  # side of the square input image
    patch_size: int = 2  # patch side p of scale 1; scale k reads patches of p·2^(k−1)
    scale_dims: tuple[int, ...] = (288, 96)  # channels each scale's patchifier adds
    depths: tuple[int, ...] = (3, 3)  # blocks per scale (before the final cls block)
    windows: tuple[int, ...] = ()  # attention window side per scale; 0 = global; () = global
    global_tail: tuple[int, ...] = ()  # windowed scales: trailing blocks that attend globally
    rel_bias: bool = True  # relative position bias over each attended square
    noise: bool = True  # noise injection on every attention input (incl. the last block)
    norm: str = "ln"  # "ln" (LayerNorm), "pn" (PixelNorm) or "rms" (RMSNorm), also final
    overlap_first: bool = False  # scale 1 reads 2p-wide patches with stride p (CelebA-HQ)
    head: str = "cls"  # "cls": cls token + last block (the authors'); "flatten": Linear on
    # all final tokens (position-aware, like DCGAN's head; no cls token, no last block)
    num_heads: int = 4  # attention heads in every block
    mlp_ratio: float = 4.0  # MLP hidden width / dim
    attn_impl: str = "sdpa"  # "sdpa" (fused kernels) or "math" (explicit fp32 softmax)
    num_classes: int = 0  # > 0: class-conditional, with a projection head (conditioning.py)
    mbstd_group: int = 0  # > 0: a minibatch-std token (groups of this many) in the cls block
    # ViTGAN's discriminator (lipschitz.py), as in the v1 D; off in the authors' presets
    attn_kind: str = "dot"  # "dot", or "l2": −‖q − k‖² logits with tied query/key weights
    spectral_norm: bool = False  # improved spectral norm W·σ(W₀)/σ(W) on every weight
    # GAT's transformer discriminator, as in the v1 D (norm "rms" above); off in the presets
    qk_norm: bool = False  # RMSNorm of each head's queries and keys
    layer_scale: float = 0.0  # LayerScale: per-channel residual gains from this value; 0 = off
    pos: str = "learned"  # "learned" position embeddings, or "rope" (2-D rotary, none learned)

    def __post_init__(self) -> None:
        check_fields(
            self,
            "discriminator",
            positive=("img_size", "patch_size", "scale_dims", "num_heads", "mlp_ratio"),
        )
        if self.mbstd_group < 0:
            raise ValueError(f"mbstd_group must be >= 0 (0 = off), got {self.mbstd_group}")
        if self.mbstd_group and self.head != "cls":
            raise ValueError("mbstd_group needs head='cls' (the token joins the final cls block)")
        if self.num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {self.num_classes}")
        n = len(self.scale_dims)
        if n < 1 or len(self.depths) != n:
            raise ValueError(
                f"scale_dims and depths need one entry per scale, got {self.scale_dims} "
                f"and {self.depths}"
            )
        for name, values in (("windows", self.windows), ("global_tail", self.global_tail)):
            if values and len(values) != n:
                raise ValueError(f"{name} needs one entry per scale ({n}), got {values}")
        coarsest = self.patch_size * 2 ** (n - 1)
        if self.img_size % coarsest:
            raise ValueError(
                f"img_size {self.img_size} must be divisible by the coarsest patch {coarsest} "
                f"(patch_size {self.patch_size}, {n} scales)"
            )
        if self.overlap_first and self.patch_size % 2:
            raise ValueError("overlap_first needs an even patch_size (padding p/2)")
        for w, side in zip(self.scale_windows, self.grids, strict=True):
            if w < 0 or (w and side % w):
                raise ValueError(f"window {w} must divide its scale's token grid side {side}")
        for d in self.dims:
            if d % self.num_heads:
                raise ValueError(f"discriminator dim {d} is not divisible by {self.num_heads}")
        if any(d < 1 for d in self.depths):
            raise ValueError(f"discriminator depths must be >= 1, got {self.depths}")
        check_modern_options(self)
        if self.attn_impl not in ATTENTION_IMPLS:
            raise ValueError(f"attn_impl must be one of {ATTENTION_IMPLS}, got {self.attn_impl!r}")
        if self.attn_kind not in ATTENTION_KINDS:
            raise ValueError(f"attn_kind must be one of {ATTENTION_KINDS}, got {self.attn_kind!r}")
        if self.head not in ("cls", "flatten"):
            raise ValueError(f"head must be 'cls' or 'flatten', got {self.head!r}")

    @property
    def scale_windows(self) -> tuple[int, ...]:
        return self.windows or (0,) * len(self.scale_dims)

    @property
    def tails(self) -> tuple[int, ...]:
        return self.global_tail or (0,) * len(self.scale_dims)

    @property
    def grids(self) -> tuple[int, ...]:
        """Token grid side per scale."""
        return tuple(self.img_size // (self.patch_size * 2**k) for k in range(len(self.depths)))

    @property
    def dims(self) -> tuple[int, ...]:
        """Token width per scale: each scale concatenates its patchifier's channels."""
        return tuple(itertools.accumulate(self.scale_dims))


class Patchify(nn.Module):
    """A strided conv over patches, as a Linear on unfolded patches: (B, 3, H, W) -> (B, N, C).

    ``overlap``: patches of 2p with stride p and padding p/2 (the CelebA-HQ D's first scale).
    """

    def __init__(self, patch: int, dim: int, overlap: bool = False) -> None:
        super().__init__()
        self.patch, self.overlap = patch, overlap
        kernel = 2 * patch if overlap else patch
        self.proj = nn.Linear(3 * kernel * kernel, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.patch
        if self.overlap:
            return overlapping_patch_tokens(x, self.proj.weight, self.proj.bias, p)
        patches = rearrange(x, "b c (h p1) (w p2) -> b (h w) (c p1 p2)", p1=p, p2=p)
        return self.proj(patches)


class MultiScaleDiscriminator(nn.Module):
    """TransGAN v2 discriminator. ``forward(x)`` returns logits (B,).

    Scale k patchifies the image at patch p·2^(k−1); after a scale's blocks its tokens are
    2×2 average-pooled and concatenated (channels) with the next scale's patches. The cls
    token enters only before the final single block, without position embedding.
    """

    def __init__(self, config: MultiScaleDiscriminatorConfig) -> None:
        super().__init__()
        self.config = c = config
        self.patchify = nn.ModuleList(
            Patchify(c.patch_size * 2**k, d, overlap=c.overlap_first and k == 0)
            for k, d in enumerate(c.scale_dims)
        )
        rope = c.pos == "rope"
        self.pos_embeds = nn.ParameterList(
            []
            if rope
            else (
                nn.Parameter(torch.zeros(1, g * g, d)) for g, d in zip(c.grids, c.dims, strict=True)
            )
        )

        def block(dim: int, grid: int, window: int, rel: bool, start: int = 0) -> Block:
            return Block(
                dim,
                num_heads=c.num_heads,
                mlp_ratio=c.mlp_ratio,
                attn_impl=c.attn_impl,
                norm=c.norm,
                grid=grid,
                window=window,
                rel_bias=rel,
                noise=c.noise,
                attn_kind=c.attn_kind,
                qk_norm=c.qk_norm,
                layer_scale=c.layer_scale,
                rope_grid=(grid or c.grids[-1]) if rope else 0,
                rope_start=start,
            )

        self.scales = nn.ModuleList(
            nn.ModuleList(
                block(d, g, w if i < depth - tail else 0, c.rel_bias) for i in range(depth)
            )
            for d, g, w, depth, tail in zip(
                c.dims, c.grids, c.scale_windows, c.depths, c.tails, strict=True
            )
        )
        final = c.dims[-1]
        flatten = c.head == "flatten"
        self.cls_token = None if flatten else nn.Parameter(torch.zeros(1, 1, final))
        self.last_block = None if flatten else block(final, 0, 0, False, start=1)
        self.mbstd = MinibatchStdToken(final, c.mbstd_group) if c.mbstd_group else None
        self.norm = make_norm(c.norm, final)
        self.head = nn.Linear(final * (c.grids[-1] ** 2 if flatten else 1), 1)
        self.class_embed = (
            projection_embedding(c.num_classes, self.head.in_features) if c.num_classes else None
        )
        self.apply(init_transformer_weights)
        if self.cls_token is not None:
            nn.init.trunc_normal_(self.cls_token, std=0.02)
        for pos in self.pos_embeds:
            nn.init.trunc_normal_(pos, std=0.02)
        if c.spectral_norm:  # after init: σ(W₀) is the spectral norm of the initial weights
            apply_improved_spectral_norm(self, equalized=True)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B,) of images (B, 3, H, W); a conditional D also takes labels (B,)."""
        c = self.config
        check_labels(labels, c.num_classes, x.shape[0], "discriminator")
        if x.shape[-1] != c.img_size or x.shape[-2] != c.img_size:
            raise ValueError(
                f"discriminator expects {c.img_size}x{c.img_size} images, got {tuple(x.shape[-2:])}"
            )
        tokens = None
        for k, blocks in enumerate(self.scales):
            patches = self.patchify[k](x)  # (B, 3, H, W) -> (B, g_k², scale_dims[k])
            if tokens is not None:  # (B, g_{k-1}², C) -> (B, g_k², C) -> concat channels
                tokens = downsample_tokens(tokens, c.grids[k - 1])
                patches = torch.cat([tokens, patches], dim=-1)
            tokens = patches + self.pos_embeds[k] if len(self.pos_embeds) else patches
            for blk in blocks:
                tokens = blk(tokens)
        if self.cls_token is None:  # flatten head: (B, N, C) -> (B, N·C) -> (B,)
            return head_logit(self.head, self.class_embed, self.norm(tokens).flatten(1), labels)
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # (1, 1, C) -> (B, 1, C)
        tokens = torch.cat([cls, tokens], dim=1)  # (B, 1 + N, C)
        if self.mbstd is not None:
            tokens = self.mbstd(tokens)  # (B, 1 + N, C) -> (B, 2 + N, C)
        tokens = self.last_block(tokens)
        h = self.norm(tokens[:, 0])  # (B, C)
        return head_logit(self.head, self.class_embed, h, labels)  # (B, C) -> (B,)

    def set_grad_checkpointing(self, enabled: bool = True) -> None:
        for blk in itertools.chain.from_iterable(self.scales):
            blk.grad_checkpointing = enabled
        if self.last_block is not None:
            self.last_block.grad_checkpointing = enabled

    def count_params(self) -> int:
        return count_params(self)

    def estimate_flops(self) -> int:
        """Forward FLOPs per image (multiply-add = 2); see ``block_flops``."""
        c = self.config
        flops = 0
        for k, (g, d, w, depth, tail) in enumerate(
            zip(c.grids, c.dims, c.scale_windows, c.depths, c.tails, strict=True)
        ):
            layer = self.patchify[k].proj
            flops += 2 * g * g * layer.in_features * layer.out_features
            kind = c.attn_kind
            flops += (depth - tail) * block_flops(g * g, d, c.mlp_ratio, window=w, attn_kind=kind)
            flops += tail * block_flops(g * g, d, c.mlp_ratio, attn_kind=kind)
        if c.head == "flatten":
            return flops + 2 * self.head.in_features
        last = c.grids[-1] ** 2 + 1 + bool(c.mbstd_group)
        flops += block_flops(last, c.dims[-1], c.mlp_ratio, attn_kind=c.attn_kind)
        return flops + 2 * c.dims[-1]
