"""Metrics during training: rank 0 evaluates the EMA generator, the other ranks wait.

Design under DDP: evaluation is not split across ranks. Rank 0 alone generates and runs
Inception; the others block in the next collective until it is done (the process group is
created with a long timeout, see ``distributed.py``). No rank repeats another's work and no
collective is left half-entered, so it neither duplicates nor hangs. Problems with the
Inception weights are found before training starts, not at the first evaluation.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from transgan.data.datasets import MappedDataset, data_key, image_of
from transgan.data.labels import class_shares
from transgan.evaluation.metrics import (
    EvalError,
    evaluate,
    feature_extractor_of,
    parse_metrics,
    real_subset,
)
from transgan.evaluation.weights import INCEPTION_URL, resolve_inception_weights
from transgan.fileio import append_jsonl
from transgan.training.config import TrainConfig


class TrainingMetrics:
    """Which metrics to compute, when, and where their records go."""

    def __init__(self, cfg: TrainConfig, dataset: Dataset, img_size: int, latent_dim: int):
        self.specs = parse_metrics(",".join(cfg.metrics))
        self.every_nimg = int(cfg.metrics_every_kimg * 1000)
        self.weights = resolve_inception_weights(cfg.inception_weights)
        needs_inception = any(feature_extractor_of(s.kind) == "inception" for s in self.specs)
        if self.weights is None and needs_inception:
            try:  # fetch now (or fail now), not after hours of training
                torch.hub.load_state_dict_from_url(INCEPTION_URL, progress=False)
            except OSError as err:
                raise EvalError(
                    f"--metrics needs the Inception weights and they cannot be downloaded "
                    f"({err}); pass --inception-weights PATH (see `transgan eval --help`)"
                ) from err
            self.weights = resolve_inception_weights(None)
        self.dinov2_weights = None
        if any(feature_extractor_of(s.kind) == "dinov2" for s in self.specs):
            from transgan.evaluation import dinov2

            self.dinov2_weights = dinov2.resolve_weights(cfg.dinov2_weights)  # fetch it now
        labels = getattr(dataset, "labels", None)  # --cond: pairs; metrics want images
        self.class_probs = class_shares(labels, len(cfg.class_names)) if cfg.cond else None
        if cfg.cond:
            dataset = MappedDataset(dataset, image_of)
        self.real = real_subset(dataset, cfg.metrics_max_real)
        self.real_key = data_key(cfg.data, img_size)
        if cfg.cond and cfg.data == "stl10":  # --cond trains on STL-10's labelled split
            self.real_key = f"stl10-train-{img_size}px"
        self.latent_dim = latent_dim

    def due(self, nimg_before: int, nimg_after: int, snapshot_due: bool) -> bool:
        if self.every_nimg == 0:
            return snapshot_due
        return nimg_after // self.every_nimg > nimg_before // self.every_nimg

    def run(
        self, generator: nn.Module, run_dir: Path, nimg: int, snapshot: Path
    ) -> dict[str, float]:
        start = time.time()
        results = evaluate(
            generator,
            self.latent_dim,
            self.real,
            self.real_key,
            self.specs,
            inception_weights=self.weights,
            dinov2_weights=self.dinov2_weights,
            class_probs=self.class_probs,
        )
        seconds = round(time.time() - start, 2)
        for spec in self.specs:
            values = {k: v for k, v in results.items() if k.startswith(spec.name)}
            append_jsonl(
                run_dir / f"metric-{spec.name}.jsonl",
                {
                    "kimg": round(nimg / 1000, 3),
                    "nimg": nimg,
                    "snapshot": snapshot.name,
                    "num_samples": spec.num_samples,
                    "num_real": len(self.real),
                    "results": values,
                    "seconds": seconds,
                    "time": time.time(),
                },
            )
        return results
