"""The `transgan` command line: train, generate, eval, models, and helpers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from transgan import presets
from transgan.runtime import MAX_SEED

if TYPE_CHECKING:
    import torch
    from torch import nn

    from transgan.presets import ModelConfig

DEBUG_ENV = "TRANSGAN_DEBUG"


def user_message(err: Exception) -> str:
    """One paragraph for an exception that reached the command line."""
    if isinstance(err, OSError) and err.filename is not None:
        return f"{err.filename}: {err.strerror or err}"
    text = str(err) or type(err).__name__
    if isinstance(err, OSError | ValueError | RuntimeError) and type(err).__module__.startswith(
        "transgan"
    ):
        return text
    return (
        f"{type(err).__name__}: {text}\n(unexpected: this may be a bug in transgan; run again "
        f"with {DEBUG_ENV}=1 to see the traceback, and please report it)"
    )


class CommandLine(click.Group):
    """The error boundary of every command: an expected failure ends in a one-paragraph
    message (exit 1; usage errors exit 2, as click does), never a traceback, unless
    ``TRANSGAN_DEBUG=1`` asks for one."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as err:
            if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                raise
            if getattr(err, "usage", False):  # a bad option value: exit 2, as click's own
                raise click.UsageError(user_message(err)) from err
            raise click.ClickException(user_message(err)) from err


@click.group(
    cls=CommandLine,
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
)
@click.version_option(package_name="transgan")
def main() -> None:
    """TransGAN: a GAN built from two pure transformers.

    \b
    Examples:
      transgan models
      transgan train --model transgan_tiny --data digits --kimg 20 --out runs
      transgan generate runs/00000-transgan_tiny-digits/network-snapshot-000020.safetensors \\
          --n 64 --grid grid.png
    """


def models_table() -> list[dict[str, object]]:
    """One row per preset: resolution, parameter counts and GFLOPs per image."""
    import torch

    rows = []
    for name in presets.list_models():
        with torch.device("meta"):  # shapes only: no memory, no init time
            gan = presets.create_model(name)
        rows.append(
            {
                "preset": name,
                "res": gan.config.img_size,
                "data": gan.config.dataset,
                "g_params": gan.generator.count_params(),
                "d_params": gan.discriminator.count_params(),
                "g_gflops": gan.generator.estimate_flops() / 1e9,
                "d_gflops": gan.discriminator.estimate_flops() / 1e9,
                "paper": gan.config.paper,
            }
        )
        del gan
    return rows


@main.command()
def models() -> None:
    """List the model presets with parameter counts and forward GFLOPs per image."""
    header = f"{'preset':<22} {'res':>4} {'data':<11} {'G params':>13} {'D params':>12} "
    header += f"{'G GFLOPs':>9} {'D GFLOPs':>9}  paper"
    click.echo(header)
    click.echo("-" * len(header))
    for r in models_table():
        click.echo(
            f"{r['preset']:<22} {r['res']:>4} {r['data']:<11} {r['g_params']:>13,} "
            f"{r['d_params']:>12,} {r['g_gflops']:>9.2f} {r['d_gflops']:>9.2f}  {r['paper']}"
        )


@main.command()
@click.argument("snapshot", required=False, type=click.Path(path_type=Path))
@click.option("--preset", help="Use a randomly initialised preset instead of a snapshot.")
@click.option("--n", "num", type=click.IntRange(1, 100_000), default=64, help="Images to draw.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, help="Seed of the latents.")
@click.option("--grid", type=click.Path(dir_okay=False, path_type=Path), help="Write one PNG grid.")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), help="Write PNGs.")
@click.option(
    "--interpolate",
    type=click.IntRange(2, 64),
    help="Write a latent interpolation: this many steps per row (rows = min(n, 8)).",
)
@click.option(
    "--noise/--no-noise",
    default=True,
    help="v2 models: draw noise injection (as trained) or turn it off.",
)
@click.option(
    "--class",
    "class_",
    help="Conditional models: draw this class (index or name, e.g. 3 or cat). Without it a "
    "conditional model draws every class, one grid row each.",
)
@click.option("--batch-size", type=click.IntRange(1), default=64)
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
@click.option("--force", is_flag=True, help="Overwrite an existing --grid file or PNGs.")
def generate(
    snapshot: Path | None,
    preset: str | None,
    num: int,
    seed: int,
    grid: Path | None,
    out_dir: Path | None,
    interpolate: int | None,
    noise: bool,
    class_: str | None,
    batch_size: int,
    device: str,
    force: bool,
) -> None:
    """Draw images from SNAPSHOT (a network-snapshot-*.safetensors file, a folder from
    `transgan export --format hub`, or a Hugging Face Hub id owner/name[@revision]).

    \b
    Examples:
      transgan generate SNAP.safetensors --n 64 --seed 0 --grid grid.png
      transgan generate SNAP.safetensors --n 1000 --out-dir samples/
      transgan generate SNAP.safetensors --interpolate 10 --grid lerp.png
      transgan generate --preset transgan_s --grid untrained.png
      transgan generate COND_SNAP.safetensors --class 3 --n 16 --grid threes.png
    """
    from transgan.fileio import check_output, check_writable_folder
    from transgan.images import image_format, save_grid
    from transgan.models.layers import set_noise
    from transgan.runtime import resolve_device
    from transgan.sampling import generate_images
    from transgan.snapshot import snapshot_files

    if (snapshot is None) == (preset is None):
        raise click.UsageError("give exactly one of SNAPSHOT or --preset NAME")
    if grid is None and out_dir is None:
        raise click.UsageError("say where to write: --grid FILE.png and/or --out-dir DIR")
    if grid is not None:
        check_output(grid, "--grid", inputs=snapshot_files(snapshot), force=force)
        try:
            image_format(grid, "--grid")
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--grid") from err
    if out_dir is not None:
        check_writable_folder(out_dir, "--out-dir")
    dev = resolve_device(device)
    generator, config, class_names = _generator_to_draw(snapshot, preset, dev)
    z, labels, nrow, noise_index = _what_to_draw(
        config, class_names, num, seed, interpolate, class_, dev
    )
    set_noise(generator, noise)
    images = generate_images(
        generator, z, batch_size, noise_seed=seed, labels=labels, noise_index=noise_index
    )
    if grid is not None:
        save_grid(images, grid, nrow)
        click.echo(f"wrote {grid} ({images.shape[0]} images)")
    if out_dir is not None:
        _write_pngs(images, labels, out_dir, seed, force)
        click.echo(f"wrote {images.shape[0]} PNGs to {out_dir}")


