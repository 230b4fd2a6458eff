"""A folder of images, searched recursively, made safe to train on.

Every file is decoded once before training (in threads, with a progress bar). Images in any
mode PIL reads — grayscale, RGBA, palette, CMYK, 16-bit — are converted to 8-bit RGB;
images smaller than the model's resolution are upscaled (and counted); files that do not
decode (corrupt, truncated, empty, not an image) are skipped and counted. If nothing is
usable, or more than ``max_broken_fraction`` is broken, training stops before it starts with
a message that names examples.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFile
from torch.utils.data import Dataset
from torchvision.transforms import functional as TF

from transgan.data.errors import DataError
from transgan.progress import bar as progress_bar

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm"}
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is broken, not half an image


@dataclass
class FolderScan:
    """What a scan of a folder found."""

    usable: list[Path] = field(default_factory=list)
    broken: list[tuple[Path, str]] = field(default_factory=list)  # (file, why)
    upscaled: int = 0  # usable images smaller than the resolution
    converted: int = 0  # usable images that were not 8-bit RGB

    def summary(self) -> dict[str, int]:
        return {
            "images_usable": len(self.usable),
            "images_broken": len(self.broken),
            "images_upscaled": self.upscaled,
            "images_converted": self.converted,
        }


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL image as 8-bit RGB (16-bit and 32-bit integer modes rescaled, not clipped)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        pixels = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or pixels.max() > 255 else 255.0
        image = Image.fromarray((pixels / top * 255).clip(0, 255).astype(np.uint8))
    elif image.mode == "F":
        pixels = np.asarray(image, dtype=np.float64)
        image = Image.fromarray((pixels.clip(0, 1) * 255).astype(np.uint8))
    elif image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image if image.mode == "RGB" else image.convert("RGB")


def _check(path: Path, resolution: int) -> tuple[Path, str | None, bool, bool]:
    try:
        with Image.open(path) as img:
            img.load()
            converted = img.mode != "RGB"
            small = min(img.size) < resolution
            to_rgb(img)
    except Exception as err:  # PIL raises many types for bad files
        return path, f"{type(err).__name__}: {err}", False, False
    return path, None, small, converted


def list_image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def scan_folder(
    folder: Path, resolution: int, *, workers: int = 8, progress: bool = True
) -> FolderScan:
    """Decode every file below ``folder`` and sort it into usable and broken."""
    scan = FolderScan()
    files = list_image_files(folder)
    candidates = []
    for f in files:
        if f.suffix.lower() in IMAGE_SUFFIXES:
            candidates.append(f)
        else:
            scan.broken.append((f, f"not an image file type ({f.suffix or 'no suffix'})"))
    results: Iterable = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(lambda p: _check(p, resolution), candidates)
        bar = progress_bar(
            results, total=len(candidates), desc=f"checking {folder}", disable=not progress
        )
        for path, error, small, converted in bar:
            if error is not None:
                scan.broken.append((path, error))
                continue
            scan.usable.append(path)
            scan.upscaled += small
            scan.converted += converted
    return scan


def check_scan(scan: FolderScan, folder: Path, max_broken_fraction: float) -> None:
    """Raise DataError if the folder cannot be trained on."""
    total = len(scan.usable) + len(scan.broken)
    examples = "; ".join(f"{p} ({why})" for p, why in scan.broken[:3])
    if not scan.usable:
        raise DataError(
            f"no usable image in {folder} ({total} files"
            + (f"; e.g. {examples}" if examples else "")
            + "). Point --data at a folder of .png/.jpg images"
        )
    if total and len(scan.broken) / total > max_broken_fraction:
        raise DataError(
            f"{len(scan.broken)} of {total} files in {folder} are broken (more than "
            f"{max_broken_fraction:.0%}), e.g. {examples}. Remove or fix them, or raise "
            "--max-broken-fraction"
        )


class ImageFolder(Dataset):
    """Usable images of a folder, centre-cropped and resized to ``resolution``, in [-1, 1]."""

    def __init__(
        self,
        folder: Path,
        resolution: int,
        *,
        max_broken_fraction: float = 0.1,
        progress: bool = True,
    ) -> None:
        self.folder, self.resolution = folder, resolution
        self.scan = scan_folder(folder, resolution, progress=progress)
        check_scan(self.scan, folder, max_broken_fraction)
        self.files = self.scan.usable

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        with Image.open(self.files[index]) as img:
            img.load()  # decode now: the file closes when the block ends
            image = to_rgb(img)
        side = min(image.size)
        image = TF.center_crop(image, [side, side])
        image = TF.resize(image, [self.resolution, self.resolution], antialias=True)
        return TF.to_tensor(image) * 2 - 1  # [0, 1] -> [-1, 1]
