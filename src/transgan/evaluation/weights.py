"""What the evaluation modules share: their error, and reading feature-network weights files
(an option or environment variable naming a local file; torch.load(weights_only=True) only)
— among them the Inception weights of FID / IS / KID, and their tag in feature-cache keys.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import torch

DINOV2_ENV = "TRANSGAN_DINOV2_WEIGHTS"  # the DINOv2 weights file for fdd (see dinov2.py)
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + INCEPTION_FILE
)
WEIGHTS_ENV = "TRANSGAN_INCEPTION_WEIGHTS"


class EvalError(ValueError):
    """Evaluation cannot run as asked; the message says what to change."""


def load_weights_file(path: Path, network: str, file: str, url: str) -> object:
    """A feature network's weights file, read with ``torch.load(weights_only=True)`` only."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise EvalError(
            f"{network} weights {path} do not load with torch.load(weights_only=True) "
            f"({type(err).__name__}); refusing a file that could run code. Use the file "
            f"{file} from {url}"
        ) from err


def given_weights_file(
    path: str | os.PathLike[str] | None, env: str, network: str, option: str
) -> Path | None:
    """The file named by the option, else by the environment variable; it must exist."""
    chosen = path or os.environ.get(env)
    if not chosen:
        return None
    p = Path(chosen).expanduser()
    if not p.is_file():
        raise EvalError(f"{network} weights {p} do not exist (from {option} or {env})")
    return p


def _check_weights_file(path: Path) -> None:
    state = load_weights_file(path, "Inception", INCEPTION_FILE, INCEPTION_URL)
    if not isinstance(state, dict) or "fc.weight" not in state:
        raise EvalError(f"{path} is not an Inception-v3 state dict for torch-fidelity")


def resolve_inception_weights(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The Inception weights to use: the argument, the env variable, or torch's hub cache.

    Returns None when none is local (torch-fidelity will then try to download).
    """
    given = given_weights_file(path, WEIGHTS_ENV, "Inception", "--inception-weights")
    if given is not None:
        _check_weights_file(given)
        return given
    cached = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    if cached.is_file():
        _check_weights_file(cached)
        return cached
    return None


def weights_tag(path: Path | None) -> str:
    """Names the weights in the feature-cache key: a content hash of a local file."""
    if path is None:
        return "tf-inception-2015-12-05"
    stat = Path(path).stat()
    return _file_digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    """sha256 prefix of a file, hashed once per (path, size, mtime): training evaluates
    many times and the Inception file is ~95 MB."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]
