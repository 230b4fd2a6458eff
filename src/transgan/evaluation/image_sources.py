"""Images from any model, to score with ``transgan eval --images``: a folder or an .npz.

- a folder: every image file below it (PNG, JPEG, …), decoded on demand to RGB;
- an .npz: one uint8 array of shape (N, H, W, 3) or (N, 3, H, W) (the only array, or the one
  named ``images``, ``arr_0`` or ``x``), read with ``allow_pickle=False``.

Items are uint8 (3, H, W) tensors, what torch-fidelity's feature extractors take. All images
must have one size; ``resolution`` resizes them (bicubic, antialiased) when they do not.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torch.utils.data import Dataset

from transgan.data.datasets import DataError, TensorImages
from transgan.data.folder import IMAGE_SUFFIXES, list_image_files, to_rgb

NPZ_KEYS = ("images", "arr_0", "x")


class ImageFiles(Dataset):
    """uint8 (3, H, W) images from files, decoded when asked for."""

    def __init__(self, files: list[Path], resolution: int | None) -> None:
        self.files, self.resolution = files, resolution

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        try:
            with Image.open(self.files[index]) as img:
                img.load()  # decode now: the file closes when the block ends
                image = to_rgb(img)
        except OSError as err:
            raise DataError(f"cannot decode {self.files[index]}: {err}") from err
        if self.resolution and image.size != (self.resolution, self.resolution):
            image = image.resize((self.resolution, self.resolution), Image.BICUBIC)
        return TF.pil_to_tensor(image)


def _size_of(file: Path) -> tuple[int, int]:
    try:
        with Image.open(file) as img:
            return img.size
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(
            f"cannot read {file} ({type(err).__name__}: {err}); remove it or replace it with "
            "a valid image"
        ) from err


def load_images(path: str | os.PathLike[str], resolution: int | None = None) -> Dataset:
    """The images at ``path`` (folder or .npz) as a data set of uint8 (3, H, W) tensors."""
    p = Path(path)
    if p.is_dir():
        files = [f for f in list_image_files(p) if f.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            raise DataError(f"--images {p} holds no image files (.png, .jpg, …)")
        if resolution is None:
            sizes = set()
            for file in files[:64]:  # a cheap check; mixed sizes need --resolution
                sizes.add(_size_of(file))
            if len(sizes) > 1 or next(iter(sizes))[0] != next(iter(sizes))[1]:
                raise DataError(
                    f"--images {p} has images of sizes {sorted(sizes)[:4]}; pass --resolution "
                    "R to resize them all to R×R"
                )
        return ImageFiles(files, resolution)
    if p.suffix == ".npz" and p.is_file():
        return TensorImages(_npz_images(p, resolution))  # uint8 (N, 3, H, W)
    raise DataError(f"--images {p} is neither a folder of images nor an .npz file")


def _npz_images(path: Path, resolution: int | None) -> torch.Tensor:
    try:
        with np.load(path, allow_pickle=False) as data:
            names = list(data.files)
            key = names[0] if len(names) == 1 else next((k for k in NPZ_KEYS if k in names), None)
            if key is None:
                raise DataError(f"{path} holds {names}; name the image array one of {NPZ_KEYS}")
            array = data[key]
    except (ValueError, OSError) as err:
        raise DataError(f"{path} is not a NumPy .npz of images ({err})") from err
    if array.dtype != np.uint8 or array.ndim != 4 or 3 not in (array.shape[1], array.shape[3]):
        raise DataError(
            f"{path}[{key!r}] is {array.dtype} {array.shape}; expected uint8 images of shape "
            "(N, H, W, 3) or (N, 3, H, W) — convert floats with (x·127.5 + 127.5).round()"
        )
    if array.shape[0] == 0:
        raise DataError(f"{path}[{key!r}] holds 0 images; there is nothing to score")
    images = torch.from_numpy(array)
    if images.shape[-1] == 3 and images.shape[1] != 3:
        images = images.permute(0, 3, 1, 2)  # (N, H, W, 3) -> (N, 3, H, W)
    if resolution and images.shape[-1] != resolution:
        images = torch.nn.functional.interpolate(
            images.float(), size=(resolution, resolution), mode="bicubic", antialias=True
        )
        images = images.round().clamp(0, 255).to(torch.uint8)
    return images.contiguous()
