"""DINOv2 image features for FD_DINOv2 (``fddN``), from the released weights file alone.

torch-fidelity's DINOv2 extractor builds the network with ``torch.hub.load``: it downloads and
runs the code of the facebookresearch/dinov2 repository, then its weights, so it cannot run
from a local weights file and it executes code fetched at run time. This module builds the
same network (a ViT with LayerScale; the feature is the class token after the final norm)
from the state dict of ``dinov2_vitl14_pretrain.pth``, opened with
``torch.load(weights_only=True)``, and gives torch-fidelity the same preprocessing as its own
extractor: uint8 -> TF1-compatible bilinear resize to 224² -> ImageNet normalisation.

Sizes are read off the state dict (ViT-S/B/L with an MLP feed-forward: 64 channels a head);
the 37×37 position grid of the 518² training resolution is resized to the 16×16 patch grid
of a 224² input the way DINOv2 does it (bicubic, scale factor (16 + 0.1) / 37).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase

from transgan.evaluation.weights import DINOV2_ENV, EvalError, given_weights_file, load_weights_file

DINOV2_FILE = "dinov2_vitl14_pretrain.pth"
DINOV2_URL = "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/" + DINOV2_FILE
EXTRACTOR_NAME = "transgan-dinov2"
INPUT_SIZE = 224  # torch-fidelity resizes every image to this before DINOv2
HEAD_DIM = 64  # channels per attention head in ViT-S/B/L/g
POSITION_OFFSET = 0.1  # DINOv2 adds this to the target grid when it resizes positions
LAYER_NORM_EPS = 1e-6
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class DinoV2Error(EvalError):
    """A DINOv2 weights file that cannot be used; the message says why and what to pass."""


class LayerScale(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class SelfAttention(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.heads = dim // HEAD_DIM
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class EncoderBlock(nn.Module):
    """Pre-norm attention and feed-forward, each scaled per channel before the residual."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.attn = SelfAttention(dim)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.mlp = FeedForward(dim, hidden)
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbedding(nn.Module):
    def __init__(self, dim: int, patch: int):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, stride=patch)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(images).flatten(2).transpose(1, 2)


