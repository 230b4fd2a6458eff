"""Training data: data sets at the model's resolution in [-1, 1], and a resumable loader."""

from transgan.data.datasets import BUILTIN_DATASETS, DataError, build_dataset
from transgan.data.loader import InfiniteLoader, ShardSampler

__all__ = ["BUILTIN_DATASETS", "DataError", "InfiniteLoader", "ShardSampler", "build_dataset"]
