"""IS / FID / KID / precision-recall through torch-fidelity — a thin bridge, no TensorFlow.

Generator output in [-1, 1] becomes uint8 B×3×H×W (x·127.5 + 128, clamped) on the fly; no
PNGs are written. Real-data features are cached by torch-fidelity under a name that holds
the data set (``data.datasets.data_key``: a built-in set's name and split, or a folder's
resolved path and a fingerprint of its file list), the resolution, the sample count and a
hash of the Inception weights — so neither another folder of the same name, nor changed
files, nor other weights ever reuse stale statistics.

Inception weights: torch-fidelity downloads ``weights-inception-2015-12-05-6726825d.pth``
on first use into torch's hub cache. Offline, pass a local copy (``--inception-weights``
or ``TRANSGAN_INCEPTION_WEIGHTS``). A weights file is opened with
``torch.load(weights_only=True)`` before torch-fidelity sees it, so it cannot run code.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from transgan.data.datasets import MappedDataset
from transgan.evaluation.weights import (
    INCEPTION_FILE,
    INCEPTION_URL,
    WEIGHTS_ENV,
    EvalError,
    weights_tag,
)
from transgan.images import quantize, to_uint8
from transgan.models.layers import noise_from
from transgan.sampling import stream_seed

_METRIC = re.compile(r"^(fid|is|kid|pr|fdd|[dm]fid|[dm]is|[dm]kid|[dm]cov|[dm]acc)(\d+)(k?)$")
_FIDELITY_FLAG = {
    "fid": "fid",
    "is": "isc",
    "kid": "kid",
    "pr": "prc",
    "fdd": "fid",
    "dfid": "fid",
    "dis": "isc",
    "dkid": "kid",
    "mfid": "fid",
    "mis": "isc",
    "mkid": "kid",
}
# torch-fidelity's result key -> the suffix after our metric name ("fid50k", "is50k_mean").
_RESULT_KEYS = {
    "fid": {"frechet_inception_distance": ""},
    "is": {"inception_score_mean": "_mean", "inception_score_std": "_std"},
    "kid": {"kernel_inception_distance_mean": "_mean", "kernel_inception_distance_std": "_std"},
    "pr": {"precision": "_precision", "recall": "_recall"},
}
for _kind in ("fid", "is", "kid"):
    _RESULT_KEYS["d" + _kind] = _RESULT_KEYS["m" + _kind] = _RESULT_KEYS[_kind]
_RESULT_KEYS["fdd"] = _RESULT_KEYS["fid"]
DIGITS_KINDS = ("dfid", "dis", "dkid", "dcov", "dacc")  # the digits classifier's
MNIST_KINDS = ("mfid", "mis", "mkid", "mcov", "macc")  # the MNIST classifier's
# *cov (coverage) and *acc (conditional accuracy) read the classifier's predictions directly.
PREDICTION_KINDS = ("dcov", "dacc", "mcov", "macc")


def feature_extractor_of(kind: str) -> str:
    """Which network a metric kind reads features from: inception, vgg16, dinov2, or the
    digits or MNIST classifier."""
    if kind in DIGITS_KINDS:
        return "digits"
    if kind in MNIST_KINDS:
        return "mnist"
    if kind == "fdd":
        return "dinov2"
    return "vgg16" if kind == "pr" else "inception"


@dataclass(frozen=True)
class MetricSpec:
    name: str  # as the user wrote it, e.g. "fid50k"
    kind: str  # fid, is, kid or pr
    num_samples: int  # generated images


MAX_SAMPLES = 1_000_000  # 20× the paper's 50k; more is a typo, not a protocol


def parse_metrics(text: str) -> list[MetricSpec]:
    """``"fid50k,is50k,kid1000"`` -> specs. Counts take an optional ``k`` (×1000)."""
    specs = []
    for name in (t.strip() for t in text.split(",") if t.strip()):
        m = _METRIC.match(name)
        if not m:
            raise EvalError(
                f"unknown metric {name!r}; write fid|is|kid|pr|fdd (Inception/VGG/DINOv2), "
                "dfid|dkid|dis|dcov|dacc (digits classifier) or mfid|mkid|mis|mcov|macc "
                "(MNIST classifier) followed by a sample count, e.g. fid50k, is10k, kid1000, "
                "pr50k, dfid2k, mfid2k"
            )
        count = int(m.group(2)) * (1000 if m.group(3) else 1)
        if count < 2:
            raise EvalError(f"metric {name!r} needs at least 2 samples")
        if count > MAX_SAMPLES:
            raise EvalError(
                f"metric {name!r} asks for {count:,} samples; at most {MAX_SAMPLES:,} are "
                "drawn (the paper's protocol is 50k: fid50k)"
            )
        specs.append(MetricSpec(name, m.group(1), count))
    if not specs:
        raise EvalError(
            f"--metrics {text!r} names no metric; give at least one, e.g. fid50k,is50k (or "
            "dfid2k,dcov2k on the digits)"
        )
    return specs


def digits_metrics_note(specs: list[MetricSpec], data: str) -> str | None:
    """A warning when digits metrics are asked for images that are not the digits: they
    score against the held-out digits whatever ``data`` is, so the number then measures how
    digit-like the images are, not how close they are to ``data``."""
    from transgan.data.prepared import is_digits

    names = [s.name for s in specs if s.kind in DIGITS_KINDS and not is_digits(data)]
    names += [s.name for s in specs if s.kind in MNIST_KINDS and not data.startswith("mnist")]
    if not names:
        return None
    return (
        f"{', '.join(names)} score{'s' if len(names) == 1 else ''} against the held-out "
        f"handwritten digits (scikit-learn's for d…, MNIST for m…), but the data is {data!r}, "
        "another set: the number says how much the images look like those digits, not how "
        "close they are to that data. Use fid/kid (Inception) or fdd (DINOv2) for other images"
    )


class Uint8Generator(nn.Module):
    """G(z) as uint8 images, on whatever device torch-fidelity's noise arrives."""

    def __init__(
        self,
        generator: nn.Module,
        noise_seed: int = 0,
        quantize_mode: str = "round",
        class_probs: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.generator = generator
        self.quantize_mode = quantize_mode  # "round" or "truncate" (images.quantize)
        device = next(generator.parameters()).device
        # v2 noise injection draws from a private RNG: evaluation never touches the global
        # RNG (the training state's), and the same snapshot gives the same numbers.
        self.rng = torch.Generator(device=device).manual_seed(stream_seed(noise_seed, "noise"))
        # A conditional G draws its classes in the data's proportions (uniform if unknown).
        classes = getattr(getattr(generator, "config", None), "num_classes", 0)
        if classes and class_probs is None:
            class_probs = torch.full((classes,), 1.0 / classes)
        self.class_probs = class_probs.float().cpu() if classes else None
        self.label_rng = torch.Generator().manual_seed(stream_seed(noise_seed, "labels"))

    @torch.no_grad()
    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        device = next(self.generator.parameters()).device
        args = [z.to(device)]
        if self.class_probs is not None:
            if labels is None:
                labels = torch.multinomial(
                    self.class_probs, z.shape[0], replacement=True, generator=self.label_rng
                )
            args.append(labels.to(device))
        with noise_from(self.generator, self.rng):
            return quantize(self.generator(*args), self.quantize_mode)


def real_subset(dataset: Dataset, max_real: int | None) -> Dataset:
    """The first ``max_real`` images of a fixed shuffle (all when None)."""
    n = len(dataset)  # type: ignore[arg-type]
    if max_real is None or max_real >= n:
        return dataset
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:max_real]
    return Subset(dataset, order.tolist())


