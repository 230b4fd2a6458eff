"""The training job: config, state files, the loop."""

from transgan.training.config import TrainConfig

__all__ = ["TrainConfig"]
