"""Class labels for ``--cond``: which data sets have them, and the labelled views.

- ``digits`` (and its splits): the digit, classes ``0`` … ``9``;
- ``cifar10``: torchvision's labels and class names (training split);
- ``stl10``: the labelled ``train`` split (5,000 images, 10 classes) — the unlabelled split
  the unconditional models train on has no labels;
- a folder with one subfolder per class: the subfolder names, sorted, are the classes;
- ``celeba``: no class labels, refused.

A labelled data set returns ``(image, label)`` and carries ``class_names`` and ``labels``
(a (N,) tensor: the class counts give the proportions that evaluation samples classes in).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.utils.data import Dataset

from transgan.data.datasets import (
    BUILTIN_SPLITS,
    DataError,
    MappedDataset,
    TensorImages,
    digits_split,
    load_digits,
)
from transgan.data.prepared import PreparedDataset, is_prepared


class LabeledTensorImages(TensorImages):
    """In-memory images with labels; ``dataset[idx]`` is ``(images, labels)``."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, class_names: list[str]) -> None:
        super().__init__(images)
        self.labels, self.class_names = labels, class_names

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        return self.images[index], self.labels[index]


class LabeledDataset(Dataset):
    """``(image, label)`` pairs of ``dataset`` (which returns pairs), with class names."""

    def __init__(self, dataset: Dataset, labels: torch.Tensor, class_names: list[str]) -> None:
        self.dataset, self.labels, self.class_names = dataset, labels, class_names

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = self.dataset[index]
        return image, int(label)


def pair_of(item: tuple[torch.Tensor, int]) -> tuple[torch.Tensor, int]:
    return item[0], int(item[1])


def build_labeled_dataset(
    data: str,
    resolution: int,
    root: str | os.PathLike[str] = "data",
    download: bool = True,
    max_broken_fraction: float = 0.1,
) -> LabeledDataset | LabeledTensorImages:
    """The data set named ``data`` with its class labels; a DataError when it has none."""
    if data in ("digits", "digits-test", "digits-all"):
        split = BUILTIN_SPLITS[data]
        images = load_digits(resolution, split).images
        _, labels = digits_split(split)
        return LabeledTensorImages(images, labels, [str(i) for i in range(10)])
    if data.startswith("mnist") and data in BUILTIN_SPLITS:
        from transgan.data.mnist import load_mnist

        mnist = load_mnist(data, resolution, root)
        labelled = LabeledTensorImages(mnist.images, mnist.digits, mnist.class_names)
        labelled.source = mnist.source  # which MNIST, for the run's start-up lines
        return labelled
    if data in ("cifar10", "stl10"):
        return _torchvision_labeled(data, resolution, Path(root), download)
    if is_prepared(data):
        return PreparedDataset(Path(data), resolution, with_labels=True)
    if data == "celeba":
        raise DataError(
            "--cond needs class labels, and celeba has none here (its 40 attributes are not "
            "classes); train it without --cond, or pass a folder with one subfolder per class"
        )
    folder = Path(data)
    if not folder.is_dir():
        raise DataError(f"--data {data!r} is neither a built-in data set nor a folder")
    return _folder_labeled(folder, resolution, max_broken_fraction)


def _torchvision_labeled(name: str, resolution: int, root: Path, download: bool) -> LabeledDataset:
    from torchvision import datasets

    from transgan.data.datasets import _to_model_range

    try:
        if name == "cifar10":
            ds = datasets.CIFAR10(
                root, train=True, download=download, transform=_to_model_range(resolution)
            )
            labels = torch.as_tensor(ds.targets)
        else:
            ds = datasets.STL10(
                root, split="train", download=download, transform=_to_model_range(resolution)
            )
            labels = torch.as_tensor(ds.labels)
    except (RuntimeError, OSError) as err:
        raise DataError(
            f"could not load {name} from {root}: {err}. On a machine without internet, "
            f"download it elsewhere into {root} (torchvision's layout) or pass --data-root"
        ) from err
    return LabeledDataset(MappedDataset(ds, pair_of), labels.long(), list(ds.classes))


def _folder_labeled(folder: Path, resolution: int, max_broken_fraction: float) -> LabeledDataset:
    from transgan.data.folder import ImageFolder

    images = ImageFolder(folder, resolution, max_broken_fraction=max_broken_fraction)
    root = folder.resolve()
    parts = [Path(f).resolve().relative_to(root).parts for f in images.files]
    loose = [Path(*p) for p in parts if len(p) < 2]
    if loose:
        raise DataError(
            f"--cond reads classes from subfolders of {folder}, but {len(loose)} images lie "
            f"directly in it (e.g. {loose[0]}); move every image into a subfolder named after "
            "its class, or train without --cond"
        )
    class_names = sorted({p[0] for p in parts})
    if len(class_names) < 2:
        raise DataError(
            f"--cond needs at least two classes (subfolders with images) in {folder}, "
            f"found {class_names}"
        )
    index = {name: i for i, name in enumerate(class_names)}
    labels = torch.tensor([index[p[0]] for p in parts])
    labeled = LabeledDataset(_FolderPairs(images, labels), labels, class_names)
    labeled.scan = images.scan  # the usable / broken / converted accounting
    return labeled


class _FolderPairs(Dataset):
    def __init__(self, images: Dataset, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])


def class_shares(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Each class's share of ``labels`` (num_classes,), float: the proportions that training
    and evaluation draw the generator's classes in."""
    counts = torch.bincount(labels.long(), minlength=num_classes).double()
    return (counts / counts.sum()).float()


def find_class(value: str, names: list[str]) -> int | None:
    """The index of the class ``value`` names: a class name first, else an index in range;
    None when it names none of ``names``."""
    if value in names:
        return names.index(value)
    if value.isdigit() and int(value) < len(names):
        return int(value)
    return None
