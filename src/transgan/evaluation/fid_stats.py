"""FID against precomputed reference statistics (``eval --ref-stats``, ``fid-stats``).

The statistics are the mean and covariance of 2048-d pool3 features of torch-fidelity's
TF-compatible Inception-v3, stored as ``.npz`` with ``mu`` / ``sigma`` as TTUR and pytorch-fid
write them (the authors ship theirs in ``fid_stat/``); ``mean`` / ``cov`` are read too.

Images reach Inception as uint8. How float samples in [-1, 1] become uint8 moves FID:
``round`` (ours: x·127.5 + 127.5 rounded, clamped) or ``truncate`` (the authors' test
script: the same value cast down, which darkens every pixel by half a level on average).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from transgan import progress
from transgan.evaluation.metrics import EvalError, Uint8Generator
from transgan.images import quantize

FEATURES = "2048"


def read_ref_stats(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """``mu`` (D,) and ``sigma`` (D, D) as float64 from a TTUR / pytorch-fid ``.npz``."""
    p = Path(path)
    if not p.is_file():
        raise EvalError(f"reference statistics {p} do not exist")
    try:
        with np.load(p, allow_pickle=False) as data:
            keys = set(data.files)
            for mean_key, cov_key in (("mu", "sigma"), ("mean", "cov")):
                if {mean_key, cov_key} <= keys:
                    mu, sigma = data[mean_key], data[cov_key]
                    break
            else:
                raise EvalError(
                    f"{p} holds {sorted(keys)}; expected mu and sigma (TTUR, pytorch-fid) "
                    "or mean and cov"
                )
    except (ValueError, OSError) as err:
        raise EvalError(f"{p} is not a NumPy .npz file of FID statistics ({err})") from err
    mu, sigma = np.asarray(mu, np.float64).ravel(), np.asarray(sigma, np.float64)
    if sigma.shape != (mu.size, mu.size):
        raise EvalError(f"{p}: sigma has shape {sigma.shape}, expected ({mu.size}, {mu.size})")
    if mu.size != int(FEATURES):
        raise EvalError(
            f"{p} holds {mu.size}-d statistics; FID here uses Inception's {FEATURES}-d "
            "pool3 features"
        )
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise EvalError(f"{p} contains NaN or infinite values")
    return mu, sigma


def write_ref_stats(
    path: str | os.PathLike[str], mu: np.ndarray, sigma: np.ndarray, num_images: int
) -> None:
    """Write ``mu`` / ``sigma`` (float64) like TTUR's ``np.savez_compressed``, plus the count."""
    from transgan.fileio import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, mu=mu, sigma=sigma, num_images=np.int64(num_images))


def inception(weights: Path | None, device: torch.device) -> nn.Module:
    """torch-fidelity's TF-compatible Inception-v3, returning pool3 features."""
    from torch_fidelity.utils import create_feature_extractor

    try:
        extractor = create_feature_extractor(
            "inception-v3-compat",
            [FEATURES],
            cuda=device.type == "cuda",
            feature_extractor_weights_path=str(weights) if weights else None,
            verbose=False,
        )
    except OSError as err:
        from transgan.evaluation.weights import INCEPTION_FILE, INCEPTION_URL, WEIGHTS_ENV

        raise EvalError(
            f"could not get the Inception weights ({err}); download {INCEPTION_FILE} from "
            f"{INCEPTION_URL} and pass --inception-weights PATH (or set {WEIGHTS_ENV})"
        ) from err
    return extractor


def statistics(
    batches: Iterator[torch.Tensor], extractor: nn.Module, total: int, desc: str
) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean, covariance (float64, unbiased) and count of features of uint8 batches."""
    device = next(extractor.parameters()).device
    features = []
    with torch.no_grad(), progress.bar(total=total, desc=desc, unit="img", leave=False) as bar:
        for batch in batches:
            features.append(extractor(batch.to(device))[0].double().cpu())
            bar.update(batch.shape[0])
    if not features or sum(f.shape[0] for f in features) < 2:
        raise EvalError("FID statistics need at least 2 images")
    feats = torch.cat(features).numpy()
    return feats.mean(axis=0), np.cov(feats, rowvar=False), feats.shape[0]


def dataset_batches(dataset: Dataset, batch_size: int) -> Iterator[torch.Tensor]:
    """A data set's [-1, 1] images as uint8 batches (exact for images loaded from uint8)."""
    for images in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        if isinstance(images, list | tuple):
            images = images[0]
        yield quantize(images, "round")


def generator_batches(
    generator: nn.Module,
    latent_dim: int,
    count: int,
    batch_size: int,
    mode: str,
    seed: int = 0,
    class_probs: torch.Tensor | None = None,
) -> Iterator[torch.Tensor]:
    """``count`` samples of ``generator`` as uint8 batches; z from ``seed``, noise seeded; a
    conditional generator's classes drawn with ``class_probs`` (uniform when None)."""
    device = next(generator.parameters()).device
    z_rng = torch.Generator().manual_seed(seed)
    wrapped = Uint8Generator(
        generator, noise_seed=seed, quantize_mode=mode, class_probs=class_probs
    )
    for start in range(0, count, batch_size):
        n = min(batch_size, count - start)
        yield wrapped(torch.randn(n, latent_dim, generator=z_rng).to(device))


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """FID between two Gaussians (float64; torch-fidelity's TTUR-derived formula)."""
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    first = {"mu": mu1.astype(np.float64), "sigma": sigma1.astype(np.float64)}
    second = {"mu": mu2.astype(np.float64), "sigma": sigma2.astype(np.float64)}
    return float(fid_statistics_to_metric(first, second, verbose=False)[KEY_METRIC_FID])


def fids_against_stats(
    ref_stats: str | os.PathLike[str],
    specs: list,
    batches_for: Callable[[int], tuple[Iterator[torch.Tensor], int]],
    weights: Path | None,
    device: torch.device,
) -> dict[str, float]:
    """FID of each ``fidN`` spec against the statistics in ``ref_stats``.

    ``batches_for(N)`` gives uint8 batches of the N samples to score, and how many there are.
    """
    others = [s.name for s in specs if s.kind != "fid"]
    if others:
        raise EvalError(
            f"--ref-stats holds reference statistics for FID only; drop {', '.join(others)} "
            "or run them without --ref-stats (against --data)"
        )
    mu_ref, sigma_ref = read_ref_stats(ref_stats)
    extractor = inception(weights, device)
    results = {}
    for spec in specs:
        batches, count = batches_for(spec.num_samples)
        mu, sigma, _ = statistics(batches, extractor, count, spec.name)
        results[spec.name] = frechet_distance(mu, sigma, mu_ref, sigma_ref)
    return results
