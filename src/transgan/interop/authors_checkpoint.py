"""Reading and writing the authors' checkpoint files (``transgan import`` / ``export``).

An authors' checkpoint (SPEC-v2 §8.2) is a ``torch.save`` dict with ``avg_gen_state_dict``
(the EMA generator), ``gen_state_dict``, ``dis_state_dict``, optimizer states, ``epoch``,
``fixed_z`` and ``path_helper``; every key carries DDP's ``module.`` prefix. A bare state
dict is accepted too. Files are opened with ``torch.load(weights_only=True)`` only: a file
that needs more than tensors and plain containers is refused before any of it runs.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from transgan.fileio import error_detail
from transgan.interop.authors_layout import LayoutError, authors_map, fixed_buffers
from transgan.models.layers import RelativePositionBias, relative_position_index
from transgan.presets import ModelConfig, build_discriminator, build_generator, list_models
from transgan.presets import get_config as preset_config

WHICH = {"avg_gen": "avg_gen_state_dict", "gen": "gen_state_dict", "dis": "dis_state_dict"}
# Tensors the authors carry that we do not keep: compared or dropped (SPEC-v2 §8, §10.7).
_DROPPED_BUFFERS = ("Hz_fbank",)  # the CelebA-HQ D's augmentation filter bank
_UNUSED_BATCHNORM = "to_rgb.0."  # v1 generators: a BatchNorm the forward never calls


class CheckpointError(ValueError):
    """An authors' checkpoint that cannot be converted; the message says why and what fits."""


@dataclass
class Imported:
    network: nn.Module
    config: ModelConfig
    which: str
    notes: list[str] = field(default_factory=list)
    epoch: int | None = None


def _numpy_data_types() -> list:
    """NumPy's data-only types, under the names NumPy 1 and 2 pickle them with: the authors'
    files hold ``best_fid`` as a NumPy scalar. They build values, never call code."""
    import numpy as np

    core = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    allowed: list = [np.dtype, np.ndarray]
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed += [
            (core.scalar, f"{module}.scalar"),
            (core._reconstruct, f"{module}._reconstruct"),
        ]
    allowed += [type(np.dtype(t)) for t in ("f8", "f4", "i8", "i4", "u1", "b1")]
    return allowed


