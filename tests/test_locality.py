"""Locality-aware attention: the masks, the schedule, and that masked tokens stay local."""

from __future__ import annotations

import torch

import transgan
from transgan.models.layers import Block
from transgan.models.locality import LocalityMasks, LocalitySchedule, window_mask


def _allowed(mask: torch.Tensor, width: int, y: int, x: int) -> set[tuple[int, int]]:
    row = mask[y * width + x]
    return {(int(i) // width, int(i) % width) for i in row.nonzero().flatten()}


def test_2d_window_admits_exactly_the_chebyshev_neighbourhood() -> None:
    mask = window_mask(5, 1, "2d")
    assert mask.shape == (25, 25)
    assert _allowed(mask, 5, 2, 2) == {(y, x) for y in (1, 2, 3) for x in (1, 2, 3)}
    assert _allowed(mask, 5, 0, 0) == {(0, 0), (0, 1), (1, 0), (1, 1)}  # corner
    assert _allowed(mask, 5, 4, 2) == {(y, x) for y in (3, 4) for x in (1, 2, 3)}  # edge
    # Row-major neighbours across a row break are *not* 2-D neighbours.
    assert (1, 0) not in _allowed(mask, 5, 0, 4)


def test_1d_band_follows_raster_order() -> None:
    mask = window_mask(5, 2, "1d")
    assert _allowed(mask, 5, 0, 4) == {(0, 2), (0, 3), (0, 4), (1, 0), (1, 1)}


def test_schedule_widens_then_ends_global() -> None:
    schedule = LocalitySchedule(windows=(1, 2, 4), until_kimg=(10.0, 20.0, 30.0))
    assert [schedule.radius_at(k) for k in (0, 9.9, 10, 25, 30, 1e6)] == [1, 1, 2, 4, None, None]


def test_masked_token_ignores_tokens_outside_its_window() -> None:
    width, radius = 6, 1
    block = Block(8, num_heads=2)
    mask = window_mask(width, radius)
    x = torch.randn(1, width * width, 8)
    base = block(x, mask)
    query = 2 * width + 2  # token (2, 2)
    outside, inside = 5 * width + 5, 3 * width + 3  # (5, 5) and (3, 3)
    for token, should_change in ((outside, False), (inside, True)):
        x2 = x.clone()
        x2[0, token] += torch.randn(8) * 10
        changed = not torch.allclose(block(x2, mask)[0, query], base[0, query], atol=1e-6)
        assert changed is should_change, token


def test_masks_are_cached_and_installed_on_the_chosen_blocks() -> None:
    gan = transgan.create_model("transgan_tiny")
    g = gan.generator
    masks = LocalityMasks("2d", blocks="last")
    masks.apply([g], 2)
    assert list(g.block_masks) == [(2, 0)]  # last block of the last stage
    first = g.block_masks[(2, 0)]
    masks.apply([g], None)
    assert g.block_masks == {}
    masks.apply([g], 2)
    assert g.block_masks[(2, 0)] is first  # built once, reused
    LocalityMasks("1d", blocks="all").apply([g], 3)
    assert len(g.block_masks) == sum(gan.config.generator.depths)


def test_generator_with_mask_still_runs_and_differs() -> None:
    gan = transgan.create_model("transgan_tiny")
    z = torch.randn(2, 64)
    free = gan.generator(z)
    LocalityMasks("2d", blocks="all").apply([gan.generator], 1)
    local = gan.generator(z)
    assert torch.isfinite(local).all() and not torch.allclose(free, local)
