"""How the authors' code names our tensors: a key-for-key map between the two layouts.

The authors' generators and discriminators (VITA-Group/TransGAN; SPEC.md and SPEC-v2 §8)
hold the same tensors as ours under other names, a few in other shapes:

- v1 generator (``ViT_8_8``, ``Celeba64_TransGAN``): ``l1``, ``pos_embed_{k}``, stage 1 in
  ``blocks.{i}``, later stages in ``upsample_blocks.{k}.{i}``, ``deconv.0`` (a 1×1 conv), and
  an unused ``to_rgb.0`` BatchNorm;
- v2 generator with three stages (``ViT_custom_rp``): ``blocks.block.{i}``,
  ``upsample_blocks.{k}.block.{i}``; with more stages (the 256-px models):
  ``blocks_{k}.block.{i}``, and the CelebA-HQ memory as ``embed_pos`` /
  ``embedding_transform``;
- v2 blocks wrap their norms (``norm1.norm.weight``) and call the relative bias table
  ``relative_position_bias_table``, the noise gain ``noise_strength_1``; they also save the
  ``relative_position_index`` buffer, which we recompute and do not save;
- v1 discriminator: our names, with ``patch_embed`` a strided conv (out, 3, p, p);
- v2 discriminator: ``fRGB_{k}`` convs, ``pos_embed_{k}``, ``blocks_{k}.{i}`` and a global tail
  in ``blocks_{k}1.{i}``, ``last_block.0``, ``norm.norm``.

``authors_map(network)`` lists, for every tensor of ours, the authors' name and shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from transgan.models.discriminator import Discriminator, MultiScaleDiscriminator
from transgan.models.generator import Generator

# The authors' cross-attention names for ours, and their other block-level names.
_CROSS_NAMES = {"q.": "q_transform.", "k.": "k_transform.", "v.": "v_transform.", "proj.": "proj."}
_INDEX_SUFFIX = "attn.rel_bias.index"  # our non-persistent buffer


class LayoutError(ValueError):
    """A network that has no counterpart in the authors' layouts."""


@dataclass(frozen=True)
class Entry:
    """One tensor: our state_dict key (None for a buffer we do not save), the authors' key,
    the authors' shape, and whether the value is fixed (a buffer both sides compute)."""

    ours: str | None
    theirs: str
    shape: tuple[int, ...]
    buffer: bool = False


def generator_layout(config: object) -> str:
    """ "v1", "v2" (three stages, ``ViT_custom_rp``) or "v2-stages" (``blocks_{k}``)."""
    plain = not (
        config.upsample  # type: ignore[attr-defined]
        or config.windows  # type: ignore[attr-defined]
        or config.rel_bias  # type: ignore[attr-defined]
        or config.noise  # type: ignore[attr-defined]
        or config.cross_attention  # type: ignore[attr-defined]
        or config.norm != "ln"  # type: ignore[attr-defined]
    )
    if plain:
        return "v1"
    if len(config.depths) == 3 and not config.cross_attention:  # type: ignore[attr-defined]
        return "v2"
    return "v2-stages"


def _v2_block(rest: str) -> str:
    """Our key inside a v2 block -> the authors' (norms wrapped, bias/noise renamed)."""
    for norm in ("norm1.", "norm2."):
        if rest.startswith(norm):
            return norm + "norm." + rest[len(norm) :]
    if rest.startswith("cross."):
        inner = rest[len("cross.") :]
        if inner == "noise.gain":
            return "cross_attention.noise_strength_1"
        for ours, theirs in _CROSS_NAMES.items():
            if inner.startswith(ours):
                return "cross_attention." + theirs + inner[len(ours) :]
    rest = rest.replace("attn.rel_bias.table", "attn.relative_position_bias_table")
    rest = rest.replace("attn.noise.gain", "attn.noise_strength_1")
    return rest.replace("attn.rel_bias.index", "attn.relative_position_index")


def _generator_key(key: str, layout: str) -> str:
    head, _, rest = key.partition(".")
    if head == "to_tokens":
        return "l1." + rest
    if head == "pos_embeds":
        return f"pos_embed_{int(rest) + 1}"
    if head == "to_rgb":
        return "deconv.0." + rest
    if head == "memory_pos":
        return "embed_pos"
    if head == "memory_embed":
        return "embedding_transform." + rest
    if head == "stages":
        stage, block, inner = rest.split(".", 2)
        s = int(stage)
        if layout == "v1":
            group = "blocks" if s == 0 else f"upsample_blocks.{s - 1}"
            return f"{group}.{block}.{inner}"
        group = (
            ("blocks" if s == 0 else f"upsample_blocks.{s - 1}")
            if layout == "v2"
            else (f"blocks_{s + 1}")
        )
        return f"{group}.block.{block}.{_v2_block(inner)}"
    raise LayoutError(f"generator tensor {key!r} has no counterpart in the authors' layout")


