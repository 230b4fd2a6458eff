"""What the MNIST metrics' classifier says about real digits: the share of confident
predictions (max probability >= 0.9) and each digit's share among them, for the held-out
reference digits, and for the same digits squeezed through transgan2_mnist's decoder (area
down to 16 px, bicubic back up to 32, optionally sharpened by tanh(k·x)) — how far a G
whose 16² map were right could get.

    python benchmarks/mnist_ceiling.py [--data mnist-test] [--count 1000]

docs/quality.md (eighth round) has the numbers.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from transgan.evaluation.digits import MNIST, coverage


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats to the uint8 pixels the metrics read."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def through_16px(images: torch.Tensor, sharpen: float) -> torch.Tensor:
    """Area down to 16 px, bicubic back to 32 px, then tanh(sharpen·x) (or a clamp at 1)."""
    small = F.interpolate(images, size=16, mode="area")
    back = F.interpolate(small, size=32, mode="bicubic", align_corners=False)
    return torch.tanh(sharpen * back) if sharpen != 1 else back.clamp(-1, 1)


def describe(name: str, images: torch.Tensor) -> None:
    record = coverage(to_uint8(images), MNIST)
    shares = [100 * record[f"_confident_share{d}"] for d in range(10)]
    print(
        f"{name:34s} confident {100 * record['_confident']:5.1f} %   digits' shares among "
        f"them {min(shares):.1f}–{max(shares):.1f} %  ("
        + " ".join(f"{s:.1f}" for s in shares)
        + ")"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist-test", help="labelled MNIST split to read")
    parser.add_argument("--count", type=int, default=1000, help="images (the first ones)")
    args = parser.parse_args()
    images, _, key = MNIST.labelled(args.data)
    images = images[: args.count]
    print(f"{len(images)} images of {key}")
    describe("real", images)
    for sharpen in (1.0, 2.0, 4.0):
        how = f"tanh({sharpen:g}x)" if sharpen != 1 else "clamped"
        describe(f"16 px, bicubic to 32, {how}", through_16px(images, sharpen))


if __name__ == "__main__":
    main()
