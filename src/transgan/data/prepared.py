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
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from transgan.data.datasets import DataError

FORMAT = "transgan-prepared/1"
INDEX = "dataset.json"


def is_prepared(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / INDEX).is_file()


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


def prepare(
    source: str,
    resolution: int,
    out: Path,
    *,
    data_root: str = "data",
    max_broken_fraction: float = 0.1,
) -> dict[str, Any]:
    """Write ``source`` (a folder or a built-in data set) at ``resolution`` to ``out``."""
    from transgan import progress
    from transgan.data import build_dataset
    from transgan.data.labels import build_labeled_dataset
    from transgan.images import quantize

    if out.exists():
        raise DataError(f"{out} exists; choose a new folder for the prepared data set")
    try:
        dataset = build_labeled_dataset(
            source, resolution, data_root, max_broken_fraction=max_broken_fraction
        )
        class_names, labels = list(dataset.class_names), dataset.labels
    except DataError:  # no classes: images only
        dataset = build_dataset(
            source, resolution, data_root, max_broken_fraction=max_broken_fraction
        )
        class_names, labels = [], None
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    n = len(dataset)
    images = np.lib.format.open_memmap(
        tmp / "images.npy", mode="w+", dtype=np.uint8, shape=(n, resolution, resolution, 3)
    )
    for i in progress.bar(range(n), desc=f"preparing {source}", unit="img"):
        item = dataset[i]
        image = item[0] if isinstance(item, tuple | list) else item
        images[i] = quantize(image, "round").permute(1, 2, 0).numpy()
    images.flush()
    del images
    if labels is not None:
        np.save(tmp / "labels.npy", labels.numpy().astype(np.int64))
    scan = getattr(dataset, "scan", None)  # folders: what the scan found
    index = {
        "format": FORMAT,
        "source": str(source),
        "resolution": resolution,
        "count": n,
        "class_names": class_names,
        "source_scan": scan.summary() if scan is not None else {},
    }
    (tmp / INDEX).write_text(json.dumps(index, indent=2))
    os.replace(tmp, out)
    return index
