"""Building what a run trains, and saving / restoring it exactly.

A training state holds G, D, the EMA, both optimizers, the grad scaler, the counters, every
rank's RNG state and the config — tensors, numbers and strings only, so it loads with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from transgan import presets
from transgan.distributed import DistInfo
from transgan.training import rng
from transgan.training.ada import AugmentProbability
from transgan.training.config import TrainConfig
from transgan.training.ema import EMA
from transgan.training.regularizers import LeCamAnchors
from transgan.training.steps import Networks


@dataclass
class Counters:
    nimg: int = 0  # real images shown to D, over all ranks
    tick: int = 0  # completed ticks
    iteration: int = 0  # completed iterations (n_critic D steps + 1 G step)
    data_consumed: int = 0  # samples this rank's loader has delivered
    bad_steps: int = 0  # steps skipped for non-finite gradients
    train_seconds: float = 0.0  # wall-clock time spent training (metrics excluded), all sessions

    def as_dict(self) -> dict[str, float]:
        return dict(vars(self))


def build_networks(cfg: TrainConfig, model_config: presets.ModelConfig, info: DistInfo) -> Networks:
    """G, D, G's EMA, fused Adam for both, and a grad scaler for fp16, on ``info.device``."""
    gan = presets.build_gan(model_config)
    g = gan.generator.to(info.device)
    d = gan.discriminator.to(info.device)
    if cfg.grad_checkpointing:
        for net in (g, d):
            if hasattr(net, "set_grad_checkpointing"):
                net.set_grad_checkpointing(True)
    ema = EMA(g, half_life_kimg=cfg.ema_kimg, rampup=cfg.ema_rampup)
    betas = (float(cfg.beta1), float(cfg.beta2))
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr_g, betas=betas, fused=True)
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr_d, betas=betas, fused=True)
    scaler = torch.amp.GradScaler(info.device.type) if cfg.precision == "fp16" else None
    nets = Networks(g, d, g, d, ema, opt_g, opt_d, scaler)
    if cfg.loss.lecam_weight > 0:
        nets.lecam = LeCamAnchors().to(info.device)
    if cfg.augment.policy and (cfg.augment.prob < 1 or cfg.augment.ada_target > 0):
        nets.augment_p = AugmentProbability(cfg.augment, cfg.batch).to(info.device)
    return nets


def wrap_for_training(nets: Networks, cfg: TrainConfig, info: DistInfo) -> None:
    """DDP (several ranks) and torch.compile around the modules used in the step."""
    g_train, d_train = nets.generator, nets.discriminator
    if info.enabled:
        ids = [info.device.index] if info.device.type == "cuda" else None
        g_train = DistributedDataParallel(g_train, device_ids=ids, forward_sync_buffers=False)
        d_train = DistributedDataParallel(d_train, device_ids=ids, forward_sync_buffers=False)
    if cfg.compile:
        g_train = torch.compile(g_train)
        # compiled graphs have no double backward: the penalty steps run D eagerly, the
        # other D steps (all of them without a penalty, k − 1 in k with --penalty-every k)
        # compiled
        nets.d_penalty = d_train if cfg.loss.has_penalty else None
        d_train = torch.compile(d_train)
    nets.g_train, nets.d_train = g_train, d_train


def training_state(nets: Networks, counters: Counters, cfg: TrainConfig, info: DistInfo) -> dict:
    """Everything to resume exactly (a collective: every rank must call it)."""
    return {
        "generator": nets.generator.state_dict(),
        "discriminator": nets.discriminator.state_dict(),
        "ema": nets.ema.module.state_dict(),
        "opt_g": nets.opt_g.state_dict(),
        "opt_d": nets.opt_d.state_dict(),
        "scaler": nets.scaler.state_dict() if nets.scaler is not None else {},
        "lecam": nets.lecam.state_dict() if nets.lecam is not None else {},
        "augment_p": nets.augment_p.state_dict() if nets.augment_p is not None else {},
        "counters": counters.as_dict(),
        "rng": rng.gather_states(info),
        "config": json.dumps(cfg.to_dict(), sort_keys=True),
    }


def restore(nets: Networks, state: dict[str, Any], info: DistInfo) -> Counters:
    nets.generator.load_state_dict(state["generator"])
    nets.discriminator.load_state_dict(state["discriminator"])
    nets.ema.module.load_state_dict(state["ema"])
    nets.opt_g.load_state_dict(state["opt_g"])
    nets.opt_d.load_state_dict(state["opt_d"])
    if nets.scaler is not None and state["scaler"]:
        nets.scaler.load_state_dict(state["scaler"])
    if nets.lecam is not None and state.get("lecam"):  # states from before LeCam: start anew
        nets.lecam.load_state_dict(state["lecam"])
    if nets.augment_p is not None and state.get("augment_p"):
        nets.augment_p.load_state_dict(state["augment_p"])
    rng.restore_states(state["rng"], info)
    return Counters(**state["counters"])
