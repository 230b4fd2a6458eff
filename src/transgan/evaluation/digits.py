"""Offline sanity metrics for the digits and MNIST: a small CNN classifier as the feature
extractor of FID / KID / IS, plus class coverage — one classifier per data set
(``CLASSIFIER_SETS``): ``digits`` (16 px, metric names ``dfid`` …) and ``mnist`` (32 px,
``mfid``, ``mkid``, ``mis``, ``mcov``, ``macc``: the same metrics, trained on the MNIST
training images the run can have, scored against the held-out ``mnist-test``).

Inception features say little about 16-px white-on-black digits and need a download; this
classifier is trained here, deterministically, on the ``digits`` training split (about
20 s on 2 CPU cores, then cached), and its reference is the held-out ``digits-test``
split, which training never sees. It is a *sanity* metric for comparing recipes on the
digits — not a paper metric: its numbers are not comparable with Inception FID.

Metrics (``N`` generated samples, e.g. ``dfid2k``):
- ``dfidN``: Fréchet distance in the classifier's 128-d penultimate features;
- ``dkidN``: kernel (KID) distance in the same features (``dkidN_mean``, ``dkidN_std``);
- ``disN``: Inception-Score formula on the classifier's class probabilities;
- ``dcovN``: class coverage — the share of the ten digits found among confident
  predictions (max probability >= 0.9); ``dcovN_confident`` is the share of confident samples.
  Coverage hides skew (a digit in 1 % of the samples counts as found), so the record also
  holds each digit's share of the samples (``dcovN_share0`` … ``_share9``: the classifier's
  top class, over all N samples; uniform is 0.1) and their extremes ``dcovN_share_min`` /
  ``dcovN_share_max``; ``dcovN_confident_share0`` … ``_confident_share9`` and their
  extremes are the same over the confident samples only.
Each goes through torch-fidelity (``calculate_metrics`` with this feature extractor).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase

from transgan.fileio import atomic_path

CLASSIFIER_VERSION = "v1"  # bump when the architecture or its training changes
CONFIDENT = 0.9
FEATURES = ("128", "logits_unbiased")


@dataclass(frozen=True)
class ClassifierSet:
    """One data set's classifier metrics: its name, metric prefix and input size."""

    name: str  # "digits" or "mnist"
    prefix: str  # the metric names' first letter: dfid… / mfid…
    size: int  # the classifier's input side, px
    train_data: str  # --data name of what it is trained on
    reference_data: str  # --data name of the held-out reference

    @property
    def extractor_name(self) -> str:
        return f"transgan-{self.name}-cnn"

    def labelled(self, data: str) -> tuple[torch.Tensor, torch.Tensor, str]:
        """(images (N, 3, size, size) in [-1, 1], labels, a name for caches) of ``data``."""
        from transgan.data.datasets import data_key
        from transgan.data.labels import build_labeled_dataset

        ds = build_labeled_dataset(data, self.size)
        key = data_key(data, self.size)
        if self.name == "mnist":  # the full MNIST and the offline 5k are not one reference
            key += "-full" if "full" in ds.source else "-5k"
        return ds.images, ds.labels, key


DIGITS = ClassifierSet("digits", "d", 16, "digits", "digits-test")
MNIST = ClassifierSet("mnist", "m", 32, "mnist", "mnist-test")
CLASSIFIER_SETS = {c.name: c for c in (DIGITS, MNIST)}
# kept for callers that know only the digits
EXTRACTOR_NAME = DIGITS.extractor_name


class DigitClassifier(nn.Module):
    """uint8 or [-1, 1] RGB images of any size -> (128-d features, 10 logits), read at
    ``size`` px in grey."""

    def __init__(self, size: int = 16) -> None:
        super().__init__()
        self.size = size
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),  # (B, 1, S, S) -> (B, 32, S, S)
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),  # -> (B, 64, S/2, S/2)
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=2, padding=1),  # -> (B, 64, S/4, S/4)
            nn.ReLU(),
            nn.Flatten(),  # -> (B, 64·S²/16)
            nn.Linear(64 * (size // 4) ** 2, 128),
            nn.ReLU(),
        )
        self.head = nn.Linear(128, 10)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) uint8 in [0, 255] or float in [-1, 1] -> (B, 1, S, S) in [-1, 1]."""
        x = images.float()
        if images.dtype == torch.uint8:
            x = x / 127.5 - 1
        x = x.mean(dim=1, keepdim=True)  # RGB -> grey
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True)
        return x

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(self.prepare(images))
        return features, self.head(features)


def train_classifier(
    epochs: int = 30, seed: int = 0, classifier_set: ClassifierSet = DIGITS
) -> DigitClassifier:
    """Train the classifier on its data set's training images with ±2-px shifts
    (deterministic for a given seed and thread count)."""
    with torch.enable_grad():  # the first use may come from inside an evaluation (no_grad)
        return _train(epochs, seed, classifier_set)


def _train(epochs: int, seed: int, classifier_set: ClassifierSet) -> DigitClassifier:
    images, labels, _ = classifier_set.labelled(classifier_set.train_data)
    images = images.contiguous()
    if classifier_set is not DIGITS:
        epochs = max(1, epochs * 1198 // len(labels))  # about as many steps as the digits'
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = DigitClassifier(classifier_set.size)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(epochs):
        order = torch.randperm(len(labels), generator=gen)
        for batch in order.split(64):
            x = images[batch]
            dy, dx = torch.randint(-2, 3, (2,), generator=gen).tolist()
            x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))  # digits sit on a black border
            loss = F.cross_entropy(model(x)[1], labels[batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval().requires_grad_(False)


def cache_dir() -> Path:
    """Where the trained classifier is kept (``TRANSGAN_CACHE`` or ~/.cache/transgan)."""
    return Path(os.environ.get("TRANSGAN_CACHE", Path.home() / ".cache" / "transgan"))


def classifier_path(classifier_set: ClassifierSet = DIGITS) -> Path:
    """The cached classifier's weights file, trained and written on first use."""
    name = classifier_set.name
    if classifier_set is not DIGITS:  # trained on whichever MNIST this machine has
        name += "-" + classifier_set.labelled(classifier_set.train_data)[2]
    path = cache_dir() / f"{name}-classifier-{CLASSIFIER_VERSION}.safetensors"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        model = train_classifier(classifier_set=classifier_set)
        with atomic_path(path) as tmp:
            save_file(model.state_dict(), str(tmp))
    return path