def evaluate(
    generator: nn.Module | Dataset,
    latent_dim: int,
    real: Dataset,
    real_key: str,
    metrics: list[MetricSpec],
    *,
    inception_weights: Path | None = None,
    dinov2_weights: Path | None = None,
    cache_dir: str | None = None,
    batch_size: int = 64,
    verbose: bool = False,
    quantize_mode: str = "round",
    class_probs: torch.Tensor | None = None,
) -> dict[str, float]:
    """Compute ``metrics`` for ``generator`` against ``real``.

    Args:
        generator: maps z (B, latent_dim) to images in [-1, 1]; its device is used. Or a
            data set of uint8 (3, H, W) images to score instead (``eval --images``).
        real: the reference images in [-1, 1] (e.g. the training set).
        real_key: names the real set in the feature cache (data set + resolution + count).
        inception_weights: a local weights file (see ``weights.resolve_inception_weights``).
        dinov2_weights: the DINOv2 ViT-L/14 weights file for fdd (``dinov2.resolve_weights``:
            else the env variable, torch's hub cache, or a download).
            Digits metrics (dfid, dkid, dis, dcov) ignore ``real``: their reference is the
            held-out ``digits-test`` split (see ``digits_metric.py``).
        quantize_mode: how samples become uint8, "round" or "truncate" (``images.quantize``).
        class_probs: a conditional generator's class proportions (default: uniform).
    Returns:
        ``{"fid50k": ..., "is50k_mean": ..., "kid50k_mean": ..., "pr50k_precision": ...}``.
    """
    import torch_fidelity

    images = generator if isinstance(generator, Dataset) else None  # eval --images
    if images is not None:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = next(generator.parameters()).device
    results: dict[str, float] = {}
    # One torch-fidelity call per (sample count, feature extractor): Inception-v3 for
    # fid/is/kid, VGG-16 for precision/recall (as Kynkäänniemi et al.), the digits
    # classifier for dfid/dis/dkid; dcov reads the classifier's predictions directly.
    groups = sorted({(m.num_samples, feature_extractor_of(m.kind)) for m in metrics})
    for count, extractor in groups:
        group = [
            m
            for m in metrics
            if m.num_samples == count and feature_extractor_of(m.kind) == extractor
        ]
        kinds = {m.kind for m in group}
        if images is not None:
            source = _first(images, count, group[0].name)
            input1: object = source
        else:
            input1 = torch_fidelity.GenerativeModelModuleWrapper(
                Uint8Generator(generator, quantize_mode=quantize_mode, class_probs=class_probs),
                latent_dim,
                "normal",
                0,
            )
        if kinds & set(PREDICTION_KINDS):
            if images is not None:
                results.update(_digit_predictions_of_images(source, group))
            else:
                wrapped = Uint8Generator(generator, class_probs=class_probs)
                results.update(_digit_predictions(wrapped, latent_dim, count, batch_size, group))
            kinds -= set(PREDICTION_KINDS)
            if not kinds:
                continue
        kwargs = {_FIDELITY_FLAG[k]: True for k in kinds}
        reference, reference_key = real, real_key
        if extractor in ("digits", "mnist"):  # their reference is the held-out split
            reference, reference_key = _classifier_reference(extractor)
        extractor_kwargs, weights_name = _extractor_setup(
            extractor, inception_weights, dinov2_weights
        )
        kwargs |= extractor_kwargs
        n_real = len(reference)  # type: ignore[arg-type]
        if kinds & {"kid", "dkid", "mkid"}:
            kwargs["kid_subset_size"] = min(1000, count, n_real)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw = torch_fidelity.calculate_metrics(
                    input1=input1,
                    input1_model_num_samples=count if images is None else None,
                    input2=MappedDataset(reference, to_uint8),
                    input2_cache_name=f"transgan-{reference_key}-n{n_real}-{weights_name}",
                    cache=True,
                    cache_root=cache_dir,
                    cuda=device.type == "cuda",
                    batch_size=batch_size,
                    verbose=verbose,
                    save_cpu_ram=True,
                    **kwargs,
                )
        except OSError as err:  # urllib's URLError is an OSError
            raise _weights_download_error(err, extractor) from err
        for spec in group:
            if spec.kind in PREDICTION_KINDS:
                continue
            for src, suffix in _RESULT_KEYS[spec.kind].items():
                results[spec.name + suffix] = float(raw[src])
    return results


