"""DiffAugment: differentiable augmentation of every image the discriminator sees.

Each transform draws its parameters independently per sample from torch's global RNG (so a
saved RNG state replays it exactly) and is differentiable in the images.
Policy ``translation,cutout,color`` as in the TransGAN authors' code (SPEC §5).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

TRANSFORMS = ("color", "translation", "cutout")


@dataclass(frozen=True)
class AugmentConfig:
    policy: tuple[str, ...] = ("translation", "cutout", "color")  # applied in this order
    translation_ratio: float = (
        0.2  # max shift as a fraction of the image side (0.125 in DiffAugment)
    )
    cutout_ratio: float = 0.5  # side of the cut square as a fraction of the image side
    cutout_prob: float = 0.3  # chance per sample that it gets a cutout (1.0 = DiffAugment paper)

    def __post_init__(self) -> None:
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


def diff_augment(x: torch.Tensor, config: AugmentConfig) -> torch.Tensor:
    """Apply ``config.policy`` to a batch (B, C, H, W); identity when the policy is empty."""
    for name in config.policy:
        if name == "color":
            x = rand_color(x)
        elif name == "translation":
            x = rand_translation(x, config.translation_ratio)
        else:
            x = rand_cutout(x, config.cutout_ratio, config.cutout_prob)
    return x.contiguous()
