"""SNGAN-style ResNet generator and discriminator, for the paper's hybrid ablation (Table 1).

AutoGAN searched within this family; these are its hand-designed CIFAR-10 members:
G: Linear -> 4×4 -> up-ResBlocks (BN, ReLU, nearest ×2, 3×3 conv) -> BN, ReLU, 3×3 conv, tanh.
D: ResBlocks with average-pool downsampling, spectral norm on every layer, ReLU, global sum
pooling, Linear -> one logit per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from transgan.models.fields import check_fields
from transgan.models.init import count_params


@dataclass(frozen=True)
class ConvGeneratorConfig:
    latent_dim: int = 128  # size of z ~ N(0, I)
    bottom_width: int = 4  # spatial side after the first Linear
    channels: int = 256  # feature channels in every block
    num_blocks: int = 3  # up-sampling ResBlocks; img_size = bottom_width · 2^num_blocks

    def __post_init__(self) -> None:
        check_fields(
            self,
            "conv generator",
            positive=("latent_dim", "bottom_width", "channels", "num_blocks"),
        )
        if min(self.latent_dim, self.bottom_width, self.channels, self.num_blocks) < 1:
            raise ValueError(f"conv generator sizes must be positive, got {self}")

    @property
    def img_size(self) -> int:
        return self.bottom_width * 2**self.num_blocks


@dataclass(frozen=True)
class ConvDiscriminatorConfig:
    img_size: int = 32  # side of the square input image
    channels: int = 128  # feature channels in every block
    num_down: int = 2  # blocks that halve the resolution (the first one included)
    num_blocks: int = 4  # ResBlocks in all

    def __post_init__(self) -> None:
        check_fields(
            self, "conv discriminator", positive=("img_size", "channels", "num_down", "num_blocks")
        )
        if self.num_down > self.num_blocks or self.num_down < 1:
            raise ValueError("conv discriminator needs 1 <= num_down <= num_blocks")
        if self.img_size % 2**self.num_down:
            raise ValueError(
                f"img_size {self.img_size} must be divisible by 2^num_down = {2**self.num_down}"
            )


class UpBlock(nn.Module):
    """BN-ReLU-upsample-conv-BN-ReLU-conv, plus an upsampled 1×1-conv shortcut."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn1, self.bn2 = nn.BatchNorm2d(channels), nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.shortcut = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2)  # (B, C, H, W) -> (B, C, 2H, 2W)
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class ConvGenerator(nn.Module):
    """SNGAN/AutoGAN-family ResNet generator; ``forward(z)`` -> (B, 3, H, W) in [-1, 1]."""

    def __init__(self, config: ConvGeneratorConfig) -> None:
        super().__init__()
        self.config = c = config
        self.to_features = nn.Linear(c.latent_dim, c.bottom_width**2 * c.channels)
        self.blocks = nn.Sequential(*(UpBlock(c.channels) for _ in range(c.num_blocks)))
        self.to_rgb = nn.Sequential(
            nn.BatchNorm2d(c.channels), nn.ReLU(), nn.Conv2d(c.channels, 3, 3, padding=1)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        c = self.config
        x = self.to_features(z).view(-1, c.channels, c.bottom_width, c.bottom_width)  # (B,C,4,4)
        return torch.tanh(self.to_rgb(self.blocks(x)))

    def count_params(self) -> int:
        return count_params(self)


class DownBlock(nn.Module):
    """ReLU-conv-ReLU-conv(-avgpool), plus a 1×1-conv(-avgpool) shortcut; spectral norm."""

    def __init__(self, c_in: int, c_out: int, *, down: bool, first: bool) -> None:
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = spectral_norm(nn.Conv2d(c_in, c_out, 3, padding=1))
        self.conv2 = spectral_norm(nn.Conv2d(c_out, c_out, 3, padding=1))
        self.shortcut = spectral_norm(nn.Conv2d(c_in, c_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)  # no ReLU on the raw image
        h = self.conv2(F.relu(self.conv1(h)))
        s = x
        if self.down:
            h = F.avg_pool2d(h, 2)  # (B, C, H, W) -> (B, C, H/2, W/2)
        if self.first:  # pool first, then project, as SNGAN's optimised first block
            s = self.shortcut(F.avg_pool2d(s, 2) if self.down else s)
        else:
            s = self.shortcut(s)
            s = F.avg_pool2d(s, 2) if self.down else s
        return h + s


class ConvDiscriminator(nn.Module):
    """SNGAN/AutoGAN-family ResNet discriminator; ``forward(x)`` -> logits (B,)."""

    def __init__(self, config: ConvDiscriminatorConfig) -> None:
        super().__init__()
        self.config = c = config
        self.blocks = nn.Sequential(
            *(
                DownBlock(
                    3 if i == 0 else c.channels, c.channels, down=i < c.num_down, first=i == 0
                )
                for i in range(c.num_blocks)
            )
        )
        self.head = spectral_norm(nn.Linear(c.channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pool: (B, C, h, w) -> (B, C)
        return self.head(h).squeeze(-1)

    def count_params(self) -> int:
        return count_params(self)
