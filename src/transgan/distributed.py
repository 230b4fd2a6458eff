"""One process or many: the same training code runs alone or under ``torchrun``.

Under torchrun (RANK / WORLD_SIZE / LOCAL_RANK set) the process group uses NCCL on GPUs and
gloo on the CPU. Shutting down follows the order that avoids gloo's abort at exit
("terminate called without an active exception"): the caller drops its DDP modules and
optimizers first, then ``shutdown`` runs a barrier and destroys the group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from transgan.runtime import resolve_device


@dataclass(frozen=True)
class DistInfo:
    rank: int  # global rank of this process
    world_size: int  # number of processes
    local_rank: int  # rank on this node
    device: torch.device  # this process's device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def _timeout() -> timedelta:
    """Collective timeout: long, since ranks wait while rank 0 computes metrics."""
    return timedelta(minutes=float(os.environ.get("TRANSGAN_DIST_TIMEOUT_MIN", "120")))


def _attempt_store(rank: int, world: int) -> dist.Store:
    """The rendezvous store, under a prefix of its own for each torchrun restart attempt.

    After ``torchrun --max-restarts`` restarts the workers, the store still holds the
    previous attempt's keys (gloo's peer addresses among them); restarted workers would
    read those and fail to connect. A prefix per attempt keeps the attempts apart.
    """
    agent_hosts = os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "False") == "True"
    store = dist.TCPStore(
        os.environ["MASTER_ADDR"],
        int(os.environ["MASTER_PORT"]),
        world,
        is_master=rank == 0 and not agent_hosts,
        timeout=timedelta(minutes=10),
    )
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    return dist.PrefixStore(f"transgan/attempt{attempt}", store)


def launched_by_torchrun() -> bool:
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the process group if launched by torchrun, else describe a single process."""
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) == 1:
        return DistInfo(0, 1, 0, resolve_device(device))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ["LOCAL_RANK"])
    dev = resolve_device(device)
    store = _attempt_store(rank, world)
    common = {"timeout": _timeout(), "store": store, "rank": rank, "world_size": world}
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
        dist.init_process_group("nccl", device_id=dev, **common)
    else:
        dist.init_process_group("gloo", **common)
    return DistInfo(rank, world, local_rank, dev)


def shutdown(info: DistInfo) -> None:
    """Barrier, then destroy the process group (call after dropping DDP modules)."""
    if info.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum of ``tensor`` over ranks (a copy; the input is unchanged)."""
    out = tensor.clone()
    if info.enabled:
        dist.all_reduce(out)
    return out


def all_gather_bytes(tensor: torch.Tensor, info: DistInfo) -> list[torch.Tensor]:
    """Every rank's copy of a same-shaped CPU uint8 tensor (e.g. an RNG state)."""
    if not info.enabled:
        return [tensor]
    moved = tensor.to(info.device)
    parts = [torch.empty_like(moved) for _ in range(info.world_size)]
    dist.all_gather(parts, moved)
    return [p.cpu() for p in parts]


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True if ``flag`` is true on any rank (a collective: every rank must call it)."""
    if not info.enabled:
        return flag
    t = torch.tensor([int(flag)], device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())