def _extractor_setup(
    extractor: str, inception_weights: Path | None, dinov2_weights: Path | None
) -> tuple[dict, str]:
    """torch-fidelity's options for one feature extractor, and the name its weights go by
    in the reference-feature cache."""
    if extractor in ("digits", "mnist"):
        kwargs = _classifier_extractor_kwargs(extractor)
        return kwargs, f"{extractor}-cnn-{kwargs['feature_extractor_weights_path'].stem}"
    if extractor == "dinov2":
        from transgan.evaluation import dinov2

        dinov2.register()
        weights = dinov2.resolve_weights(dinov2_weights)
        kwargs = {
            "feature_extractor": dinov2.EXTRACTOR_NAME,
            "feature_layer_fid": "dinov2",
            "feature_extractor_weights_path": str(weights),
        }
        return kwargs, f"dinov2-{weights_tag(weights)}"
    weights = inception_weights if extractor == "inception" else None
    kwargs = {"feature_extractor_weights_path": str(weights) if weights else None}
    return kwargs, "vgg16" if extractor == "vgg16" else weights_tag(inception_weights)


def _weights_download_error(err: OSError, extractor: str) -> EvalError:
    """What to do when a feature extractor's weights could not be fetched (offline)."""
    if extractor == "vgg16":
        return EvalError(
            f"precision/recall needs torch-fidelity's VGG-16 weights, which could not "
            f"be downloaded ({err}); run pr* metrics on a connected machine once so "
            f"they land in {Path(torch.hub.get_dir()) / 'checkpoints'}"
        )
    return EvalError(
        f"could not get the Inception weights ({err}). This machine seems offline: "
        f"download {INCEPTION_FILE} from {INCEPTION_URL} on a connected machine, then "
        f"pass it with --inception-weights PATH, set {WEIGHTS_ENV}=PATH, or put it in "
        f"{Path(torch.hub.get_dir()) / 'checkpoints'}"
    )


