"""A loader that cycles forever, shards per rank and resumes at an exact position.

Sample ``i`` of a rank (counted from the start of training) is element ``i mod L`` of epoch
``i div L``'s permutation, restricted to that rank's shard (L = len // world, so shards are
equal and disjoint). The permutation depends only on (seed, epoch), so the position after a
resume is just the number of samples already consumed.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from transgan.data.datasets import TensorImages
from transgan.data.errors import DataError

# The signals that ask a training run to stop (with a state) rather than die.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGUSR1") if hasattr(signal, name)
)


def ignore_stop_signals(worker_id: int) -> None:
    """Data-loader workers leave stop signals to the main process.

    A scheduler (SLURM, systemd, ``kill -- -PGID``) signals every process of the job. A
    worker that died of it would take the main process down with a DataLoader error before
    it could save its state; ignoring the signal, the worker lives until the main process
    has stopped and shuts the loader down (workers also exit when the main process is gone).
    """
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


class ShardSampler(Sampler[int]):
    """Infinite index stream for one rank, starting at sample ``start``."""

    def __init__(
        self, size: int, *, rank: int = 0, world_size: int = 1, seed: int = 0, start: int = 0
    ) -> None:
        if size < world_size:
            raise DataError(f"data set has {size} images, fewer than the {world_size} ranks")
        self.size, self.rank, self.world_size = size, rank, world_size
        self.seed, self.start = seed, start
        self.shard_len = size // world_size

    def shard(self, epoch: int) -> torch.Tensor:
        """Indices of this rank's shard in ``epoch``, in order."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(self.size, generator=gen)[: self.shard_len * self.world_size]
        return perm[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        i = self.start
        while True:
            epoch, offset = divmod(i, self.shard_len)
            order = self.shard(epoch)
            yield from order[offset:].tolist()
            i = (epoch + 1) * self.shard_len


class InfiniteLoader:
    """Batches of ``batch_size`` images from a ``ShardSampler``, forever.

    In-memory data is sliced directly; file data goes through a DataLoader with workers
    (and pinned memory when ``pin_memory``). Neither touches torch's global RNG.
    """

    def __init__(
        self,
        dataset: Dataset,
        sampler: ShardSampler,
        batch_size: int,
        *,
        workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        if batch_size > sampler.shard_len:
            raise DataError(
                f"batch of {batch_size} per rank is larger than the {sampler.shard_len} images "
                "in each rank's shard; lower --batch or use more data"
            )
        self.dataset, self.sampler, self.batch_size = dataset, sampler, batch_size
        self.workers, self.pin_memory = workers, pin_memory

    def __iter__(self) -> Iterator[torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
        if isinstance(self.dataset, TensorImages):
            indices = iter(self.sampler)
            labels = getattr(self.dataset, "labels", None)  # LabeledTensorImages: (x, y)
            while True:
                batch = [next(indices) for _ in range(self.batch_size)]
                if labels is None:
                    yield self.dataset.images[batch]
                else:
                    yield self.dataset.images[batch], labels[batch]
        loader = DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=self.sampler,
            num_workers=self.workers,
            pin_memory=self.pin_memory,
            drop_last=True,
            persistent_workers=self.workers > 0,
            prefetch_factor=4 if self.workers > 0 else None,
            generator=torch.Generator().manual_seed(self.sampler.seed),
            worker_init_fn=ignore_stop_signals if self.workers > 0 else None,
        )
        yield from loader
