"""The transformer pieces that every TransGAN network (v1 and v2) is built from.

Read top to bottom: norms, relative position bias, noise injection, attention (self and
cross), MLP, the pre-norm block, then FLOPs (initialisation: init.py; windows, rotary
positions and up/down-sampling of token maps: token_maps.py).
The v1 block: pre-LayerNorm, multi-head self-attention (qkv without bias, output projection
with bias, scale head_dim^-0.5), residual, pre-LayerNorm, MLP with ratio 4 and exact (erf)
GELU, residual. v2 (SPEC-v2 §2) adds, as options of the same block: PixelNorm, attention in
non-overlapping square windows, a Swin-style relative position bias, noise injection on the
attention input, and cross-attention to a latent memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from einops import rearrange
from torch import nn
from torch.utils.checkpoint import checkpoint

from transgan.models.conditioning import NormModulation, modulate
from transgan.models.lipschitz import l2_attention
from transgan.models.sdpa import apply_mask, sdpa
from transgan.models.token_maps import Rotary2D, window_merge, window_partition

ATTENTION_IMPLS = ("sdpa", "math")
ATTENTION_KINDS = ("dot", "l2")  # dot-product, or ViTGAN's L2 distance with tied q/k
NORMS = ("ln", "pn", "rms")


# ---------------------------------------------------------------------------------------
# Norms
# ---------------------------------------------------------------------------------------


class PixelNorm(nn.Module):
    """x · rsqrt(mean_c(x²) + 1e-8) over the channel (last) dim; no parameters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=-1, keepdim=True) + 1e-8)


def make_norm(kind: str, dim: int) -> nn.Module:
    """``ln``: LayerNorm(dim) (eps 1e-5, affine); ``pn``: PixelNorm; ``rms``: RMSNorm(dim)
    (x · rsqrt(mean(x²) + 1e-6) · g, a learned gain g, no mean subtraction, no bias)."""
    if kind not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")
    if kind == "rms":
        return nn.RMSNorm(dim, eps=RMS_EPS)
    return nn.LayerNorm(dim) if kind == "ln" else PixelNorm()


RMS_EPS = 1e-6


# ---------------------------------------------------------------------------------------
# Relative position bias (windows: token_maps.py)
# ---------------------------------------------------------------------------------------


def relative_position_index(window: int) -> torch.Tensor:
    """(w², w²) int64: for tokens i=(ri,ci), j=(rj,cj) in a w×w window,
    (ri − rj + w − 1)·(2w − 1) + (ci − cj + w − 1), an index into the bias table."""
    coords = torch.stack(
        torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    ).flatten(1)  # (2, w²)
    rel = coords[:, :, None] - coords[:, None, :] + window - 1  # (2, w², w²)
    return rel[0] * (2 * window - 1) + rel[1]


class RelativePositionBias(nn.Module):
    """Swin-style learned bias per head and relative offset inside a w×w window.

    The table ((2w−1)², heads) is a parameter; the index is a non-persistent buffer (it is
    recomputed, so checkpoints do not carry it).
    """

    def __init__(self, window: int, num_heads: int) -> None:
        super().__init__()
        self.window = window
        self.table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.table, std=0.02)
        self.register_buffer("index", relative_position_index(window), persistent=False)

    def forward(self) -> torch.Tensor:
        """(heads, w², w²) bias, to add to the attention logits."""
        n = self.window**2
        return self.table[self.index.flatten()].view(n, n, -1).permute(2, 0, 1)


# ---------------------------------------------------------------------------------------
# Noise injection
# ---------------------------------------------------------------------------------------


class PerImageNoise:
    """Noise drawn image by image, each image of the batch from its own generator: an
    image's noise then does not depend on the batch it is drawn in."""

    def __init__(self, generators: list[torch.Generator]) -> None:
        self.generators = generators

    def draw(self, shape: tuple[int, ...]) -> torch.Tensor:
        """Standard normal noise of ``shape`` (B·k, …) for B images, image b's k rows from
        generator b (windowed attention puts an image's k windows side by side: the batch
        stays outermost, see ``window_partition``)."""
        images = len(self.generators)
        if shape[0] % images:
            raise ValueError(f"{images} noise generators for a batch of {shape[0]} rows")
        per_image = (shape[0] // images, *shape[1:])
        rows = [torch.randn(per_image, generator=g, device=g.device) for g in self.generators]
        return torch.cat(rows)


class NoiseInjection(nn.Module):
    """x + gain · n with one Gaussian value n per token, broadcast over channels.

    ``gain`` is one learned scalar (init 0). Noise is drawn in eval mode too, as the
    authors' models were trained and evaluated. It comes from ``self.generator`` when one is
    set (see ``noise_from``: the same seed gives the same images) and from torch's
    global RNG otherwise (training: saved and restored with the training state).
    ``enabled = False`` (``set_noise``) turns it off.
    """

    def __init__(self) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.zeros(()))
        self.enabled = True
        self.generator: torch.Generator | PerImageNoise | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        shape = (*x.shape[:-1], 1)  # (B, N, 1): one value per token
        if self.generator is None:
            noise = torch.randn(shape, device=x.device, dtype=x.dtype)
        elif isinstance(self.generator, PerImageNoise):
            noise = self.generator.draw(shape).to(device=x.device, dtype=x.dtype)
        else:
            noise = torch.randn(shape, generator=self.generator, device=self.generator.device)
            noise = noise.to(device=x.device, dtype=x.dtype)
        return x + noise * self.gain