def _generator_to_draw(
    snapshot: Path | None, preset: str | None, dev: torch.device
) -> tuple[nn.Module, ModelConfig, list[str]]:
    """``generate``'s network: (generator in eval mode on ``dev``, its ModelConfig, the
    snapshot's class names or [])."""
    from transgan.snapshot import SnapshotError, load_generator, read_snapshot_extra

    if snapshot is not None:
        try:
            generator, config = load_generator(snapshot, dev)
            return generator, config, read_snapshot_extra(snapshot).get("class_names", [])
        except SnapshotError as err:
            raise click.ClickException(str(err)) from err
    try:
        gan = presets.create_model(preset)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--preset") from err
    return gan.generator.to(dev).eval(), gan.config, []


def _what_to_draw(
    config: ModelConfig,
    class_names: list[str],
    num: int,
    seed: int,
    interpolate: int | None,
    class_: str | None,
    dev: torch.device,
) -> tuple[torch.Tensor, torch.Tensor | None, int | None, torch.Tensor | None]:
    """``generate``'s latents, labels (None: unconditional), grid row length and noise
    index: one class, a row per class, or interpolation rows."""
    import torch

    from transgan.sampling import (
        class_rows,
        interpolation_latents,
        interpolation_noise_index,
        latents,
    )

    latent_dim = config.generator.latent_dim
    if interpolate:
        rows = min(num, 8)
        z = interpolation_latents(rows, interpolate, latent_dim, seed).to(dev)
        nrow, noise_index = interpolate, interpolation_noise_index(rows, interpolate)
    else:
        z, nrow, noise_index = latents(num, latent_dim, seed, dev), None, None
    labels = None
    classes = getattr(config.generator, "num_classes", 0)
    if class_ is not None and not classes:
        raise click.BadParameter("this model is unconditional; drop --class", param_hint="--class")
    if classes:
        names = class_names or [str(i) for i in range(classes)]
        if class_ is not None:
            labels = torch.full((z.shape[0],), class_index(class_, names), dtype=torch.long)
        elif interpolate:  # each row walks in one class: classes in turn
            labels = class_rows(z.shape[0] // interpolate, interpolate) % classes
        else:  # one row per class
            per_row = max(1, num // classes)
            z, nrow = latents(classes * per_row, latent_dim, seed, dev), per_row
            labels = class_rows(classes, per_row)
    return z, labels, nrow, noise_index


def _write_pngs(
    images: torch.Tensor, labels: torch.Tensor | None, out_dir: Path, seed: int, force: bool
) -> None:
    """One PNG per image, named by seed, index and class; existing files need --force."""
    from transgan.fileio import OutputError
    from transgan.images import save_png, single_image

    out_dir.mkdir(parents=True, exist_ok=True)
    names = [
        f"seed{seed:04d}-{i:06d}" + (f"-class{int(labels[i])}" if labels is not None else "")
        for i in range(images.shape[0])
    ]
    taken = [n for n in names if (out_dir / f"{n}.png").exists()]
    if taken and not force:
        raise OutputError(
            f"--out-dir {out_dir} already holds {len(taken)} of these images (e.g. "
            f"{taken[0]}.png); pass --force to overwrite them, or choose another folder"
        )
    for name, img in zip(names, images, strict=True):
        save_png(single_image(img), out_dir / f"{name}.png")


def class_index(value: str, names: list[str]) -> int:
    """``--class`` as an index: a class name, or a number in range."""
    from transgan.data.labels import find_class

    if (index := find_class(value, names)) is not None:
        return index
    raise click.BadParameter(
        f"{value!r} is not a class of this model; its classes: "
        + ", ".join(f"{i}={n}" for i, n in enumerate(names)),
        param_hint="--class",
    )


@main.command()
def recipes() -> None:
    """List the paper-ablation recipes with the paper's numbers beside each."""
    from transgan.training.recipes import RECIPES

    click.echo(f"{'recipe':<22} {'table':<8} {'paper (CIFAR-10)':<36} what it trains")
    click.echo("-" * 110)
    for r in RECIPES.values():
        click.echo(f"{r.name:<22} {r.table:<8} {r.paper:<36} {r.summary}")


def _register_subcommands() -> None:
    from transgan.cli.data import fid_stats_command, prepare_data_command
    from transgan.cli.evaluate import eval_command, plot_command
    from transgan.cli.interop import export_command, import_command
    from transgan.cli.serve import serve_command
    from transgan.cli.train import train

    main.add_command(train)
    main.add_command(eval_command)
    main.add_command(plot_command)
    main.add_command(import_command)
    main.add_command(export_command)
    main.add_command(fid_stats_command)
    main.add_command(prepare_data_command)
    main.add_command(serve_command)


_register_subcommands()
