"""Drawing images from a generator: batched sampling, seeds, latent interpolation."""

from __future__ import annotations

import contextlib
import hashlib

import torch
from torch import nn

from transgan.models.layers import NoiseInjection, PerImageNoise, noise_from

# One seed drives every random stream of a sampling call, each stream from its own derived
# seed so that no two are clones of one another (a stream seeded with the same number as the
# latents would draw the very same values: the first noise map would equal z). The latents
# use the seed itself, so `--seed S` gives the same z as it always did; the others use
# sha256("transgan/<stream>/<seed>"), the first 8 bytes little-endian, top bit cleared.
# Stable across versions: the same seed gives the same images.
#
# Image i of seed S is a function of (S, i) alone — not of how many images are drawn, in
# which batches, on which page: its latent is row i of one stream (rows padded to a
# multiple of 16 values, since the CPU's randn fills in blocks of 16 and treats a ragged
# tail differently), and its noise maps (v2) come from a generator of its own, seeded with
# sha256("transgan/noise/<S>/<i>").
SEED_STREAMS = ("latents", "noise", "labels")


def stream_seed(seed: int, stream: str) -> int:
    """The seed of one random stream (``SEED_STREAMS``) of a sampling call seeded ``seed``."""
    if stream not in SEED_STREAMS:
        raise ValueError(f"unknown random stream {stream!r}; one of {SEED_STREAMS}")
    if stream == "latents":
        return seed
    digest = hashlib.sha256(f"transgan/{stream}/{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def image_noise_seed(seed: int, index: int) -> int:
    """The seed of image ``index``'s own noise generator in a sampling call seeded ``seed``."""
    digest = hashlib.sha256(f"transgan/noise/{seed}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


RANDN_BLOCK = 16  # the CPU's randn draws normals in blocks of this many values


def latents(n: int, latent_dim: int, seed: int, device: str | torch.device = "cpu") -> torch.Tensor:
    """``n`` latents z ~ N(0, I) from ``seed`` (drawn on the CPU); row i depends on
    ``seed`` and i only, whatever ``n``."""
    gen = torch.Generator().manual_seed(seed)
    width = -(-latent_dim // RANDN_BLOCK) * RANDN_BLOCK  # whole blocks per row
    return torch.randn(n, width, generator=gen)[:, :latent_dim].contiguous().to(device)


def class_rows(num_classes: int, per_class: int) -> torch.Tensor:
    """Labels for a grid with one row per class: 0,0,…,1,1,…  (num_classes · per_class,)."""
    return torch.arange(num_classes).repeat_interleave(per_class)


@torch.no_grad()
def generate_images(
    generator: nn.Module,
    z: torch.Tensor,
    batch_size: int = 64,
    noise_seed: int = 0,
    labels: torch.Tensor | None = None,
    noise_index: torch.Tensor | None = None,
) -> torch.Tensor:
    """G(z) (or G(z, labels) for a conditional G) in batches, clamped to [-1, 1], on the
    CPU. Noise injections (v2) draw image i's noise from its own generator, seeded from
    (``noise_seed``, ``noise_index[i]``) (default index: i), so an image does not depend on
    the batch size or on the other images drawn; pass the seed the latents were drawn
    with. A walk passes one index for all its frames: one noise draw, only z moves."""
    device = next(generator.parameters()).device
    if noise_index is None:
        noise_index = torch.arange(z.shape[0])
    has_noise = any(isinstance(m, NoiseInjection) for m in generator.modules())
    label_chunks = labels.to(device).split(batch_size) if labels is not None else None
    out = []
    for i, (chunk, index) in enumerate(
        zip(z.split(batch_size), noise_index.split(batch_size), strict=True)
    ):
        args = (chunk,) if label_chunks is None else (chunk, label_chunks[i])
        rows = None
        if has_noise:
            rows = PerImageNoise(
                [
                    torch.Generator(device=device).manual_seed(image_noise_seed(noise_seed, j))
                    for j in index.tolist()
                ]
            )
        with noise_from(generator, rows) if rows is not None else contextlib.nullcontext():
            out.append(generator(*args).clamp(-1, 1).cpu())
    return torch.cat(out)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of ``a`` and ``b`` at fractions ``t`` (T,).

    Returns (rows, T, latent_dim). Falls back to linear where a and b are parallel.
    """
    a_n = a / a.norm(dim=-1, keepdim=True)
    b_n = b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(-1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None, None]  # (R,1,1)
    t = t[None, :, None]  # (T,) -> (1, T, 1)
    so = torch.sin(omega)
    linear = so.abs() < 1e-6
    w_a = torch.where(linear, 1 - t, torch.sin((1 - t) * omega) / so)
    w_b = torch.where(linear, t, torch.sin(t * omega) / so)
    return w_a * a[:, None] + w_b * b[:, None]


def interpolation_latents(rows: int, steps: int, latent_dim: int, seed: int) -> torch.Tensor:
    """(rows·steps, latent_dim): each row walks from one random latent to another."""
    ends = latents(2 * rows, latent_dim, seed)
    path = slerp(ends[:rows], ends[rows:], torch.linspace(0, 1, steps))
    return path.reshape(rows * steps, latent_dim)


def interpolation_noise_index(rows: int, steps: int) -> torch.Tensor:
    """The noise index of each frame of ``interpolation_latents``: every frame of row r
    draws row r's noise (a walk's frames share their noise; only z moves), as on the
    sampler page."""
    return torch.arange(rows).repeat_interleave(steps)