def load_authors_file(path: str | os.PathLike[str]) -> Any:
    """The unpickled file, with tensors, plain containers and NumPy data only (never code)."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint {p} does not exist")
    try:
        with torch.serialization.safe_globals(_numpy_data_types()):
            return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"refused {p}: torch.load(weights_only=True) cannot read it "
            f"({error_detail(err)}): it is damaged, truncated or in another format, or it "
            "needs more than tensors to load. TransGAN opens checkpoints with "
            "torch.load(weights_only=True) only, so a file cannot run code. Check the "
            "download (size, checksum); if you trust the file, re-save just its state dicts "
            "(torch.save({'avg_gen_state_dict': ckpt['avg_gen_state_dict']}, 'clean.pth')) "
            "in a separate Python session and import that"
        ) from err
    except Exception as err:  # zip errors, EOF, IndexError from a damaged stream, …
        raise CheckpointError(
            f"{p} is not a readable PyTorch checkpoint ({type(err).__name__}: "
            f"{error_detail(err)}); check the file, or pass the .pth file the authors released"
        ) from err


def pick_state_dict(checkpoint: Any, which: str, path: str) -> tuple[dict, int | None, str]:
    """The state dict for ``which`` (avg_gen, gen, dis) without ``module.``, the epoch, and
    a label of where it came from, for messages."""
    if which not in WHICH:
        raise CheckpointError(f"--which must be one of {', '.join(WHICH)}, got {which!r}")
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path} holds a {type(checkpoint).__name__}, not a dict")
    epoch = checkpoint.get("epoch") if isinstance(checkpoint.get("epoch"), int) else None
    if any(key in checkpoint for key in WHICH.values()):
        if WHICH[which] not in checkpoint:
            present = [k for k, v in WHICH.items() if v in checkpoint]
            raise CheckpointError(
                f"{path} has no {WHICH[which]}; it has {', '.join(present)} (--which)"
            )
        state, label = checkpoint[WHICH[which]], f"{path} ({WHICH[which]})"
    elif checkpoint and all(torch.is_tensor(v) for v in checkpoint.values()):
        state, epoch, label = checkpoint, None, f"{path} (a bare state dict)"
    else:
        keys = ", ".join(list(map(str, checkpoint))[:8])
        raise CheckpointError(
            f"{path} is neither an authors' checkpoint (avg_gen_state_dict, gen_state_dict, "
            f"dis_state_dict) nor a bare state dict; its keys: {keys}"
        )
    return {k.removeprefix("module."): v for k, v in state.items()}, epoch, label


def _network_for(config: ModelConfig, which: str) -> nn.Module:
    """The network with uninitialised weights (they are all about to be overwritten)."""
    with torch.device("meta"):
        network = build_discriminator(config) if which == "dis" else build_generator(config)
    network = network.to_empty(device="cpu")
    for module in network.modules():  # the one non-persistent buffer: recompute it
        if isinstance(module, RelativePositionBias):
            module.index = relative_position_index(module.window)
    return network


def _expected(network: nn.Module) -> dict[str, tuple[int, ...]]:
    return {e.theirs: e.shape for e in authors_map(network)}


def _ignorable(key: str) -> bool:
    return key.startswith(_UNUSED_BATCHNORM) or key in _DROPPED_BUFFERS


def fitting_presets(state: dict[str, torch.Tensor], which: str) -> list[str]:
    """Presets whose authors' layout has exactly the keys and shapes of ``state``."""
    have = {k: tuple(v.shape) for k, v in state.items() if not _ignorable(k)}
    fits = []
    for name in list_models():
        try:
            with torch.device("meta"):
                config = preset_config(name)
                network = build_discriminator(config) if which == "dis" else build_generator(config)
            if _expected(network) == have:
                fits.append(name)
        except (LayoutError, ValueError, TypeError):
            continue
    return fits


def _mismatch_message(
    path: str, preset: str, expected: dict, state: dict, which: str, limit: int = 8
) -> str | None:
    have = {k: tuple(v.shape) for k, v in state.items() if not _ignorable(k)}
    missing = sorted(set(expected) - set(have))
    unexpected = sorted(set(have) - set(expected))
    shapes = sorted(k for k in set(have) & set(expected) if have[k] != expected[k])
    if not (missing or unexpected or shapes):
        return None
    lines = [f"{path} does not fit preset {preset}:"]
    for title, keys in (("missing", missing), ("unexpected", unexpected)):
        if keys:
            more = f" … and {len(keys) - limit} more" if len(keys) > limit else ""
            lines.append(f"  {len(keys)} {title} keys: {', '.join(keys[:limit])}{more}")
    if shapes:
        shown = ", ".join(f"{k} {have[k]} (preset: {expected[k]})" for k in shapes[:limit])
        lines.append(f"  {len(shapes)} keys of the wrong shape: {shown}")
    if "to_tokens.weight" in have or any(k.startswith(("stages.", "scales.")) for k in have):
        lines.append(
            "  these are this package's own key names, not the authors': load them with "
            "load_state_dict, or use the network-snapshot-*.safetensors of the run"
        )
    elif fits := [name for name in fitting_presets(state, which) if name != preset]:
        lines.append(f"  it fits preset {' / '.join(fits)}: pass --preset {fits[0]}")
    else:
        lines.append(
            "  no preset fits exactly; if it is a variant, pass --set overrides "
            "(e.g. --set g_dim=256) to describe it"
        )
    return "\n".join(lines)


