"""DiffAugment: differentiable augmentation of every image the discriminator sees.

Each transform draws its parameters independently per sample from torch's global RNG (so a
saved RNG state replays it exactly) and is differentiable in the images.
Policy ``translation,cutout,color`` as in the TransGAN authors' code (SPEC §5); their later
scripts add ``erase_ratio``, ``stl_erase_ratio`` and ``hue`` (SPEC-v2 §5). Random erasing
and cutout fire per sample here (the authors' code erases the whole batch or nothing). The
ADA-style ``filter`` op of the CelebA-HQ script is not implemented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

TRANSFORMS = ("color", "translation", "cutout", "erase_ratio", "stl_erase_ratio", "hue")
ERASE_PROB = 0.3  # the authors' chance of a random erase


@dataclass(frozen=True)
class AugmentConfig:
    policy: tuple[str, ...] = ("translation", "cutout", "color")  # applied in this order
    translation_ratio: float = (
        0.2  # max shift as a fraction of the image side (0.125 in DiffAugment)
    )
    cutout_ratio: float = 0.5  # side of the cut square as a fraction of the image side
    cutout_prob: float = 0.3  # chance per sample that it gets a cutout (1.0 = DiffAugment paper)
    # How many of D's inputs are augmented: each sample with probability ``prob`` (the
    # policy's own chances inside), or — with ``ada_target`` > 0 — with ADA's adaptive p
    # (Karras et al. 2020: p rises while E[sign D(real)] is above the target, falls below it,
    # by at most 1 per ``ada_kimg`` thousand images; ``ada.py``), starting from ``prob``.
    prob: float = 1.0
    ada_target: float = 0.0  # 0 = off; ADA's paper: 0.6
    ada_kimg: float = 100.0  # p may move from 0 to 1 in this many kimg (ADA's paper: 500)

    def __post_init__(self) -> None:
        if not 0 <= self.prob <= 1:
            raise ValueError(f"augment prob must be in [0, 1], got {self.prob}")
        if not 0 <= self.ada_target < 1:
            raise ValueError(f"ada_target must be in [0, 1) (0 = off), got {self.ada_target}")
        if self.ada_kimg <= 0:
            raise ValueError(f"ada_kimg must be > 0, got {self.ada_kimg}")
        if self.ada_target and not self.policy:
            raise ValueError("--ada-target adapts how often the policy applies: give --augment")
        unknown = [p for p in self.policy if p not in TRANSFORMS]
        if unknown:
            raise ValueError(f"unknown augmentation {unknown}; choose from {TRANSFORMS} or none")
        if not 0 <= self.translation_ratio < 1:
            raise ValueError(f"translation_ratio must be in [0, 1), got {self.translation_ratio}")
        if not 0 < self.cutout_ratio < 1:
            raise ValueError(f"cutout_ratio must be in (0, 1), got {self.cutout_ratio}")
        if not 0 <= self.cutout_prob <= 1:
            raise ValueError(f"cutout_prob must be in [0, 1], got {self.cutout_prob}")

    @classmethod
    def from_string(cls, policy: str, **kwargs: float) -> AugmentConfig:
        """``"translation,cutout,color"`` or ``"none"``."""
        names = () if policy.strip() in ("", "none") else tuple(policy.replace(" ", "").split(","))
        return cls(policy=names, **kwargs)


def rand_color(x: torch.Tensor) -> torch.Tensor:
    """Brightness + U(-0.5, 0.5), saturation × U(0, 2), contrast × U(0.5, 1.5), per sample."""
    b = x.shape[0]
    x = x + (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)
    mean = x.mean(dim=1, keepdim=True)  # per-pixel mean over channels
    x = (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # per-image mean
    return (x - mean) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


def rand_translation(x: torch.Tensor, ratio: float) -> torch.Tensor:
    """Shift each image by up to ``ratio``·size pixels in x and y; vacated pixels are 0."""
    b, _, h, w = x.shape
    max_dy, max_dx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-max_dy, max_dy + 1, (b, 1, 1), device=x.device)
    dx = torch.randint(-max_dx, max_dx + 1, (b, 1, 1), device=x.device)
    # Source coordinates in a 1-pixel zero-padded copy; anything outside reads the padding.
    ys = (torch.arange(h, device=x.device)[None, :, None] - dy + 1).clamp(0, h + 1)  # (B, H, 1)
    xs = (torch.arange(w, device=x.device)[None, None, :] - dx + 1).clamp(0, w + 1)  # (B, 1, W)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # (B, C, H+2, W+2) -> (B, H+2, W+2, C)
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded[batch, ys, xs].permute(0, 3, 1, 2)  # (B, H, W, C) -> (B, C, H, W)


def rand_cutout(x: torch.Tensor, ratio: float, prob: float) -> torch.Tensor:
    """Zero one square of ``ratio``·size at a random place, in a ``prob`` share of samples."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # Square centre anywhere on the image (it may hang over the border, as in DiffAugment).
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (ys >= cy - ch // 2) & (ys < cy - ch // 2 + ch) & (xs >= cx - cw // 2)
    inside = inside & (xs < cx - cw // 2 + cw)  # (B, H, W)
    chosen = torch.rand(b, 1, 1, device=x.device) < prob
    keep = (~(inside & chosen)).to(x.dtype)
    return x * keep[:, None]


def rand_erase(x: torch.Tensor, low: int, high: int, prob: float = ERASE_PROB) -> torch.Tensor:
    """Zero one a×b box (a, b drawn once per call from U{low..high}) at a random centre,
    in a ``prob`` share of samples (the authors' ``erase_ratio``)."""
    b, _, h, w = x.shape
    a, c = torch.randint(low, high + 1, (2,)).tolist()
    cy = torch.randint(0, h, (b, 1, 1), device=x.device)
    cx = torch.randint(0, w, (b, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (ys >= cy - a // 2) & (ys < cy - a // 2 + a) & (xs >= cx - c // 2)
    inside = inside & (xs < cx - c // 2 + c)  # (B, H, W)
    chosen = torch.rand(b, 1, 1, device=x.device) < prob
    return x * (~(inside & chosen)).to(x.dtype)[:, None]


def rand_hue(x: torch.Tensor, prob: float = 0.5) -> torch.Tensor:
    """Rotate colours about the grey axis (1,1,1)/√3 by θ ~ U(−π, π), in ``prob`` of samples
    (ADA's hue rotation, on the [-1, 1] values)."""
    b = x.shape[0]
    theta = (torch.rand(b, device=x.device) * 2 - 1) * math.pi
    theta = torch.where(torch.rand(b, device=x.device) < prob, theta, torch.zeros_like(theta))
    u = torch.full((3,), 3**-0.5, device=x.device)
    cross = torch.tensor(
        [[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]], device=x.device
    ) * (3**-0.5)  # [u]×
    cos, sin = theta.cos()[:, None, None], theta.sin()[:, None, None]
    eye = torch.eye(3, device=x.device)
    rot = cos * eye + sin * cross + (1 - cos) * torch.outer(u, u)  # (B, 3, 3), Rodrigues
    return torch.einsum("bij,bjhw->bihw", rot.to(x.dtype), x)


def random_xflip(images: torch.Tensor) -> torch.Tensor:
    """``--mirror``: each image flipped left-right with probability 1/2 (the training RNG, so
    each epoch flips differently and a resumed run flips as the uninterrupted one)."""
    flip = torch.rand(images.shape[0], 1, 1, 1, device=images.device) < 0.5
    return torch.where(flip, images.flip(-1), images)


def diff_augment(x: torch.Tensor, config: AugmentConfig) -> torch.Tensor:
    """Apply ``config.policy`` to a batch (B, C, H, W); identity when the policy is empty."""
    size = x.shape[-1]
    for name in config.policy:
        if name == "color":
            x = rand_color(x)
        elif name == "translation":
            x = rand_translation(x, config.translation_ratio)
        elif name == "cutout":
            x = rand_cutout(x, config.cutout_ratio, config.cutout_prob)
        elif name == "erase_ratio":
            x = rand_erase(x, int(0.2 * size), int(0.7 * size))
        elif name == "stl_erase_ratio":
            x = rand_erase(x, min(20, size), min(size // 2 + 20, size))
        else:
            x = rand_hue(x)
    return x.contiguous()