@contextlib.contextmanager
def noise_from(module: nn.Module, rng: torch.Generator | PerImageNoise) -> Iterator[None]:
    """Inside the block, every noise injection in ``module`` draws from ``rng`` — so
    sampling is reproducible and torch's global RNG (the training state's) is untouched.
    A no-op for networks without noise."""
    modules = [m for m in module.modules() if isinstance(m, NoiseInjection)]
    for m in modules:
        m.generator = rng
    try:
        yield
    finally:
        for m in modules:
            m.generator = None


def set_noise(module: nn.Module, enabled: bool) -> None:
    """Turn every noise injection inside ``module`` on or off."""
    for m in module.modules():
        if isinstance(m, NoiseInjection):
            m.enabled = enabled


# ---------------------------------------------------------------------------------------
# Attention
# ---------------------------------------------------------------------------------------


def math_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """softmax(q·kᵀ·scale + bias)·v computed explicitly in fp32, as the authors' code does.

    Under autocast it is not fp32: autocast casts the matmuls' fp32 inputs back to its dtype,
    and the softmax runs on those scores (in that dtype, unless an additive bias promotes them).

    Args:
        q, k, v: (B, heads, N, head_dim) (k and v may have another length M).
        attn_mask: optional boolean (N, M) — True where a query may see a key — or an
            additive float bias broadcastable to (B, heads, N, M).
    Returns:
        (B, heads, N, head_dim) in the dtype of ``q``.
    """
    scale = q.shape[-1] ** -0.5
    scores = (q.float() @ k.float().transpose(-2, -1)) * scale  # (B, h, N, M)
    weights = apply_mask(scores, attn_mask, torch.float32).softmax(dim=-1)
    return (weights @ v.float()).to(q.dtype)


def _check_heads(dim: int, num_heads: int, impl: str) -> None:
    if dim % num_heads != 0:
        raise ValueError(
            f"attention dim must be divisible by num_heads, got dim={dim} and "
            f"num_heads={num_heads}; choose a dim that is a multiple of {num_heads}"
        )
    if impl not in ATTENTION_IMPLS:
        raise ValueError(f"attention impl must be one of {ATTENTION_IMPLS}, got {impl!r}")


def attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, impl: str
) -> torch.Tensor:
    """Attention on (B, heads, N, d) through SDPA (models/sdpa.py) or the explicit ``math`` path."""
    if impl == "sdpa":
        return sdpa(q, k, v, mask)
    return math_attention(q, k, v, mask)


