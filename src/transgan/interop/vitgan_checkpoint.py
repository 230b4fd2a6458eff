"""Import the official ViTGAN generator's checkpoints (mlpc-ucsd/ViTGAN, ``gen.pt`` /
``gen_ema.pt``: a bare ``state_dict()`` of its ``vit_generator.Generator`` with the implicit
patch decoder, ``--use_nerf_proj``) into our ``ViTGANGenerator``, strictly.

What their file does not hold, and what we take instead:

- **The spectral-norm multipliers.** Their improved spectral norm scales each weight by
  σ₁ of the weight it was initialised with (an SVD at construction), kept as a plain
  attribute — not in the state dict; their own loader takes it from a fresh random
  initialisation. We take σ₁ of a standard normal matrix of the layer's shape drawn from
  seed 0 (``isn_multiplier``): a draw from the very distribution theirs is drawn from.
- **Their σ estimate.** They recompute σ on every call with one power-iteration step from
  the fixed vector ``weight_u`` in the file (it is never updated); we fold that estimate into
  our ``sigma0`` so the imported network computes their function (in eval mode, where our
  power iteration does not move), and fine-tuning continues with our spectral norm.
- **Image size**: not in the file; ``--preset`` gives it (their code fixes 6 heads and an
  8×8 token grid, which the import sets).

Their network computes two things that differ from the paper (models/vitgan.py); the import
sets ``attention="code"`` and ``residual="normed"`` so the numbers are theirs. Their output
is an image on [0, 1] (0.5·x + 0.5 of the decoder's sum); ours is x, on [-1, 1].
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

import torch

from transgan.interop.authors_checkpoint import (
    WHICH,
    CheckpointError,
    Imported,
    load_authors_file,
    pick_state_dict,
)
from transgan.models.vitgan import ViTGANGenerator, ViTGANGeneratorConfig
from transgan.presets import ModelConfig, get_config

OFFICIAL_HEADS, OFFICIAL_GRID = 6, 8  # fixed in their Generator: 6 heads, an 8×8 token grid
_SN_PARTS = ("weight_bar", "weight_u", "weight_v", "bias", "weight")


def isn_multiplier(out_features: int, in_features: int) -> float:
    """σ₁ of a standard normal (out, in) matrix drawn from seed 0 — the distribution the
    official code draws its multiplier from (the SVD of its N(0, 1) initial weight)."""
    gen = torch.Generator().manual_seed(0)
    draw = torch.randn(out_features, in_features, generator=gen, dtype=torch.float64)
    return float(torch.linalg.matrix_norm(draw, ord=2))


def official_sigma(weight: torch.Tensor, u0: torch.Tensor) -> torch.Tensor:
    """The official code's σ estimate: one power-iteration step from the stored ``u0``."""

    def unit(x: torch.Tensor) -> torch.Tensor:
        return x / (x.norm() + 1e-4)

    v = unit(weight.t() @ u0)
    u = unit(weight @ v)
    return u.dot(weight @ v)


def _renames(depth: int, pairs: int, mapping: int, decoder_mapping: int) -> dict[str, str]:
    """Our parameter name (minus the spectral-norm part) for each of theirs."""
    names: dict[str, str] = {}
    for i in range(mapping):
        for p in ("weight", "bias"):
            names[f"style.{i + 1}.{p}"] = f"mapping.layers.{i}.{p}"
    for i in range(decoder_mapping):
        for p in ("weight", "bias"):
            names[f"cips.style.{i + 1}.{p}"] = f"decoder.mapping.layers.{i}.{p}"
    for theirs, ours in (("lff", "fourier"), ("cips.lff", "decoder.fourier")):
        for p in ("weight", "bias"):
            names[f"{theirs}.ffm.conv.{p}"] = f"{ours}.proj.{p}"

    def sln(theirs: str, ours: str) -> None:
        for part, our_part in (("mlp_gamma", "gamma"), ("mlp_beta", "beta")):
            for p in ("weight", "bias"):
                names[f"{theirs}.{part}.{p}"] = f"{ours}.{our_part}.{p}"

    for b in range(depth):
        sln(f"layers.{b}.layernorm1", f"blocks.{b}.norm1")
        sln(f"layers.{b}.layernorm2", f"blocks.{b}.norm2")
        names[f"layers.{b}.attn.temperature"] = f"blocks.{b}.attn.temperature"
        for theirs, ours in (
            ("attn.to_qkv", "attn.qkv"),
            ("attn.to_out.0", "attn.proj"),
            ("ff.net.0", "fc1"),
            ("ff.net.3", "fc2"),
        ):
            names[f"layers.{b}.{theirs}.module"] = f"blocks.{b}.{ours}"  # spectrally normed
    sln("layernorm", "norm")
    layers = [("cips.conv1", "decoder.first")]
    layers += [(f"cips.layers.{k}", f"decoder.layers.{k}") for k in range(2 * pairs)]
    for theirs, ours in layers:
        names[f"{theirs}.conv.weight"] = f"{ours}.linear.weight"
        for p in ("weight", "bias"):
            names[f"{theirs}.conv.modulation.{p}"] = f"{ours}.linear.modulation.{p}"
        names[f"{theirs}.noise.weight"] = f"{ours}.noise.gain"
        names[f"{theirs}.activate.bias"] = f"{ours}.bias"
    for k in range(pairs):
        rgb = f"decoder.to_rgbs.{k}"
        names[f"cips.to_rgbs.{k}.conv.weight"] = f"{rgb}.linear.weight"
        for p in ("weight", "bias"):
            names[f"cips.to_rgbs.{k}.conv.modulation.{p}"] = f"{rgb}.linear.modulation.{p}"
        names[f"cips.to_rgbs.{k}.bias"] = f"{rgb}.bias"
    return names


