"""Can a run's discriminator still tell its generator's images from real ones?

Loads the last training state of a run, freezes its G, and trains D alone against it for
``--steps`` steps of the run's loss (non-saturating logistic, no penalty) with the run's
learning rate and betas — once from the run's D and its Adam state, once from a fresh D.
If a D that sits at chance in training separates within a few hundred steps here, it was
not unable to tell: G moved as fast as D learned (docs/quality.md, issue 37 second round).

    python benchmarks/d_alone.py runs/sw/mnist-pure-dp8-mb0-s0 --steps 300
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F

from transgan.data import build_dataset
from transgan.presets import build_discriminator, build_generator
from transgan.training.config import TrainConfig
from transgan.training.state import list_states, load_state


def real_images(data: str, size: int) -> torch.Tensor:
    dataset = build_dataset(data, size)
    items = [dataset[i] for i in range(len(dataset))]
    images = torch.stack([x[0] if isinstance(x, tuple | list) else x for x in items]).float()
    return images / 127.5 - 1 if images.max() > 1.5 else images  # uint8 -> [-1, 1]


def train_d_alone(run_dir: Path, steps: int, batch: int, from_run: bool) -> list[dict]:
    cfg = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text())["train"])
    model = cfg.model_config()
    state = load_state(list_states(run_dir)[-1])
    torch.manual_seed(0)
    g = build_generator(model).eval()
    g.load_state_dict(state["generator"])
    d = build_discriminator(model)
    opt = torch.optim.Adam(d.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    if from_run:
        d.load_state_dict(state["discriminator"])
        opt.load_state_dict(state["opt_d"])
    reals = real_images(cfg.data, model.img_size)
    rows = []
    for step in range(steps + 1):
        real = reals[torch.randint(0, len(reals), (batch,))]
        with torch.no_grad():
            fake = g(torch.randn(batch, model.generator.latent_dim))
        logit_real, logit_fake = d(real), d(fake)
        loss = F.softplus(-logit_real).mean() + F.softplus(logit_fake).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 50 == 0:
            right = (logit_real > 0).float().mean() + (logit_fake < 0).float().mean()
            rows.append(
                {
                    "step": step,
                    "loss": round(loss.item(), 3),
                    "d_real": round(logit_real.mean().item(), 2),
                    "d_fake": round(logit_fake.mean().item(), 2),
                    "accuracy": round(right.item() / 2, 2),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for from_run in (True, False):
        for row in train_d_alone(args.run_dir, args.steps, args.batch, from_run):
            print(json.dumps({"d": "the run's" if from_run else "fresh", **row}))


if __name__ == "__main__":
    main()