class Attention(nn.Module):
    """Multi-head self-attention; optional boolean mask, relative bias and noise injection.

    ``rel_window`` > 0 adds a learned relative position bias over a rel_window² token set
    (the input must then have rel_window² tokens: the whole map, or one window). The bias
    enters SDPA as an additive float mask (a boolean mask becomes −inf entries in it).
    """

    def __init__(
        self,
        dim: int,
        *,
        num_heads: int,
        impl: str = "sdpa",
        rel_window: int = 0,
        noise: bool = False,
        kind: str = "dot",
        qk_norm: bool = False,
        rotary: Rotary2D | None = None,
    ) -> None:
        super().__init__()
        _check_heads(dim, num_heads, impl)
        if kind not in ATTENTION_KINDS:
            raise ValueError(f"attention kind must be one of {ATTENTION_KINDS}, got {kind!r}")
        self.num_heads = num_heads
        self.impl = impl
        self.kind = kind
        self.noise = NoiseInjection() if noise else None
        self.rel_bias = RelativePositionBias(rel_window, num_heads) if rel_window else None
        # "l2": queries and keys share one projection (ViTGAN's tied W_q = W_k)
        self.qkv = nn.Linear(dim, (2 if kind == "l2" else 3) * dim, bias=False)
        self.proj = nn.Linear(dim, dim)
        # QK-norm: RMSNorm of each head's query and key (one for the tied q = k of "l2")
        head_dim = dim // num_heads
        self.q_norm = nn.RMSNorm(head_dim, eps=RMS_EPS) if qk_norm else None
        self.k_norm = nn.RMSNorm(head_dim, eps=RMS_EPS) if qk_norm and kind != "l2" else None
        self.rotary = rotary

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.noise is not None:
            x = self.noise(x)
        # (B, N, 3C) -> 3 x (B, heads, N, head_dim); "l2": (B, N, 2C) -> q (= k), v
        parts = 2 if self.kind == "l2" else 3
        qkv = rearrange(self.qkv(x), "b n (p h d) -> p b h n d", p=parts, h=self.num_heads)
        q, *rest = qkv.unbind(0)  # unbind: qkv[i]'s backward zero-fills per part
        k, v = rest if self.kind != "l2" else (q, rest[0])  # "l2": k is q (tied)
        if self.q_norm is not None:
            q = self.q_norm(q)
            k = self.k_norm(k) if self.k_norm is not None else k
        if self.rotary is not None:
            q = self.rotary(q)
            k = self.rotary(k) if self.kind != "l2" else k
        mask = attn_mask
        if self.rel_bias is not None:
            mask = self.rel_bias().to(q.dtype)  # (heads, N, N)
            if attn_mask is not None:
                mask = mask.masked_fill(~attn_mask, float("-inf"))
        if self.kind == "l2":
            out = l2_attention(q, v, mask, self.impl)
        else:
            out = attend(q, k, v, mask, self.impl)
        out = rearrange(out, "b h n d -> b n (h d)")  # (B, heads, N, d) -> (B, N, C)
        return self.proj(out)