def _multiscale_key(key: str, config: object) -> str:
    head, _, rest = key.partition(".")
    if head in ("cls_token", "head"):
        return key
    if head == "pos_embeds":
        return f"pos_embed_{int(rest) + 1}"
    if head == "patchify":
        k, _, inner = rest.partition(".")
        return f"fRGB_{int(k) + 1}.{inner.removeprefix('proj.')}"
    if head == "norm":
        return "norm.norm." + rest
    if head == "last_block":
        return "last_block.0." + _v2_block(rest)
    if head == "scales":
        k, i, inner = rest.split(".", 2)
        scale, index = int(k), int(i)
        depth = config.depths[scale]  # type: ignore[attr-defined]
        tail = config.global_tail[scale] if config.global_tail else 0  # type: ignore[attr-defined]
        local = depth - tail
        group = f"blocks_{scale + 1}" if index < local else f"blocks_{scale + 1}1"
        return f"{group}.{index if index < local else index - local}.{_v2_block(inner)}"
    raise LayoutError(f"discriminator tensor {key!r} has no counterpart in the authors' layout")


def _conv_shape(ours: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Our Linear weights that the authors hold as conv kernels get the kernel's shape."""
    if ours == "to_rgb.weight":  # 1×1 conv (3, C, 1, 1)
        return (*shape, 1, 1)
    if ours == "patch_embed.weight" or (ours.startswith("patchify.") and ours.endswith(".weight")):
        out, flat = shape
        kernel = round((flat // 3) ** 0.5)
        return (out, 3, kernel, kernel)
    return shape


def authors_map(network: nn.Module) -> list[Entry]:
    """Every tensor of ``network`` with the authors' key and shape (buffers included)."""
    if not isinstance(network, Generator | Discriminator | MultiScaleDiscriminator):
        if type(network).__name__ == "ViTGANGenerator":
            raise LayoutError(
                "a ViTGAN generator has no TransGAN authors' layout (`import --format vitgan` "
                "reads the official ViTGAN generator's gen.pt / gen_ema.pt; `export --format "
                "hub` shares a ViTGAN snapshot)"
            )
        raise LayoutError(
            f"{type(network).__name__} is not a transformer network; only TransGAN generators "
            "and discriminators have an authors' layout"
        )
    entries = [
        Entry(key, authors_key(key, network), _conv_shape(key, tuple(value.shape)))
        for key, value in network.state_dict().items()
    ]
    for name, buffer in network.named_buffers():
        if name.endswith(_INDEX_SUFFIX):
            entries.append(
                Entry(None, authors_key(name, network), tuple(buffer.shape), buffer=True)
            )
    return entries


def fixed_buffers(network: nn.Module) -> dict[str, torch.Tensor]:
    """The authors' buffers with the values our network computes (their keys)."""
    out = {
        authors_key(name, network): buffer.detach().cpu().to(torch.int64).clone()
        for name, buffer in network.named_buffers()
        if name.endswith(_INDEX_SUFFIX)
    }
    if isinstance(network, Generator) and generator_layout(network.config) == "v1":
        out.update(unused_batchnorm(network.config.dim))
    return out


def authors_key(ours: str, network: nn.Module) -> str:
    """The authors' name of one of our tensors."""
    if isinstance(network, Generator):
        return _generator_key(ours, generator_layout(network.config))
    if isinstance(network, MultiScaleDiscriminator):
        return _multiscale_key(ours, network.config)
    return ours


def unused_batchnorm(channels: int) -> dict[str, torch.Tensor]:
    """The v1 generator's ``to_rgb.0`` BatchNorm2d, which its forward never calls, at its
    initial values (the authors' test script loads strictly, so an export carries it)."""
    return {
        "to_rgb.0.weight": torch.ones(channels),
        "to_rgb.0.bias": torch.zeros(channels),
        "to_rgb.0.running_mean": torch.zeros(channels),
        "to_rgb.0.running_var": torch.ones(channels),
        "to_rgb.0.num_batches_tracked": torch.tensor(0),
    }
