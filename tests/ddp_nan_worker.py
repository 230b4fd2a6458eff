"""Run under torchrun by test_silent_bugs.py: a tiny DDP training run whose first four
D steps have a NaN loss on every rank; the run directory is written under ``OUT/runs``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from conftest import poison_d_loss, tiny_train_config

from transgan.training.loop import train


def main(out: Path) -> None:
    poison_d_loss(setattr, first=4)
    # 8 global images per D step (4 per rank), n_critic 2: 8 D steps in 0.064 kimg.
    train(tiny_train_config(max_bad_steps=100), out=out / "runs")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
