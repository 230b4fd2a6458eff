"""Snapshots: the small file users share — EMA generator weights + config, in safetensors.

safetensors holds only tensors and a string→string header, so opening a snapshot from a
stranger cannot run code. The model config travels in the header as JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from transgan.fileio import atomic_path, error_detail
from transgan.presets import ModelConfig, build_generator

SNAPSHOT_FORMAT = "transgan-snapshot/1"
HUB_WEIGHTS = "model.safetensors"  # the snapshot inside a Hub-ready folder (`export --format hub`)
# owner/name or owner/name@revision, as the Hugging Face Hub names model repositories
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*(@[\w./-]+)?$")
DISCRIMINATOR_FORMAT = "transgan-discriminator/1"  # `transgan import --which dis`


class SnapshotError(ValueError):
    """A file that is not a usable TransGAN snapshot."""


def save_snapshot(
    path: str | os.PathLike[str],
    generator: nn.Module,
    config: ModelConfig,
    extra: dict[str, Any] | None = None,
    file_format: str = SNAPSHOT_FORMAT,
) -> None:
    """Write ``generator``'s weights and ``config`` to ``path`` (.safetensors) atomically.

    ``file_format=DISCRIMINATOR_FORMAT`` writes a discriminator the same way."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in generator.state_dict().items()}
    metadata = {
        "format": file_format,
        "model_config": json.dumps(config.to_dict()),
        "extra": json.dumps(extra or {}),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def resolve_snapshot(ref: str | os.PathLike[str]) -> Path:
    """The snapshot file that ``ref`` names: a file as it is; a folder written by
    ``transgan export --format hub`` (its ``model.safetensors``); or, when nothing of that
    name is here, a Hugging Face Hub model id ``owner/name[@revision]``, fetched into the
    Hub's cache with ``huggingface_hub`` (``pip install 'transgan[hub]'``)."""
    path = Path(ref)
    if path.is_dir():
        weights = path / HUB_WEIGHTS
        if not weights.is_file():
            raise SnapshotError(
                f"{path} is a folder without {HUB_WEIGHTS}; pass a network-snapshot-*.safetensors "
                "file or a folder written by `transgan export --format hub`"
            )
        return weights
    text = str(ref)
    if path.exists() or text.endswith(".safetensors") or not _HUB_ID.match(text):
        return path
    return _download_from_hub(text)


def snapshot_files(ref: str | os.PathLike[str] | None) -> tuple[Path, ...]:
    """The local files a snapshot reference reads: a file itself; a Hub folder's weights
    (and the folder); nothing for a Hub id or None. For ``check_output``'s inputs."""
    if ref is None:
        return ()
    path = Path(ref)
    return (path, path / HUB_WEIGHTS) if path.is_dir() else (path,)


def _download_from_hub(hub_id: str) -> Path:
    repo, _, revision = hub_id.partition("@")
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as err:
        raise SnapshotError(
            f"{hub_id!r} is not a file or folder here; to fetch it as a Hugging Face Hub model "
            "install the hub extra: pip install 'transgan[hub]'"
        ) from err
    try:
        weights = Path(hf_hub_download(repo, HUB_WEIGHTS, revision=revision or None))
    except Exception as err:  # offline, unknown repository, no such file: all say why
        raise SnapshotError(
            f"{hub_id!r} is not a file or folder here, and fetching it from the Hugging Face "
            f"Hub as model {repo!r}{f' at revision {revision!r}' if revision else ''} failed "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}). Check "
            "the path, or the id and your network (HF_HUB_OFFLINE=1 uses the cache only)"
        ) from err
    # the folder's record (training config, metrics) beside the weights, if it has one;
    # not every repository has one, and the weights are all a model needs
    with contextlib.suppress(Exception):
        hf_hub_download(repo, "config.json", revision=revision or None)
    return weights


