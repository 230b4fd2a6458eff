"""A DCGAN-sized conv pair (Radford et al. 2016): the cheap reference that the transformer
GAN must reach on the digits at equal training time.

G: z -> Linear -> (4C, 4, 4) -> [ConvTranspose ×2, BatchNorm, ReLU] ... -> 3×3 conv -> tanh.
D: [strided 4×4 conv, (BatchNorm from the second on), LeakyReLU 0.2] ... -> Linear -> logit.
At 16 px with C = 32 the generator has 0.30 M parameters, the discriminator 0.04 M.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from transgan.models.fields import check_fields
from transgan.models.init import count_params


@dataclass(frozen=True)
class DCGANGeneratorConfig:
    latent_dim: int = 64  # size of z ~ N(0, I)
    bottom_width: int = 4  # spatial side after the Linear
    channels: int = 32  # channels of the last up-sampling block; ×2 per block towards z
    num_up: int = 2  # ×2 transposed-conv blocks; img_size = bottom_width · 2^num_up
    # BatchNorm + ReLU after the projection of z, as the DCGAN paper's G (off: the projection
    # feeds the first transposed conv directly, as our presets have been trained)
    project_norm: bool = False

    def __post_init__(self) -> None:
        check_fields(
            self, "DCGAN generator", positive=("latent_dim", "bottom_width", "channels", "num_up")
        )
        if min(self.latent_dim, self.bottom_width, self.channels, self.num_up) < 1:
            raise ValueError(f"DCGAN generator sizes must be positive, got {self}")

    @property
    def img_size(self) -> int:
        return self.bottom_width * 2**self.num_up


@dataclass(frozen=True)
class DCGANDiscriminatorConfig:
    img_size: int = 16  # side of the square input image
    channels: int = 32  # channels of the first strided conv; ×2 per conv
    num_down: int = 2  # stride-2 convs

    def __post_init__(self) -> None:
        check_fields(self, "DCGAN discriminator", positive=("img_size", "channels", "num_down"))
        if self.img_size % 2**self.num_down:
            raise ValueError(
                f"img_size {self.img_size} must be divisible by 2^num_down = {2**self.num_down}"
            )


def _dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) conv and linear weights, N(1, 0.02) BatchNorm scales (the DCGAN paper)."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """``forward(z)`` returns images (B, 3, H, W) in [-1, 1]."""

    def __init__(self, config: DCGANGeneratorConfig) -> None:
        super().__init__()
        self.config = c = config
        top = c.channels * 2**c.num_up
        self.to_map = nn.Linear(c.latent_dim, top * c.bottom_width**2)
        self.map_norm = nn.Sequential(nn.BatchNorm2d(top), nn.ReLU()) if c.project_norm else None
        layers: list[nn.Module] = []
        for i in range(c.num_up):
            c_in, c_out = top // 2**i, top // 2 ** (i + 1)
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1),  # (B,c,H,W)->(B,c',2H,2W)
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
            ]
        self.up = nn.Sequential(*layers)
        self.to_rgb = nn.Conv2d(c.channels, 3, 3, padding=1)
        self.apply(_dcgan_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        c = self.config
        x = self.to_map(z).view(z.shape[0], -1, c.bottom_width, c.bottom_width)  # (B, 4C, 4, 4)
        if self.map_norm is not None:
            x = self.map_norm(x)
        return torch.tanh(self.to_rgb(self.up(x)))

    def count_params(self) -> int:
        return count_params(self)

    def estimate_flops(self) -> int:
        """Forward FLOPs per image of the Linear and the convolutions (multiply-add = 2)."""
        c = self.config
        flops = 2 * self.to_map.in_features * self.to_map.out_features
        side = c.bottom_width
        for m in self.up:
            if isinstance(m, nn.ConvTranspose2d):  # every input pixel meets a 4×4 kernel
                flops += 2 * m.in_channels * m.out_channels * 16 * side * side
                side *= 2
        return flops + 2 * c.channels * 3 * 9 * side * side


class DCGANDiscriminator(nn.Module):
    """``forward(x)`` returns logits (B,)."""

    batch_statistics = True  # BatchNorm: the loss must show it reals and fakes separately

    def __init__(self, config: DCGANDiscriminatorConfig) -> None:
        super().__init__()
        self.config = c = config
        layers: list[nn.Module] = []
        c_in = 3
        for i in range(c.num_down):
            c_out = c.channels * 2**i
            # (B, c, H, W) -> (B, c', H/2, W/2)
            layers.append(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1))
            if i > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2))
            c_in = c_out
        self.body = nn.Sequential(*layers, nn.Flatten())
        side = c.img_size // 2**c.num_down
        self.head = nn.Linear(c_in * side * side, 1)
        self.apply(_dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(-1)

    def count_params(self) -> int:
        return count_params(self)

    def estimate_flops(self) -> int:
        """Forward FLOPs per image of the convolutions and the Linear (multiply-add = 2)."""
        side, flops = self.config.img_size, 0
        for m in self.body:
            if isinstance(m, nn.Conv2d):  # stride 2: one 4×4 kernel per output pixel
                side //= 2
                flops += 2 * m.in_channels * m.out_channels * 16 * side * side
        return flops + 2 * self.head.in_features
