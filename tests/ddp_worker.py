"""Run under torchrun by test_ddp.py: a few DDP training iterations, then each rank saves
its weights, its LeCam anchors (mode ``lecam``) and the data indices it drew, for the test
to compare across ranks."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from conftest import tiny_train_config

from transgan.data import InfiniteLoader, ShardSampler, build_dataset
from transgan.distributed import init_distributed, shutdown
from transgan.runtime import seed_everything
from transgan.training.setup import build_networks, wrap_for_training
from transgan.training.steps import TickStats, train_iteration


def main(out: Path, mode: str = "mtct", iterations: int = 3) -> None:
    from transgan.training.losses import LossConfig

    info = init_distributed("cpu")
    if mode == "lecam":
        cfg = tiny_train_config(loss=LossConfig("logistic", r1_gamma=0.1, lecam_weight=0.3))
    else:
        cfg = tiny_train_config(batch=8, g_batch=8, mtct_weight=10.0)
    torch.manual_seed(cfg.seed)
    nets = build_networks(cfg, cfg.model_config(), info)
    seed_everything(cfg.seed * info.world_size + info.rank)
    wrap_for_training(nets, cfg, info)
    dataset = build_dataset("digits", 16)
    local = cfg.batch // info.world_size
    sampler = ShardSampler(len(dataset), rank=info.rank, world_size=info.world_size)
    data = iter(InfiniteLoader(dataset, sampler, local))
    for i in range(iterations):
        train_iteration(
            nets,
            data,
            cfg,
            device=info.device,
            local_batch=local,
            local_g_batch=cfg.g_batch // info.world_size,
            nimg_step=cfg.batch * cfg.n_critic,
            nimg_after=(i + 1) * 16,
            stats=TickStats(),
        )
    drawn = list(itertools.islice(iter(sampler), iterations * cfg.n_critic * local))
    torch.save(
        {
            "generator": nets.generator.state_dict(),
            "discriminator": nets.discriminator.state_dict(),
            "ema": nets.ema.module.state_dict(),
            "indices": torch.tensor(drawn),
            "lecam": nets.lecam.state_dict() if nets.lecam is not None else {},
        },
        out / f"rank{info.rank}.pt",
    )
    del nets, data
    shutdown(info)


if __name__ == "__main__":
    main(Path(sys.argv[1]), *sys.argv[2:3])