@functools.lru_cache(maxsize=4)
def load_classifier(path: str | None = None, set_name: str = "digits") -> DigitClassifier:
    """The cached classifier (safetensors: loading it cannot run code)."""
    classifier_set = CLASSIFIER_SETS[set_name]
    model = DigitClassifier(classifier_set.size)
    model.load_state_dict(load_file(path or str(classifier_path(classifier_set))))
    return model.eval().requires_grad_(False)


def test_accuracy(classifier_set: ClassifierSet = DIGITS) -> float:
    """Accuracy of the classifier on its held-out reference."""
    images, labels, _ = classifier_set.labelled(classifier_set.reference_data)
    with torch.no_grad():
        logits = load_classifier(None, classifier_set.name)(images)[1]
    return (logits.argmax(1) == labels).float().mean().item()


# ---------------------------------------------------------------------------------------
# torch-fidelity feature extractor
# ---------------------------------------------------------------------------------------


class DigitsFeatureExtractor(FeatureExtractorBase):
    """torch-fidelity's view of the classifier: features "128" and "logits_unbiased"."""

    classifier_set = DIGITS

    def __init__(self, name: str, features_list: list[str], **kwargs: object) -> None:
        super().__init__(name, features_list)
        weights = kwargs.get("feature_extractor_weights_path")
        self.model = load_classifier(str(weights) if weights else None, self.classifier_set.name)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return FEATURES

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return {"isc": "logits_unbiased", "fid": "128", "kid": "128", "prc": "128"}[metric]

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        return torch.zeros(1, 3, 16, 16, dtype=torch.uint8)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features, logits = self.model.to(images.device)(images)
        by_name = {"128": features, "logits_unbiased": logits}
        return tuple(by_name[name] for name in self.features_list)


class MnistFeatureExtractor(DigitsFeatureExtractor):
    classifier_set = MNIST


def register(classifier_set: ClassifierSet = DIGITS) -> None:
    """Make the set's extractor known to torch-fidelity (idempotent)."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    extractor = MnistFeatureExtractor if classifier_set is MNIST else DigitsFeatureExtractor
    if classifier_set.extractor_name not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(classifier_set.extractor_name, extractor)


def coverage(
    images_uint8: torch.Tensor, classifier_set: ClassifierSet = DIGITS
) -> dict[str, float]:
    """The coverage record, by suffix of the metric's name: "" the share of the ten digits
    among confident predictions, "_confident" the share of confident samples, "_share{d}"
    digit d's share of all samples (top class), "_share_min" / "_share_max" their extremes,
    and "_confident_share{d}" / "_confident_share_min" / "_confident_share_max" the same over
    the confident samples only (all 0 when none is): when many samples are smudges, the
    shares over all samples describe the classifier's guesses on them, not G's digits."""
    with torch.no_grad():
        probs = load_classifier(None, classifier_set.name)(images_uint8.cpu())[1].softmax(dim=1)
    confident = probs.max(dim=1).values >= CONFIDENT
    top = probs.argmax(dim=1)
    record = {"": len(top[confident].unique()) / 10, "_confident": confident.float().mean().item()}
    for prefix, classes in (("", top), ("_confident", top[confident])):
        shares = torch.bincount(classes, minlength=10).float() / max(len(classes), 1)
        record[f"{prefix}_share_min"] = shares.min().item()
        record[f"{prefix}_share_max"] = shares.max().item()
        record.update({f"{prefix}_share{d}": shares[d].item() for d in range(10)})
    return record


def accuracy(
    images_uint8: torch.Tensor, labels: torch.Tensor, classifier_set: ClassifierSet = DIGITS
) -> float:
    """Share of ``images_uint8`` that the classifier assigns to ``labels`` (conditional
    accuracy of a class-conditional digits generator)."""
    with torch.no_grad():
        predicted = load_classifier(None, classifier_set.name)(images_uint8.cpu())[1].argmax(1)
    return (predicted == labels.cpu()).float().mean().item()
