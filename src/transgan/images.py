"""Turning generator output into pixels: uint8 conversion, grids, PNG files."""

from __future__ import annotations

import math
import os

import torch
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from torchvision.utils import make_grid

from transgan.fileio import atomic_path


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float images -> uint8 in [0, 255] via x·127.5 + 128, clamped (SPEC §9)."""
    return (images.float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)


QUANTIZE = ("round", "truncate")


def quantize(images: torch.Tensor, mode: str = "round") -> torch.Tensor:
    """[-1, 1] floats -> uint8: ``round`` (``to_uint8``) or ``truncate`` (the authors' test
    script: x·127.5 + 127.5 cast down, half a level darker on average)."""
    if mode not in QUANTIZE:
        raise ValueError(f"quantize must be one of {QUANTIZE}, got {mode!r}")
    offset = 128.0 if mode == "round" else 127.5  # +0.5 then truncation == rounding
    return (images.float() * 127.5 + offset).clamp(0, 255).to(torch.uint8)


def grid_image(images: torch.Tensor, nrow: int | None = None) -> Image.Image:
    """A PIL image of ``images`` (B, 3, H, W) in [-1, 1] tiled in a grid."""
    nrow = nrow or max(1, math.ceil(math.sqrt(images.shape[0])))
    grid = make_grid(to_uint8(images.detach().cpu()), nrow=nrow, padding=1, pad_value=0)
    return Image.fromarray(grid.permute(1, 2, 0).numpy())  # (3, H, W) -> (H, W, 3)


def single_image(image: torch.Tensor) -> Image.Image:
    """A PIL image of one (3, H, W) image in [-1, 1]."""
    return Image.fromarray(to_uint8(image.detach().cpu()).permute(1, 2, 0).numpy())


# Image files by extension: the format each is written in.
IMAGE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


def image_format(path: str | os.PathLike[str], option: str = "the output") -> str:
    """The format ``path``'s extension names; a ValueError naming the choices otherwise."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in IMAGE_FORMATS:
        raise ValueError(
            f"{option} {os.fspath(path)}: cannot write an image as "
            f"{suffix or 'a file without an extension'}; use one of " + ", ".join(IMAGE_FORMATS)
        )
    return IMAGE_FORMATS[suffix]


def save_png(
    image: Image.Image, path: str | os.PathLike[str], text: dict[str, str] | None = None
) -> None:
    """Save ``image`` atomically in the format its extension names (PNG for .png), with
    ``text`` as PNG text chunks (metadata; PNG only)."""
    fmt = image_format(path)
    options = {}
    if text and fmt == "PNG":
        info = PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
        options["pnginfo"] = info
    if fmt == "JPEG":
        options["quality"] = 95
    with atomic_path(path) as tmp:
        image.save(tmp, format=fmt, **options)


def png_text(path: str | os.PathLike[str]) -> dict[str, str]:
    """The text chunks of a PNG file ({} for a file without them or that is not a PNG)."""
    try:
        with Image.open(path) as image:
            return dict(getattr(image, "text", {}) or {})
    except (OSError, ValueError, SyntaxError):
        return {}


def save_grid(
    images: torch.Tensor,
    path: str | os.PathLike[str],
    nrow: int | None = None,
    text: dict[str, str] | None = None,
) -> None:
    """Save ``images`` (B, 3, H, W) in [-1, 1] as one PNG grid (``text``: PNG metadata)."""
    save_png(grid_image(images, nrow), path, text)
