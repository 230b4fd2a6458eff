"""Where code runs: device choice and seeding."""

from __future__ import annotations

import random

import numpy as np
import torch

# Seeds are 32-bit: each rank seeds with seed · world_size + rank, within torch's 64 bits.
MAX_SEED = 2**32 - 1


class DeviceError(ValueError):
    """A device this machine does not have."""

    usage = True  # the command line answers with exit status 2


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; other names are checked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise DeviceError(
            f"--device {name!r} is not a device name; use auto, cpu, cuda or cuda:N"
        ) from err
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name}: CUDA is not available here; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(
                f"--device {name}: this machine has {torch.cuda.device_count()} CUDA devices"
            )
    elif device.type != "cpu":
        raise DeviceError(f"--device {name}: only cpu and cuda are supported; use auto or cpu")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
