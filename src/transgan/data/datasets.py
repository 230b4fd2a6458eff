"""Data sets, all returning (3, R, R) float images in [-1, 1] at the model's resolution R.

- ``digits``: scikit-learn's handwritten digits (8×8, shipped inside the wheel, no
  download), upscaled to R and repeated to RGB — the offline default. ``digits`` is the
  training split (1,198 images); ``digits-test`` the 599 held out as the digits metrics'
  reference; ``digits-all`` all 1,797 (what ``digits`` meant up to release 0.1).
- ``mnist`` (``-test``, ``-resize``): real 28-px handwriting, padded to 32 px (``mnist.py``).
- ``cifar10``, ``stl10`` (unlabeled split), ``celeba`` (centre crop): torchvision, downloaded
  into ``root`` on first use.
- any folder: every image below it, centre-cropped to a square and resized to R.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from torchvision import transforms

from transgan.data.errors import DataError
from transgan.data.tensor_images import TensorImages

BUILTIN_DATASETS = (
    "digits",
    "digits-test",
    "digits-all",
    "mnist",
    "mnist-test",
    "mnist-resize",
    "mnist-resize-test",
    "cifar10",
    "stl10",
    "celeba",
)


DIGITS_SPLITS = ("train", "test", "all")


def digits_split(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's digits as (N, 8, 8) floats in [0, 1] and (N,) labels, for ``split``.

    A fixed shuffle (seed 0) holds out every third image — 599 of the 1,797 — as ``test``:
    the reference of the digits metrics (``evaluation/digits.py``), never trained on when
    ``--data digits`` (= ``train``, 1,198 images) is used. ``all`` is every image.
    """
    from sklearn.datasets import load_digits as sk_digits

    if split not in DIGITS_SPLITS:
        raise ValueError(f"digits split must be one of {DIGITS_SPLITS}, got {split!r}")
    bunch = sk_digits()
    pixels = torch.as_tensor(bunch.images, dtype=torch.float32) / 16.0  # (N, 8, 8) in [0, 1]
    labels = torch.as_tensor(bunch.target, dtype=torch.long)
    if split == "all":
        return pixels, labels
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    held_out = torch.arange(len(labels)) % 3 == 2
    keep = order[held_out] if split == "test" else order[~held_out]
    return pixels[keep], labels[keep]


def load_digits(resolution: int, split: str = "train") -> TensorImages:
    """scikit-learn's digits (``split``) as white-on-black RGB images at ``resolution``."""
    pixels, _ = digits_split(split)
    images = pixels[:, None]  # (N, 8, 8) -> (N, 1, 8, 8)
    images = F.interpolate(images, size=(resolution, resolution), mode="bilinear")
    images = images.clamp(0, 1).repeat(1, 3, 1, 1) * 2 - 1  # (N, 1, R, R) -> (N, 3, R, R)
    return TensorImages(images.contiguous())


def _to_model_range(resolution: int, crop: int | None = None) -> transforms.Compose:
    steps: list = []
    if crop is not None:
        steps.append(transforms.CenterCrop(crop))
    steps += [
        transforms.Resize(resolution, antialias=True),
        transforms.CenterCrop(resolution),
        transforms.ToTensor(),
        transforms.Normalize([0.5] * 3, [0.5] * 3),  # [0, 1] -> [-1, 1]
    ]
    return transforms.Compose(steps)


class MappedDataset(Dataset):
    """``fn(dataset[i])`` for every item; ``fn`` must be a module-level function so that
    data-loader worker processes can pickle it."""

    def __init__(self, dataset: Dataset, fn: Callable[[Any], torch.Tensor]) -> None:
        self.dataset, self.fn = dataset, fn

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.fn(self.dataset[index])


def image_of(item: tuple[torch.Tensor, Any]) -> torch.Tensor:
    """The image of an (image, label) pair: torchvision data sets without their labels."""
    return item[0]


def _torchvision(name: str, resolution: int, root: Path, download: bool) -> Dataset:
    from torchvision import datasets

    try:
        if name == "cifar10":
            ds = datasets.CIFAR10(
                root, train=True, download=download, transform=_to_model_range(resolution)
            )
        elif name == "stl10":
            ds = datasets.STL10(
                root, split="unlabeled", download=download, transform=_to_model_range(resolution)
            )
        else:
            ds = datasets.CelebA(
                root, split="train", download=download, transform=_to_model_range(resolution, 178)
            )
    except (RuntimeError, OSError) as err:
        raise DataError(
            f"could not load {name} from {root}: {err}. On a machine without internet, "
            f"download it elsewhere into {root} (torchvision's layout) or pass --data-root"
        ) from err
    return MappedDataset(ds, image_of)


# The split each built-in name trains on (and is evaluated against).
BUILTIN_SPLITS = {
    "digits": "train",
    "digits-test": "test",
    "digits-all": "all",
    "mnist": "train",
    "mnist-test": "test",
    "mnist-resize": "train",
    "mnist-resize-test": "test",
    "cifar10": "train",
    "stl10": "unlabeled",
    "celeba": "train",
}


def folder_fingerprint(folder: Path) -> str:
    """sha256 prefix of a folder's resolved path and of its file list (relative name, size,
    mtime of every file below it): another folder, or any added, removed, resized or
    rewritten file, gives another fingerprint. No pixel is read."""
    root = folder.resolve()
    digest = hashlib.sha256(str(root).encode())
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            try:
                stat = path.stat()
            except OSError:
                continue
            rel = path.relative_to(root).as_posix()
            digest.update(f"\0{rel}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def data_key(data: str, resolution: int) -> str:
    """Names the real images of ``--data`` at ``resolution`` in the metrics' feature cache.

    Built-in data sets: their name and split (``cifar10-train-32px``). Folders: the folder's
    name for readability plus ``folder_fingerprint`` (``folder-imgs-3f2a…-64px``), so two
    folders with the same name — or one folder whose files changed — never share statistics.
    """
    if data in BUILTIN_SPLITS:
        return f"{data}-{BUILTIN_SPLITS[data]}-{resolution}px"
    folder = Path(data)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", folder.resolve().name) or "root"
    return f"folder-{name}-{folder_fingerprint(folder)}-{resolution}px"


def build_dataset(
    data: str,
    resolution: int,
    root: str | os.PathLike[str] = "data",
    download: bool = True,
    max_broken_fraction: float = 0.1,
) -> Dataset:
    """The data set named ``data`` (a built-in name or a folder) at ``resolution``.

    ``max_broken_fraction``: for folders, the share of undecodable files that stops training.
    """
    if data == "digits":
        return load_digits(resolution, "train")
    if data in ("digits-test", "digits-all"):
        return load_digits(resolution, data.split("-")[1])
    if data.startswith("mnist") and data in BUILTIN_DATASETS:
        from transgan.data.mnist import load_mnist

        return load_mnist(data, resolution, root)
    if data in BUILTIN_DATASETS:
        return _torchvision(data, resolution, Path(root), download)
    folder = Path(data)
    if not folder.is_dir():
        raise DataError(
            f"--data {data!r} is neither a built-in data set ({', '.join(BUILTIN_DATASETS)}) "
            "nor an existing folder of images"
        )
    from transgan.data.folder import ImageFolder
    from transgan.data.prepared import PreparedDataset, is_prepared

    if is_prepared(folder):  # `transgan prepare-data` output
        return PreparedDataset(folder, resolution)

    return ImageFolder(folder, resolution, max_broken_fraction=max_broken_fraction)
