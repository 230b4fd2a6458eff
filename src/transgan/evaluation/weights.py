"""What the evaluation modules share: their error, and reading feature-network weights files
(an option or environment variable naming a local file; torch.load(weights_only=True) only).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

DINOV2_ENV = "TRANSGAN_DINOV2_WEIGHTS"  # the DINOv2 weights file for fdd (see dinov2.py)


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
