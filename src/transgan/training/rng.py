"""Random-number-generator states of every rank, as plain tensors for a training state.

Training draws all its randomness (latents, DiffAugment, penalty mixing) from torch's
global generators, so restoring them replays a run exactly.
"""

from __future__ import annotations

import warnings

import torch

from transgan.distributed import DistInfo, all_gather_bytes


def gather_states(info: DistInfo) -> dict[str, list[torch.Tensor]]:
    """CPU (and CUDA) generator states of all ranks, indexed by rank (collective)."""
    states = {"cpu": all_gather_bytes(torch.get_rng_state(), info)}
    if info.device.type == "cuda":
        states["cuda"] = all_gather_bytes(torch.cuda.get_rng_state(info.device), info)
    return states


def restore_states(states: dict[str, list[torch.Tensor]], info: DistInfo) -> None:
    """Put this rank's saved generator states back."""
    if len(states["cpu"]) != info.world_size:
        warnings.warn(
            f"the training state was saved by {len(states['cpu'])} ranks and is resumed by "
            f"{info.world_size}: weights and optimizers continue exactly, random draws do not",
            stacklevel=2,
        )
        return
    torch.set_rng_state(states["cpu"][info.rank].cpu())
    if info.device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"][info.rank].cpu(), info.device)
