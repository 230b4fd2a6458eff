"""DiffAugment: shapes, gradients, independence per sample, and the off switch."""

from __future__ import annotations

import pytest
import torch

from transgan.training.augment import AugmentConfig, diff_augment, rand_cutout, rand_translation


def test_keeps_shape_and_passes_gradient() -> None:
    x = torch.randn(6, 3, 16, 16, requires_grad=True)
    y = diff_augment(x, AugmentConfig())
    assert y.shape == x.shape
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_none_policy_is_identity() -> None:
    x = torch.randn(4, 3, 8, 8)
    assert torch.equal(diff_augment(x, AugmentConfig.from_string("none")), x)


def test_translation_moves_content_without_changing_it() -> None:
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 4] = 1.0  # one lit pixel in the middle; a ≤2-pixel shift keeps it inside
    for _ in range(20):
        y = rand_translation(x, 0.2)
        assert y.sum() == 1 and y.max() == 1


def test_augmentation_differs_between_samples() -> None:
    x = torch.randn(1, 3, 16, 16).repeat(8, 1, 1, 1)
    y = diff_augment(x, AugmentConfig(cutout_prob=1.0))
    assert not torch.equal(y[0], y[1])


def test_cutout_zeroes_a_square_of_the_given_size_when_fully_inside() -> None:
    torch.manual_seed(3)
    x = torch.ones(64, 1, 16, 16)
    y = rand_cutout(x, 0.25, prob=1.0)  # 4×4 square
    zeros = (y == 0).flatten(1).sum(1)
    assert zeros.max() == 16  # a square fully inside the image has 16 pixels
    assert (zeros <= 16).all() and (zeros > 0).all()


def test_cutout_probability_zero_is_identity() -> None:
    x = torch.randn(5, 3, 8, 8)
    assert torch.equal(rand_cutout(x, 0.5, prob=0.0), x)


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="flip"):
        AugmentConfig.from_string("translation,flip")