def import_state(
    state: dict[str, torch.Tensor], config: ModelConfig, which: str, path: str = "checkpoint"
) -> Imported:
    """Our network of ``config`` holding the authors' tensors ``state`` (strict)."""
    network = _network_for(config, which)
    entries = authors_map(network)
    message = _mismatch_message(path, config.name, _expected(network), state, which)
    if message:
        raise CheckpointError(message)
    notes = []
    ours = fixed_buffers(network)
    for entry in entries:
        if entry.buffer and not torch.equal(
            state[entry.theirs].to(torch.int64), ours[entry.theirs]
        ):
            raise CheckpointError(
                f"{path}: {entry.theirs} differs from the index this preset computes; the "
                "window sizes of the checkpoint and of preset "
                f"{config.name} disagree (try --set g_windows=... / d_windows=...)"
            )
    if any(e.buffer for e in entries):
        notes.append("relative_position_index buffers checked against ours and dropped")
    dropped = sorted(k for k in state if _ignorable(k))
    if dropped:
        notes.append(
            f"dropped {len(dropped)} tensors the forward pass never uses: "
            f"{', '.join(dropped[:6])}{' …' if len(dropped) > 6 else ''}"
        )
    converted = {}
    targets = network.state_dict()
    for entry in entries:
        if entry.ours is None:
            continue
        value = state[entry.theirs]
        target = targets[entry.ours]
        converted[entry.ours] = value.reshape(target.shape).to(target.dtype)
    unused_gains = [k for k, v in converted.items() if k.endswith("cross.noise.gain") and v.item()]
    for key in unused_gains:  # the authors' forward never reads this gain (SPEC-v2 §10.7)
        converted[key] = torch.zeros_like(converted[key])
    if unused_gains:
        notes.append(
            f"{len(unused_gains)} cross-attention noise gains set to 0: the authors' "
            "forward never applies them"
        )
    network.load_state_dict(converted, strict=True)
    return Imported(network.eval(), config, which, notes)


def import_checkpoint(
    path: str | os.PathLike[str],
    preset: str,
    which: str = "avg_gen",
    overrides: dict[str, Any] | None = None,
) -> Imported:
    """Convert the authors' checkpoint at ``path`` into our network of ``preset``."""
    checkpoint = load_authors_file(path)
    state, epoch, label = pick_state_dict(checkpoint, which, str(path))
    try:
        config = preset_config(preset, **(overrides or {}))
    except ValueError as err:
        raise CheckpointError(str(err)) from err
    try:
        imported = import_state(state, config, which, label)
    except LayoutError as err:
        raise CheckpointError(f"preset {preset}: {err}") from err
    imported.epoch = epoch
    return imported


def authors_state_dict(network: nn.Module, prefix: str = "module.") -> dict[str, torch.Tensor]:
    """``network``'s tensors under the authors' names and shapes, buffers included."""
    state = network.state_dict()
    out = {}
    for entry in authors_map(network):
        if entry.ours is not None:
            out[prefix + entry.theirs] = state[entry.ours].detach().cpu().reshape(entry.shape)
    for key, value in fixed_buffers(network).items():
        out[prefix + key] = value
    return out


def export_checkpoint(
    network: nn.Module, which: str, path: str | os.PathLike[str], epoch: int = 0
) -> list[str]:
    """Write ``network`` as an authors' checkpoint at ``path``; returns notes."""
    from transgan.fileio import atomic_path

    notes = []
    state = authors_state_dict(network)
    gains = [k for k, v in state.items() if k.endswith("cross_attention.noise_strength_1") and v]
    if gains:
        notes.append(
            f"{len(gains)} cross-attention noise gains are not 0: the authors' "
            "forward ignores them, so their code computes a different function"
        )
    if which == "dis" and getattr(network.config, "overlap_first", False):
        notes.append(
            "the authors' CelebA-HQ D also has an Hz_fbank buffer (augmentation) "
            "that we do not write; load with strict=False there"
        )
    checkpoint: dict[str, Any] = {WHICH[which]: state, "epoch": epoch}
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)
    return notes
