"""Property tests (hypothesis) for DiffAugment and the attention masks on random shapes."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from transgan.models.locality import window_mask
from transgan.training.augment import AugmentConfig, diff_augment

policies = st.lists(st.sampled_from(["color", "translation", "cutout"]), unique=True)


@settings(max_examples=40, deadline=None)
@given(
    b=st.integers(1, 4),
    c=st.integers(1, 4),
    h=st.integers(2, 24),
    w=st.integers(2, 24),
    policy=policies,
    translation=st.floats(0, 0.5),
    cutout=st.floats(0.05, 0.95),
    prob=st.floats(0, 1),
    seed=st.integers(0, 2**31 - 1),
)
def test_diffaugment_keeps_shape_finiteness_and_gradient(
    b, c, h, w, policy, translation, cutout, prob, seed
) -> None:
    torch.manual_seed(seed)
    x = torch.randn(b, c, h, w, requires_grad=True)
    cfg = AugmentConfig(tuple(policy), translation, cutout, prob)
    y = diff_augment(x, cfg)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    if not policy:
        assert torch.equal(y, x)


@settings(max_examples=60, deadline=None)
@given(width=st.integers(1, 12), radius=st.integers(0, 12), kind=st.sampled_from(["2d", "1d"]))
def test_masks_are_symmetric_reflexive_and_sized_as_the_window(width, radius, kind) -> None:
    mask = window_mask(width, radius, kind)
    n = width * width
    assert mask.shape == (n, n)
    assert torch.equal(mask, mask.T) and mask.diagonal().all()
    for token in range(n):
        if kind == "2d":
            y, x = divmod(token, width)
            rows = min(y + radius, width - 1) - max(y - radius, 0) + 1
            cols = min(x + radius, width - 1) - max(x - radius, 0) + 1
            expected = rows * cols
        else:
            expected = min(token + radius, n - 1) - max(token - radius, 0) + 1
        assert mask[token].sum() == expected
    if radius >= width:
        assert mask.all() if kind == "2d" else True