def _count(state: dict[str, torch.Tensor], pattern: str) -> int:
    found = {int(m.group(1)) for k in state if (m := re.match(pattern, k))}
    return max(found) + 1 if found else 0


def _fitted_config(
    state: dict[str, torch.Tensor], base: ViTGANGeneratorConfig, grid: int = OFFICIAL_GRID
) -> Any:
    """``base`` with the sizes the file shows (widths, depths, decoder), the official code's
    attention and residuals, and a ``grid``×``grid`` token grid (not stored in the file)."""
    missing = [k for k in ("lff.ffm.conv.weight", "cips.conv1.conv.weight") if k not in state]
    if missing:
        convs = (
            " (it has the conv decoder's `convs.*` instead)"
            if any(k.startswith("convs.") for k in state)
            else ""
        )
        raise CheckpointError(
            "not an official ViTGAN generator with the implicit patch decoder: no "
            f"{' / '.join(f'`{k}`' for k in missing)}{convs}; --format vitgan imports "
            "gen.pt / gen_ema.pt of `train_stylegan2.py … vitgan --use_nerf_proj`"
        )
    dim = state["lff.ffm.conv.weight"].shape[0]
    style = state["style.1.weight"].shape[0] if "style.1.weight" in state else dim
    pairs = _count(state, r"cips\.to_rgbs\.(\d+)\.")
    return dataclasses.replace(
        base,
        latent_dim=style,
        dim=dim,
        depth=_count(state, r"layers\.(\d+)\."),
        mlp_ratio=state["layers.0.ff.net.0.module.weight_bar"].shape[0] / dim,
        mapping_layers=_count(state, r"style\.(\d+)\.") - 1 if "style.1.weight" in state else 0,
        decoder_dim=state["cips.conv1.conv.weight"].shape[1],
        decoder_pairs=pairs,
        decoder_mapping_layers=max(_count(state, r"cips\.style\.(\d+)\.") - 1, 0),
        decoder_noise=True,
        attention="code",
        residual="normed",
        spectral_norm=True,
        num_heads=OFFICIAL_HEADS,
        grid=grid,
    )


def import_vitgan_checkpoint(
    path: str | os.PathLike[str], preset: str, overrides: dict[str, Any] | None = None
) -> Imported:
    """Our ViTGAN generator from the official ``gen.pt`` / ``gen_ema.pt`` at ``path``."""
    checkpoint = load_authors_file(path)
    if isinstance(checkpoint, dict) and set(checkpoint) & set(WHICH.values()):
        raise CheckpointError(
            f"{path} is a TransGAN authors' checkpoint ({', '.join(sorted(checkpoint))[:80]}), "
            "not an official ViTGAN generator; import it with --format authors (the default)"
        )
    state, _, label = pick_state_dict(checkpoint, "gen", str(path))
    try:
        config = get_config(preset, **(overrides or {}))
    except ValueError as err:
        raise CheckpointError(str(err)) from err
    # their code fixes an 8×8 token grid; --set g_grid=N imports a generator built with another
    grid = config.generator.grid if "g_grid" in (overrides or {}) else OFFICIAL_GRID
    return import_vitgan_state(state, config, label, grid)


