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

from transgan.data.datasets import BUILTIN_SPLITS, DataError

# Built-in data sets whose labels belong to another split than the one `--data` trains on.
LABELLED_ELSEWHERE = {"stl10": "train"}

FORMAT = "transgan-prepared/1"
INDEX = "dataset.json"


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


def check_disk_space(out: Path, needed: int, what: str) -> None:
    """Refuse before writing when the file system of ``out`` has less than ``needed`` bytes
    free (with 5 % to spare)."""
    folder = out.parent if out.parent.exists() else Path.cwd()
    free = shutil.disk_usage(folder).free
    if needed * 1.05 > free:
        raise DataError(
            f"{what} need {needed / 2**30:.1f} GiB in {out}, and its disk has "
            f"{free / 2**30:.1f} GiB free; choose a smaller --resolution, or another disk"
        )


def prepare(
    source: str,
    resolution: int,
    out: Path,
    *,
    data_root: str = "data",
    max_broken_fraction: float = 0.1,
    labelled_split: bool = False,
) -> dict[str, Any]:
    """Write ``source`` (a folder or a built-in data set) at ``resolution`` to ``out``.

    The prepared set holds exactly the images ``--data source`` trains on, with their labels
    where that split has them. ``labelled_split``: for a data set whose labels come with
    another split than the one trained on (STL-10: 100,000 unlabelled images, a labelled
    5,000-image train split), prepare the labelled split instead, for ``--cond``.
    """
    from transgan import progress
    from transgan.data import build_dataset
    from transgan.data.labels import build_labeled_dataset
    from transgan.images import quantize

    if out.exists():
        raise DataError(f"{out} exists; choose a new folder for the prepared data set")
    other_split = LABELLED_ELSEWHERE.get(source)
    if labelled_split and other_split is None:
        raise DataError(
            f"--labelled-split is for data sets whose labels come with another split "
            f"({', '.join(LABELLED_ELSEWHERE)}); {source!r} keeps its labels where it has them"
        )
    split = BUILTIN_SPLITS.get(source)
    if other_split is not None and not labelled_split:  # the images --data trains on
        dataset = build_dataset(
            source, resolution, data_root, max_broken_fraction=max_broken_fraction
        )
        class_names, labels = [], None
    else:
        if labelled_split:
            split = other_split
        try:
            dataset = build_labeled_dataset(
                source, resolution, data_root, max_broken_fraction=max_broken_fraction
            )
            class_names, labels = list(dataset.class_names), dataset.labels
        except DataError:  # no classes: images only
            if labelled_split:
                raise
            dataset = build_dataset(
                source, resolution, data_root, max_broken_fraction=max_broken_fraction
            )
            class_names, labels = [], None
    tmp = out.with_name(out.name + ".partial")
    n = len(dataset)
    check_disk_space(out, n * resolution * resolution * 3, f"{n:,} images at {resolution} px")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        images = np.lib.format.open_memmap(
            tmp / "images.npy", mode="w+", dtype=np.uint8, shape=(n, resolution, resolution, 3)
        )
        for i in progress.bar(range(n), desc=f"preparing {source}", unit="img"):
            item = dataset[i]
            image = item[0] if isinstance(item, tuple | list) else item
            images[i] = quantize(image, "round").permute(1, 2, 0).numpy()
        images.flush()
        del images
    except BaseException:  # an error or Ctrl-C: leave no half-written folder behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if labels is not None:
        np.save(tmp / "labels.npy", labels.numpy().astype(np.int64))
    scan = getattr(dataset, "scan", None)  # folders: what the scan found
    index = {
        "format": FORMAT,
        "source": str(source),
        "split": split,  # of a built-in data set; None for folders
        "resolution": resolution,
        "count": n,
        "class_names": class_names,
        "source_scan": scan.summary() if scan is not None else {},
    }
    (tmp / INDEX).write_text(json.dumps(index, indent=2))
    os.replace(tmp, out)
    return index
