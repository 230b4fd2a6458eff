"""What the sampler page draws, without the page: grids, single images and latent walks
from one generator, as PIL images.

Every function takes plain values (seeds, a class, a fraction of the walk) and checks them,
raising ``SamplerInputError`` with a sentence the page shows as it is. The same seed always
gives the same image here as in ``transgan generate --seed``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from transgan.images import grid_image, single_image
from transgan.models.layers import NoiseInjection, set_noise
from transgan.presets import ModelConfig
from transgan.runtime import MAX_SEED
from transgan.sampling import generate_images, latents, slerp

MAX_GRID = 256  # images in one grid on the page
MAX_WALK_STEPS = 120  # frames of an exported walk


class SamplerInputError(ValueError):
    """A value typed on the page that cannot be drawn (the message says which and why)."""


@dataclass
class Sampler:
    """One generator on one device, and what the page needs to know about it."""

    generator: nn.Module
    config: ModelConfig
    class_names: list[str] = field(default_factory=list)
    batch_size: int = 64
    source: str = ""  # what was loaded (shown on the page)

    @classmethod
    def from_snapshot(
        cls, snapshot: str | os.PathLike[str], device: torch.device, batch_size: int = 64
    ) -> Sampler:
        """A snapshot file, a folder from `transgan export --format hub`, or a Hub id."""
        from transgan.snapshot import load_generator, read_snapshot_extra, resolve_snapshot

        path = resolve_snapshot(snapshot)
        generator, config = load_generator(path, device)
        names = list(read_snapshot_extra(path).get("class_names", []))
        return cls(generator, config, names, batch_size, str(snapshot))

    @property
    def num_classes(self) -> int:
        return getattr(self.config.generator, "num_classes", 0)

    @property
    def has_noise(self) -> bool:
        """Whether the generator has noise injections (v2) that can be switched off."""
        return any(isinstance(m, NoiseInjection) for m in self.generator.modules())

    def class_choices(self) -> list[str]:
        """The classes as the page lists them: "3: cat" (or "3" without names)."""
        names = self.class_names or [str(i) for i in range(self.num_classes)]
        return [f"{i}: {n}" if n != str(i) else n for i, n in enumerate(names)]

    def class_index(self, choice: str | int | None) -> int | None:
        """A class from the page (an index, a name or a `class_choices` entry); None for an
        unconditional model. A conditional model needs one."""
        if not self.num_classes:
            if choice not in (None, ""):
                raise SamplerInputError("this model is unconditional: it has no classes")
            return None
        if choice is None or choice == "":
            raise SamplerInputError(
                f"this model is class-conditional: choose one of its {self.num_classes} classes"
            )
        text = str(choice)
        if text in self.class_choices():
            return self.class_choices().index(text)
        if text in self.class_names:
            return self.class_names.index(text)
        if text.isdigit() and int(text) < self.num_classes:
            return int(text)
        raise SamplerInputError(
            f"{text!r} is not a class of this model; its classes: "
            + ", ".join(self.class_choices())
        )

    def _draw(
        self,
        z: torch.Tensor,
        seed: int,
        label: int | None,
        noise: bool,
        noise_index: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Images of ``z``; image i's noise is that of image ``noise_index[i]`` of ``seed``
        (default: i, as ``transgan generate --seed``)."""
        device = next(self.generator.parameters()).device
        labels = None if label is None else torch.full((z.shape[0],), label, dtype=torch.long)
        set_noise(self.generator, noise)
        try:
            return generate_images(
                self.generator, z.to(device), self.batch_size, seed, labels, noise_index
            )
        finally:
            set_noise(self.generator, True)

    def grid(
        self,
        seed: int | float,
        n: int | float = 16,
        label: str | int | None = None,
        noise: bool = True,
    ) -> Image.Image:
        """``n`` images from ``seed`` in a square-ish grid (the first ``n`` of
        ``transgan generate --seed``)."""
        seed, n = check_seed(seed), check_count(n, "images in the grid", MAX_GRID)
        z = latents(n, self.config.generator.latent_dim, seed)
        return grid_image(self._draw(z, seed, self.class_index(label), noise))

    def image(
        self, seed: int | float, label: str | int | None = None, noise: bool = True
    ) -> Image.Image:
        """The first image of ``seed``."""
        seed = check_seed(seed)
        z = latents(1, self.config.generator.latent_dim, seed)
        return single_image(self._draw(z, seed, self.class_index(label), noise)[0])

    def walk_latents(
        self, seed_a: int | float, seed_b: int | float, t: torch.Tensor
    ) -> torch.Tensor:
        """Latents at fractions ``t`` of the spherical walk from seed A's first latent to
        seed B's: (T, latent_dim)."""
        a, b = check_seed(seed_a, "seed A"), check_seed(seed_b, "seed B")
        dim = self.config.generator.latent_dim
        return slerp(latents(1, dim, a), latents(1, dim, b), t)[0]

    def walk_frame(
        self,
        seed_a: int | float,
        seed_b: int | float,
        t: float,
        label: str | int | None = None,
        noise: bool = True,
    ) -> Image.Image:
        """The image at fraction ``t`` ∈ [0, 1] of the walk (t = 0: seed A's image)."""
        if not 0.0 <= float(t) <= 1.0:
            raise SamplerInputError(f"the walk position must be between 0 and 1, got {t}")
        z = self.walk_latents(seed_a, seed_b, torch.tensor([float(t)]))
        return single_image(self._draw_walk(z, seed_a, label, noise)[0])

    def walk_frames(
        self,
        seed_a: int | float,
        seed_b: int | float,
        steps: int | float = 24,
        label: str | int | None = None,
        noise: bool = True,
    ) -> list[Image.Image]:
        """``steps`` frames from seed A to seed B, both ends included."""
        steps = check_count(steps, "walk steps", MAX_WALK_STEPS, at_least=2)
        z = self.walk_latents(seed_a, seed_b, torch.linspace(0, 1, steps))
        return [single_image(img) for img in self._draw_walk(z, seed_a, label, noise)]

    def _draw_walk(
        self, z: torch.Tensor, seed_a: int | float, label: str | int | None, noise: bool
    ) -> torch.Tensor:
        """Frames of a walk: every frame has the noise of seed A's image (one noise draw for
        the whole walk), so frames differ only by the latent, and the slider's frame at a
        position is the GIF's."""
        index = torch.zeros(z.shape[0], dtype=torch.long)
        return self._draw(z, int(seed_a), self.class_index(label), noise, index)

    def walk_gif(
        self,
        seed_a: int | float,
        seed_b: int | float,
        path: str | os.PathLike[str],
        steps: int | float = 24,
        label: str | int | None = None,
        noise: bool = True,
        scale: int = 4,
    ) -> Path:
        """The walk as an animated GIF (there and back, ~12 frames/s), each frame scaled
        ``scale``× (nearest neighbour) so that small images stay visible."""
        frames = self.walk_frames(seed_a, seed_b, steps, label, noise)
        frames = [f.resize((f.width * scale, f.height * scale), Image.NEAREST) for f in frames]
        loop = frames + frames[-2:0:-1]
        out = Path(path)
        loop[0].save(out, save_all=True, append_images=loop[1:], duration=80, loop=0)
        return out


def check_seed(value: int | float | str | None, what: str = "seed") -> int:
    """A seed from the page: a whole number in [0, 2³² − 1]."""
    try:
        number = float(value)  # the page's number fields give floats
    except (TypeError, ValueError):
        raise SamplerInputError(f"{what} must be a whole number, got {value!r}") from None
    if not number.is_integer() or not 0 <= number <= MAX_SEED:
        raise SamplerInputError(f"{what} must be a whole number from 0 to {MAX_SEED}, got {value}")
    return int(number)


def check_count(value: int | float | str | None, what: str, most: int, at_least: int = 1) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SamplerInputError(f"{what} must be a whole number, got {value!r}") from None
    if not number.is_integer() or not at_least <= number <= most:
        raise SamplerInputError(f"{what} must be a whole number from {at_least} to {most}")
    return int(number)