class DinoV2Encoder(nn.Module):
    """Normalised images (B, 3, H, W) -> the final-norm class token (B, dim).

    Parameter names are DINOv2's, so its state dict loads as it is."""

    def __init__(self, dim: int, depth: int, patch: int, hidden: int, grid: int):
        super().__init__()
        self.patch_size = patch
        self.patch_embed = PatchEmbedding(dim, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, dim))
        self.blocks = nn.ModuleList(EncoderBlock(dim, hidden) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)

    def positions(self, rows: int, cols: int) -> torch.Tensor:
        """The class position and the patch grid resized to ``rows`` × ``cols``."""
        cls_pos, grid_pos = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        side = int(grid_pos.shape[1] ** 0.5)
        if (rows, cols) == (side, side):
            return self.pos_embed
        grid = grid_pos.reshape(1, side, side, -1).permute(0, 3, 1, 2)
        scale = ((rows + POSITION_OFFSET) / side, (cols + POSITION_OFFSET) / side)
        grid = F.interpolate(grid, scale_factor=scale, mode="bicubic", antialias=False)
        return torch.cat([cls_pos, grid.flatten(2).transpose(1, 2)], dim=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        rows, cols = (s // self.patch_size for s in images.shape[-2:])
        tokens = self.patch_embed(images)
        tokens = torch.cat([self.cls_token.expand(len(tokens), -1, -1), tokens], dim=1)
        tokens = tokens + self.positions(rows, cols)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)[:, 0]


def encoder_from_state_dict(state: dict[str, torch.Tensor], source: str) -> DinoV2Encoder:
    """Build the encoder whose sizes ``state`` has, and load it strictly."""
    needed = ("patch_embed.proj.weight", "pos_embed", "cls_token", "norm.weight")
    missing = [k for k in needed if k not in state]
    if missing:
        raise DinoV2Error(
            f"{source} is not a DINOv2 backbone state dict (no {', '.join(missing)}); "
            f"use {DINOV2_FILE} from {DINOV2_URL}"
        )
    if "register_tokens" in state or any(".mlp.w12." in k for k in state):
        raise DinoV2Error(
            f"{source} is a DINOv2 variant with register tokens or a SwiGLU feed-forward "
            f"(ViT-g); FD_DINOv2 uses ViT-L/14 without registers: {DINOV2_URL}"
        )
    dim, _, patch, _ = state["patch_embed.proj.weight"].shape
    depth = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
    hidden = state["blocks.0.mlp.fc1.weight"].shape[0]
    grid = int((state["pos_embed"].shape[1] - 1) ** 0.5)
    encoder = DinoV2Encoder(dim, depth, patch, hidden, grid)
    weights = {k: v for k, v in state.items() if k != "mask_token"}  # used only in training
    result = encoder.load_state_dict(weights, strict=False)
    wrong = [*result.missing_keys, *result.unexpected_keys]
    if wrong:
        raise DinoV2Error(
            f"{source} does not match a DINOv2 ViT of width {dim} and depth {depth}: "
            f"{len(result.missing_keys)} missing and {len(result.unexpected_keys)} unexpected "
            f"keys, e.g. {wrong[:3]}"
        )
    return encoder.eval().requires_grad_(False)


def load_encoder(path: Path) -> DinoV2Encoder:
    """The encoder stored in ``path``, read with ``torch.load(weights_only=True)``."""
    state = load_weights_file(path, "DINOv2", DINOV2_FILE, DINOV2_URL)
    if not isinstance(state, dict):
        raise DinoV2Error(f"{path} holds a {type(state).__name__}, not a DINOv2 state dict")
    return encoder_from_state_dict(state, str(path))


def resolve_weights(path: str | os.PathLike[str] | None = None) -> Path:
    """The DINOv2 weights file: the argument, the env variable, torch's hub cache, or a
    download into that cache. Raises DinoV2Error when none can be had."""
    given = given_weights_file(path, DINOV2_ENV, "DINOv2", "--dinov2-weights")
    if given is not None:
        return given
    cached = Path(torch.hub.get_dir()) / "checkpoints" / DINOV2_FILE
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(DINOV2_URL, str(cached), progress=False)
        except OSError as err:  # urllib's URLError is an OSError
            raise DinoV2Error(
                f"fdd needs the DINOv2 ViT-L/14 weights and they cannot be downloaded "
                f"({err}). Download {DINOV2_URL} on a connected machine, then pass it with "
                f"--dinov2-weights PATH, set {DINOV2_ENV}=PATH, or put it in {cached.parent}"
            ) from err
    return cached


class DinoV2FeatureExtractor(FeatureExtractorBase):
    """torch-fidelity's view of the encoder: one feature, "dinov2", for uint8 images."""

    def __init__(self, name: str, features_list: list[str], **kwargs: object) -> None:
        super().__init__(name, features_list)
        self.model = load_encoder(Path(str(kwargs["feature_extractor_weights_path"])))

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return ("dinov2",)

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return "dinov2"

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        return torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE, dtype=torch.uint8)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (self.model.to(images.device)(preprocess(images)),)


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> float (B, 3, 224, 224), resized and normalised as torch-fidelity
    prepares images for its own DINOv2 extractor."""
    from torch_fidelity.interpolate_compat_tensorflow import (
        interpolate_bilinear_2d_like_tensorflow1x,
    )

    x = interpolate_bilinear_2d_like_tensorflow1x(
        images.float(), size=(INPUT_SIZE, INPUT_SIZE), align_corners=False
    )
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1) * 255
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1) * 255
    return (x - mean) / std


def register() -> None:
    """Make the extractor known to torch-fidelity (idempotent)."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    if EXTRACTOR_NAME not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(EXTRACTOR_NAME, DinoV2FeatureExtractor)