def import_vitgan_state(
    state: dict[str, torch.Tensor], config: ModelConfig, label: str, grid: int = OFFICIAL_GRID
) -> Imported:
    """Our ViTGAN generator computing what the official one holding ``state`` computes."""
    if not isinstance(config.generator, ViTGANGeneratorConfig):
        raise CheckpointError(
            f"--format vitgan needs a ViTGAN preset (vitgan_cifar10, …), got {config.name}"
        )
    state = {k.removeprefix("module."): v for k, v in state.items()}
    g_config = _fitted_config(state, config.generator, grid)
    try:
        generator = ViTGANGenerator(g_config)
    except ValueError as err:
        raise CheckpointError(f"{label}: {err}") from err
    ours = generator.state_dict()
    names = _renames(
        g_config.depth,
        g_config.decoder_pairs,
        g_config.mapping_layers,
        g_config.decoder_mapping_layers,
    )
    converted: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for theirs, target in names.items():
        if theirs.endswith(".module"):  # a spectrally normed EqualLinear
            _convert_sn_layer(state, theirs, target, converted, used, label)
            continue
        if theirs not in state:
            raise CheckpointError(f"{label} has no `{theirs}` (expected for our `{target}`)")
        converted[target] = state[theirs].float().reshape(ours[target].shape)
        used.add(theirs)
    unknown = sorted(set(state) - used)
    if unknown:
        raise CheckpointError(
            f"{label} holds {len(unknown)} tensors the official ViTGAN generator of this "
            f"size does not have: {', '.join(unknown[:6])}"
        )
    missing = sorted(set(ours) - set(converted))
    if missing:
        raise CheckpointError(f"{label}: nothing in the file for our {', '.join(missing[:6])}")
    for key, value in converted.items():
        if value.shape != ours[key].shape:
            raise CheckpointError(
                f"{label}: our {key} is {tuple(ours[key].shape)}, the file gives "
                f"{tuple(value.shape)}"
            )
    generator.load_state_dict(converted, strict=True)
    generator.eval()
    notes = [
        "the file holds no spectral-norm multipliers: each is σ₁ of a seed-0 standard normal "
        "matrix of the layer's shape, as their code draws them (interop/vitgan_checkpoint.py)",
        "attention='code' and residual='normed' compute what the official code computes "
        "(not the paper's equations); 6 heads as fixed in their code",
        f"assumed, since the file stores neither: {g_config.img_size} px (preset "
        f"{config.name}) and a {grid}×{grid} token grid ("
        + ("--set g_grid" if grid != OFFICIAL_GRID else "their code's fixed grid; --set g_grid=N")
        + f" for another), so {g_config.img_size // grid}-px patches. A generator trained at "
        "another size or grid imports without error but draws wrong images: check its samples",
    ]
    model = dataclasses.replace(config, generator=g_config)
    return Imported(network=generator, config=model, which="gen", notes=notes)


def _convert_sn_layer(
    state: dict[str, torch.Tensor],
    theirs: str,
    ours: str,
    out: dict[str, torch.Tensor],
    used: set[str],
    label: str,
) -> None:
    """Their SpectralNorm(EqualLinear) -> our parametrised EqualLinear (weight, u, sigma0)."""
    bar, u0 = f"{theirs}.weight_bar", f"{theirs}.weight_u"
    if bar not in state or u0 not in state:
        raise CheckpointError(f"{label} has no `{bar}` / `{u0}` (a spectrally normed layer)")
    weight = state[bar].float()
    u_stored = state[u0].float()
    if u_stored.shape != (weight.shape[0],):
        raise CheckpointError(
            f"{label}: `{u0}` is {tuple(u_stored.shape)}, expected ({weight.shape[0]},)"
        )
    # our σ in eval mode, from the top singular vector: σ₁(W), to float rounding
    u_top = torch.linalg.svd(weight.double(), full_matrices=False)[0][:, 0].float()
    v = torch.nn.functional.normalize(weight.t() @ u_top, dim=0)
    ours_sigma = u_top @ weight @ v
    multiplier = isn_multiplier(*weight.shape)
    sigma0 = multiplier * ours_sigma / official_sigma(weight, u_stored)
    out[f"{ours}.parametrizations.weight.original"] = weight
    out[f"{ours}.parametrizations.weight.0.u"] = u_top
    out[f"{ours}.parametrizations.weight.0.sigma0"] = sigma0.reshape(())
    bias = state.get(f"{theirs}.bias")
    if ours.endswith("attn.qkv"):  # their q/k/v projection keeps a frozen zero bias; ours none
        if bias is not None and bias.abs().max() > 0:
            raise CheckpointError(f"{label}: `{theirs}.bias` should be the frozen zero bias")
    elif bias is not None:
        out[f"{ours}.bias"] = bias.float()
    used.update(f"{theirs}.{p}" for p in _SN_PARTS if f"{theirs}.{p}" in state)
