"""Prepared data sets (``transgan prepare-data``): decode and resize once, train many times.

Format: a folder with ``images.npy`` — a uint8 (N, R, R, 3) array that training opens as a
memory map — ``labels.npy`` (int64, when the source has classes) and ``dataset.json`` (format,
resolution, count, class names, and the usable / broken / converted accounting of the source).

Why a raw uint8 array rather than a zip of PNGs: reading image i is one slice of a memory
map — no decoding, no resizing, no per-file open — so a few workers keep a GPU fed at
256 px; the operating system's page cache is shared by every loader worker and every DDP
rank on a machine; and random access by index is what the resumable sampler needs. The cost
is disk: R·R·3 bytes per image (196 KB at 256 px; CelebA-HQ's 30,000 images: 5.9 GB).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from transgan.data.errors import DataError

FORMAT = "transgan-prepared/1"
INDEX = "dataset.json"


def is_digits(data: str) -> bool:
    """Whether ``--data`` is a digits set: a built-in split, or a folder prepared from one."""
    if data in ("digits", "digits-test", "digits-all"):
        return True
    return prepared_source(data) in ("digits", "digits-test", "digits-all")


def is_prepared(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / INDEX).is_file()


def prepared_source(path: str | os.PathLike[str]) -> str | None:
    """The ``source`` a prepared folder was made from (None if ``path`` is not one)."""
    try:
        return json.loads((Path(path) / INDEX).read_text()).get("source")
    except (OSError, ValueError, AttributeError):
        return None


class PreparedDataset(Dataset):
    """A prepared folder as (3, R, R) float images in [-1, 1] (and labels when it has them)."""

    def __init__(self, folder: Path, resolution: int, with_labels: bool = False) -> None:
        index = json.loads((folder / INDEX).read_text())
        if index.get("format") != FORMAT:
            raise DataError(f"{folder / INDEX} is not a {FORMAT} index")
        if index["resolution"] != resolution:
            raise DataError(
                f"{folder} was prepared at {index['resolution']} px but the model needs "
                f"{resolution} px; run `transgan prepare-data SRC --resolution {resolution}` "
                "into another folder"
            )
        self.folder, self.index = folder, index
        self.images = np.load(folder / "images.npy", mmap_mode="r")
        self.class_names: list[str] = index.get("class_names", [])
        self.labels = None
        if with_labels:
            if not self.class_names:
                raise DataError(
                    f"--cond needs class labels and {folder} was prepared without any (its "
                    "source had no class subfolders)"
                )
            self.labels = torch.from_numpy(np.load(folder / "labels.npy"))
        self.scan_summary = index.get("source_scan", {})

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> torch.Tensor | tuple[torch.Tensor, int]:
        pixels = torch.from_numpy(np.array(self.images[i]))  # (R, R, 3) uint8, a copy
        image = pixels.permute(2, 0, 1).float() / 127.5 - 1  # -> (3, R, R) in [-1, 1]
        if self.labels is None:
            return image
        return image, int(self.labels[i])
