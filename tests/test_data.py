"""Data: the built-in digits, the resumable sharded sampler, the loader."""

from __future__ import annotations

import itertools

import pytest
import torch

from transgan.data import DataError, InfiniteLoader, ShardSampler, build_dataset


def test_digits_are_rgb_in_range_at_model_resolution() -> None:
    ds = build_dataset("digits", 24)
    assert len(ds) == 1198  # the training split; 599 are held out
    x = ds[0]
    assert x.shape == (3, 24, 24)
    assert x.min() >= -1 and x.max() <= 1
    assert torch.equal(x[0], x[1])  # grey: the three channels are equal


def test_digits_splits_are_disjoint_and_cover_all() -> None:
    from transgan.data.datasets import digits_split

    train, _ = digits_split("train")
    test, labels = digits_split("test")
    everything, _ = digits_split("all")
    assert len(train) + len(test) == len(everything) == 1797
    as_rows = lambda t: {tuple(r.flatten().tolist()) for r in t}  # noqa: E731
    # a few digits in scikit-learn's set are pixel-identical duplicates; almost none cross
    assert len(as_rows(train) & as_rows(test)) <= 5
    assert set(labels.tolist()) == set(range(10))


def test_shards_of_ranks_are_disjoint_and_cover_equal_parts() -> None:
    samplers = [ShardSampler(103, rank=r, world_size=3, seed=5) for r in range(3)]
    epoch0 = [set(itertools.islice(iter(s), 34)) for s in samplers]
    assert all(len(e) == 34 for e in epoch0)
    assert not (epoch0[0] & epoch0[1]) and not (epoch0[1] & epoch0[2])


def test_sampler_resumes_at_the_exact_position() -> None:
    full = list(itertools.islice(iter(ShardSampler(10, seed=1)), 37))
    resumed = list(itertools.islice(iter(ShardSampler(10, seed=1, start=23)), 14))
    assert resumed == full[23:]


def test_sampler_reshuffles_each_epoch() -> None:
    stream = list(itertools.islice(iter(ShardSampler(50, seed=0)), 100))
    assert sorted(stream[:50]) == list(range(50))
    assert stream[:50] != stream[50:]


def test_loader_cycles_forever_in_batches() -> None:
    ds = build_dataset("digits", 8)
    batches = iter(InfiniteLoader(ds, ShardSampler(len(ds)), 500))
    shapes = [next(batches).shape for _ in range(5)]  # 2500 > 1797: wraps into epoch 2
    assert shapes == [(500, 3, 8, 8)] * 5


def test_batch_larger_than_shard_is_explained() -> None:
    ds = build_dataset("digits", 8)
    with pytest.raises(DataError, match="lower --batch"):
        InfiniteLoader(ds, ShardSampler(len(ds), world_size=2), 1000)


def test_unknown_data_name_is_explained() -> None:
    with pytest.raises(DataError, match="neither a built-in data set"):
        build_dataset("cifar100", 32)


def test_offline_torchvision_download_fails_with_a_clear_message(tmp_path) -> None:
    # No network here: the error must say where to put the files.
    with pytest.raises(DataError, match="--data-root"):
        build_dataset("cifar10", 32, root=tmp_path, download=False)