def _classifier_extractor_kwargs(name: str) -> dict:
    from transgan.evaluation import digits as digits_metric

    classifier_set = digits_metric.CLASSIFIER_SETS[name]
    digits_metric.register(classifier_set)
    return {
        "feature_extractor": classifier_set.extractor_name,
        "feature_layer_fid": "128",
        "feature_layer_kid": "128",
        "feature_layer_isc": "logits_unbiased",
        "feature_extractor_weights_path": digits_metric.classifier_path(classifier_set),
    }


def _classifier_reference(name: str) -> tuple[Dataset, str]:
    """The held-out digits (or MNIST) at the classifier's size: the metrics' reference."""
    from transgan.data.datasets import TensorImages
    from transgan.evaluation import digits as digits_metric

    classifier_set = digits_metric.CLASSIFIER_SETS[name]
    images, _, key = classifier_set.labelled(classifier_set.reference_data)
    return TensorImages(images), key


def _first(images: Dataset, count: int, name: str) -> Dataset:
    """The first ``count`` images of a set given to ``eval --images``."""
    n = len(images)  # type: ignore[arg-type]
    if n < count:
        raise EvalError(
            f"{name} needs {count} images but only {n} were given; score fewer (e.g. "
            f"{re.sub(r'[0-9]+k?$', str(n), name)}) or give more images"
        )
    return Subset(images, range(count)) if n > count else images


def _classifier_set_of(kind: str) -> object:
    from transgan.evaluation import digits as digits_metric

    return digits_metric.MNIST if kind.startswith("m") else digits_metric.DIGITS


def _digit_predictions_of_images(images: Dataset, group: list[MetricSpec]) -> dict[str, float]:
    """``dcovN`` / ``mcovN`` of a set of uint8 images (``*accN`` needs a conditional G)."""
    from transgan.evaluation import digits as digits_metric

    out = {}
    for spec in group:
        if spec.kind in ("dacc", "macc"):
            raise EvalError(f"{spec.name} needs a conditional generator, not a set of images")
        if spec.kind in ("dcov", "mcov"):
            batch = torch.stack([images[i] for i in range(len(images))])  # type: ignore[arg-type]
            record = digits_metric.coverage(batch, _classifier_set_of(spec.kind))
            out.update({spec.name + suffix: v for suffix, v in record.items()})
    return out


def _digit_predictions(
    wrapped: Uint8Generator, latent_dim: int, count: int, batch_size: int, group: list[MetricSpec]
) -> dict[str, float]:
    """``dcovN`` / ``mcovN``: share of the ten digits among N samples' confident predictions,
    the share of confident samples and each digit's share of the samples
    (``digits.coverage``). ``daccN`` / ``maccN``: a conditional G's samples of classes 0…9
    in turn; the share that the classifier assigns to the requested class."""
    from transgan.evaluation import digits as digits_metric

    device = next(wrapped.generator.parameters()).device
    z = torch.randn(count, latent_dim, generator=torch.Generator().manual_seed(0))
    out = {}
    for spec in group:
        classifier_set = _classifier_set_of(spec.kind)
        if spec.kind in ("dcov", "mcov"):
            images = torch.cat([wrapped(c.to(device)).cpu() for c in z.split(batch_size)])
            record = digits_metric.coverage(images, classifier_set)
            out.update({spec.name + suffix: v for suffix, v in record.items()})
        elif spec.kind in ("dacc", "macc"):
            if wrapped.class_probs is None or wrapped.class_probs.numel() != 10:
                raise EvalError(
                    f"{spec.name} measures a conditional digits model (10 classes, trained "
                    "with --cond on digits or MNIST); this generator is not one"
                )
            labels = torch.arange(count) % 10
            images = torch.cat(
                [
                    wrapped(c.to(device), y)
                    for c, y in zip(z.split(batch_size), labels.split(batch_size), strict=True)
                ]
            ).cpu()
            out[spec.name] = digits_metric.accuracy(images, labels, classifier_set)
    return out