class CrossAttention(nn.Module):
    """Multi-head attention from tokens (B, N, C) to a memory (B, M, E); no pre-norm.

    The CelebA-HQ generator's self-modulation (SPEC-v2 §3.3): q = Wq·x, k = Wk·e, v = Wv·e
    (no biases), projection with bias. The authors' module owns a noise gain it never
    applies; here it is applied to the query input, so their weights (gain 0: it never got
    a gradient) compute the same function and every parameter is used.
    """

    def __init__(self, dim: int, memory_dim: int, *, num_heads: int, impl: str = "sdpa"):
        super().__init__()
        _check_heads(dim, num_heads, impl)
        self.num_heads, self.impl = num_heads, impl
        self.noise = NoiseInjection()
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(memory_dim, dim, bias=False)
        self.v = nn.Linear(memory_dim, dim, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        h = self.num_heads
        q = rearrange(self.q(self.noise(x)), "b n (h d) -> b h n d", h=h)  # (B, h, N, d)
        k = rearrange(self.k(memory), "b m (h d) -> b h m d", h=h)  # (B, h, M, d)
        v = rearrange(self.v(memory), "b m (h d) -> b h m d", h=h)
        out = attend(q, k, v, None, self.impl)
        return self.proj(rearrange(out, "b h n d -> b n (h d)"))


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
    """Pre-norm transformer encoder block, v1 by default; v2 options:

    - ``norm``: "ln" (LayerNorm) or "pn" (PixelNorm);
    - ``window`` > 0: self-attention inside non-overlapping window×window squares of the
      ``grid``×``grid`` token map (``grid`` must then be given; 0 = global attention);
    - ``rel_bias``: relative position bias over the attended square (window, or the map);
    - ``noise``: noise injection on the attention input;
    - ``memory_dim`` > 0: cross-attention to a memory first (``x ← x + CrossAttn(x, e)``);
    - ``cond_dim`` > 0: class-conditional scale and shift after each norm (``conditioning``);
    - ``attn_kind``: "dot" (softmax of q·kᵀ) or "l2" (ViTGAN: −‖q − k‖², tied q/k; lipschitz.py);
    - ``norm`` "rms", ``qk_norm``, ``layer_scale`` and ``rope_grid`` (GAT's transformer
      discriminator): RMSNorm; RMSNorm of each head's queries and keys; learned per-channel
      gains on both residual branches, initialised to ``layer_scale`` (0 = none); a 2-D
      rotary embedding of the ``rope_grid``² map's tokens (from ``rope_start`` on).
    """

    def __init__(
        self,
        dim: int,
        *,
        num_heads: int,
        mlp_ratio: float = 4.0,
        attn_impl: str = "sdpa",
        norm: str = "ln",
        grid: int = 0,
        window: int = 0,
        rel_bias: bool = False,
        noise: bool = False,
        memory_dim: int = 0,
        cond_dim: int = 0,
        attn_kind: str = "dot",
        qk_norm: bool = False,
        layer_scale: float = 0.0,
        rope_grid: int = 0,
        rope_start: int = 0,
    ) -> None:
        super().__init__()
        if (window or rel_bias) and grid < 1:
            raise ValueError("a windowed or relative-bias block needs its token grid side")
        if window and grid % window:
            raise ValueError(f"window {window} must divide the token grid side {grid}")
        self.grid, self.window = grid, (0 if window == grid else window)
        rel_window = (window or grid) if rel_bias else 0
        self.cross = (
            CrossAttention(dim, memory_dim, num_heads=num_heads, impl=attn_impl)
            if memory_dim
            else None
        )
        self.norm1 = make_norm(norm, dim)
        rotary = None
        if rope_grid:
            rotary = Rotary2D(rope_grid, dim // num_heads, window=self.window, start=rope_start)
        self.attn = Attention(
            dim,
            num_heads=num_heads,
            impl=attn_impl,
            rel_window=rel_window,
            noise=noise,
            kind=attn_kind,
            qk_norm=qk_norm,
            rotary=rotary,
        )
        self.norm2 = make_norm(norm, dim)
        self.mlp = MLP(dim, mlp_ratio=mlp_ratio)
        self.modulation = NormModulation(cond_dim, dim) if cond_dim else None
        if layer_scale < 0:
            raise ValueError(f"layer_scale must be >= 0 (0 = off), got {layer_scale}")
        self.gamma_attn = nn.Parameter(torch.full((dim,), layer_scale)) if layer_scale else None
        self.gamma_mlp = nn.Parameter(torch.full((dim,), layer_scale)) if layer_scale else None
        self.grad_checkpointing = False

    def _body(
        self,
        x: torch.Tensor,
        attn_mask: torch.Tensor | None,
        memory: torch.Tensor | None,
        cond: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if self.cross is not None:
            x = x + self.cross(x, memory)
        mod = self.modulation(cond) if self.modulation is not None else None
        h = self.norm1(x) if mod is None else modulate(self.norm1(x), mod[0], mod[1])
        if self.window:
            h = window_partition(h, self.grid, self.window)  # (B, N, C) -> (B·nW, w², C)
            h = window_merge(self.attn(h, attn_mask), self.grid, self.window)
        else:
            h = self.attn(h, attn_mask)
        x = x + (h if self.gamma_attn is None else self.gamma_attn * h)
        h = self.norm2(x) if mod is None else modulate(self.norm2(x), mod[2], mod[3])
        h = self.mlp(h)
        return x + (h if self.gamma_mlp is None else self.gamma_mlp * h)

    def forward(
        self,
        x: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        memory: torch.Tensor | None = None,
        cond: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if self.grad_checkpointing and torch.is_grad_enabled():
            return checkpoint(self._body, x, attn_mask, memory, cond, use_reentrant=False)
        return self._body(x, attn_mask, memory, cond)


def block_flops(
    num_tokens: int,
    dim: int,
    mlp_ratio: float = 4.0,
    *,
    window: int = 0,
    memory_tokens: int = 0,
    memory_dim: int = 0,
    attn_kind: str = "dot",
) -> int:
    """Forward FLOPs of one Block on one image (a multiply-add counts as 2).

    qkv 2·N·C·3C (2·N·C·2C for L2 attention: q and k share one projection), projection
    2·N·C·C, MLP 2·2·N·C·(ratio·C), q·kᵀ and weights·v 2·2·N·K·C
    where K is the number of keys a query sees (N, or w² in windows). Cross-attention:
    q and projection 2·2·N·C², k and v 2·2·M·E·C, scores and weights·v 2·2·N·M·C.
    Norms, softmax, GELU, bias and noise additions are element-wise and left out.
    """
    n, c = num_tokens, dim
    hidden = int(c * mlp_ratio)
    keys = window * window if window else n
    qkv = 2 if attn_kind == "l2" else 3
    linear = 2 * n * c * qkv * c + 2 * n * c * c + 2 * 2 * n * c * hidden
    attention = 2 * 2 * n * keys * c
    cross = 0
    if memory_tokens:
        m, e = memory_tokens, memory_dim
        cross = 2 * 2 * n * c * c + 2 * 2 * m * e * c + 2 * 2 * n * m * c
    return linear + attention + cross
