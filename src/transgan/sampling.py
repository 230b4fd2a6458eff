"""Drawing images from a generator: batched sampling, seeds, latent interpolation."""

from __future__ import annotations

import hashlib

import torch
from torch import nn

from transgan.models.layers import noise_from

# One seed drives every random stream of a sampling call, each stream from its own derived
# seed so that no two are clones of one another (a stream seeded with the same number as the
# latents would draw the very same values: the first noise map would equal z). The latents
# use the seed itself, so `--seed S` gives the same z as it always did; the others use
# sha256("transgan/<stream>/<seed>"), the first 8 bytes little-endian, top bit cleared.
# Stable across versions: the same seed gives the same images.
SEED_STREAMS = ("latents", "noise", "labels")


def stream_seed(seed: int, stream: str) -> int:
    """The seed of one random stream (``SEED_STREAMS``) of a sampling call seeded ``seed``."""
    if stream not in SEED_STREAMS:
        raise ValueError(f"unknown random stream {stream!r}; one of {SEED_STREAMS}")
    if stream == "latents":
        return seed
    digest = hashlib.sha256(f"transgan/{stream}/{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def latents(n: int, latent_dim: int, seed: int, device: str | torch.device = "cpu") -> torch.Tensor:
    """``n`` latents z ~ N(0, I) that depend only on ``seed`` (drawn on the CPU)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, latent_dim, generator=gen).to(device)


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
) -> torch.Tensor:
    """G(z) (or G(z, labels) for a conditional G) in batches, clamped to [-1, 1], on the
    CPU; noise injections (v2) draw from a private RNG, the "noise" stream of ``noise_seed``
    (``stream_seed``): pass the seed the latents were drawn with."""
    device = next(generator.parameters()).device
    rng = torch.Generator(device=device).manual_seed(stream_seed(noise_seed, "noise"))
    label_chunks = labels.to(device).split(batch_size) if labels is not None else None
    out = []
    with noise_from(generator, rng):
        for i, chunk in enumerate(z.split(batch_size)):
            args = (chunk,) if label_chunks is None else (chunk, label_chunks[i])
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