def read_snapshot(
    path: str | os.PathLike[str], file_format: str = SNAPSHOT_FORMAT
) -> tuple[dict[str, torch.Tensor], ModelConfig, dict]:
    """Tensors, config and extra metadata of a snapshot (or of ``file_format``); refuses
    anything else."""
    p = resolve_snapshot(path)
    if not p.is_file():
        raise SnapshotError(
            f"snapshot {p} does not exist; pass a network-snapshot-*.safetensors file, a "
            "folder from `transgan export --format hub`, or a Hub id owner/name"
        )
    try:
        with safe_open(str(p), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as err:
        raise SnapshotError(
            f"{p} is not a safetensors file ({err}); TransGAN loads snapshots only from "
            "network-snapshot-*.safetensors files written by `transgan train` and never "
            "unpickles, so a model file cannot run code"
        ) from err
    if metadata.get("format") != file_format:
        raise SnapshotError(
            f"{p} is a safetensors file but not a TransGAN "
            f"{'snapshot' if file_format == SNAPSHOT_FORMAT else 'discriminator file'} "
            f"(format {metadata.get('format')!r}, expected {file_format!r})"
        )
    return tensors, config_of(p, metadata), _extra_of(p, metadata)


def config_of(path: Path, metadata: dict[str, str]) -> ModelConfig:
    """The model config in a snapshot's header, checked as a preset is (types, ranges)."""
    from transgan.presets import list_models

    try:
        config = ModelConfig.from_dict(json.loads(metadata["model_config"]))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        what = "is not valid JSON" if isinstance(err, json.JSONDecodeError) else "is not usable"
        raise SnapshotError(
            f"{path}: the model config in its header {what} ({type(err).__name__}: {err}); "
            "the file was edited or damaged. Use the snapshot as `transgan train` wrote it"
        ) from err
    if config.name not in list_models():
        raise SnapshotError(
            f"{path}: its header names the preset {config.name!r}, which this version of "
            f"transgan does not know (it knows {', '.join(list_models())}); the file was "
            "edited, or written by a newer transgan (then upgrade: pip install -U transgan)"
        )
    return config


def _extra_of(path: Path, metadata: dict[str, str]) -> dict:
    try:
        extra = json.loads(metadata.get("extra", "{}"))
    except ValueError as err:
        raise SnapshotError(f"{path}: the 'extra' entry of its header is not JSON ({err})") from err
    if not isinstance(extra, dict):
        raise SnapshotError(f"{path}: the 'extra' entry of its header is not a JSON object")
    return extra


def load_generator(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[nn.Module, ModelConfig]:
    """The generator of a snapshot, in eval mode on ``device``, and its config.

    A snapshot taken while locality-aware attention was in force records that mask; it is
    installed again, so the generator computes what the run evaluated at that kimg.
    """
    from transgan.models.locality import apply_recorded_mask

    tensors, config, extra = read_snapshot(path)
    try:
        generator = build_generator(config)
        generator.load_state_dict(tensors)
    except (RuntimeError, ValueError, TypeError) as err:
        raise SnapshotError(
            f"{path} does not match its own config ({error_detail(err)}); the file was "
            "edited or damaged. Use the snapshot as `transgan train` wrote it"
        ) from err
    generator = generator.to(device).eval().requires_grad_(False)
    apply_recorded_mask(generator, extra.get("locality"))
    return generator, config


def load_discriminator(path: str | os.PathLike[str]) -> tuple[nn.Module, ModelConfig]:
    """A discriminator written by ``transgan import --which dis``, in eval mode, on CPU."""
    from transgan.presets import build_discriminator

    tensors, config, _ = read_snapshot(path, DISCRIMINATOR_FORMAT)
    try:
        discriminator = build_discriminator(config)
        discriminator.load_state_dict(tensors)
    except (RuntimeError, ValueError, TypeError) as err:
        raise SnapshotError(f"{path} does not match its own config ({error_detail(err)})") from err
    return discriminator.eval().requires_grad_(False), config


def _metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    path = resolve_snapshot(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise SnapshotError(f"{path} is not a safetensors file ({err})") from err


def file_format_of(path: str | os.PathLike[str]) -> str | None:
    """The ``format`` entry of a safetensors file's header (None when it has none)."""
    return _metadata(path).get("format")


def read_snapshot_extra(path: str | os.PathLike[str]) -> dict:
    """A snapshot's ``extra`` metadata (kimg, locality, class names …) without its tensors."""
    return _extra_of(Path(path), _metadata(path))
