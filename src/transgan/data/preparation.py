"""Writing a prepared data set (``transgan prepare-data``): decode and resize once.

The format, and why it is a raw uint8 array, is in ``prepared.py`` (the reader).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from transgan.data.datasets import BUILTIN_SPLITS, build_dataset
from transgan.data.errors import DataError
from transgan.data.labels import build_labeled_dataset
from transgan.data.prepared import FORMAT, INDEX

# Built-in data sets whose labels belong to another split than the one `--data` trains on.
LABELLED_ELSEWHERE = {"stl10": "train"}


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
