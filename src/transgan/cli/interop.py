"""`transgan import` and `transgan export`: the authors' checkpoint files to ours and back."""

from __future__ import annotations

from pathlib import Path

import click

IMPORT_EXAMPLES = """
\b
Examples:
  # the authors' later CIFAR-10 model (EMA generator) -> our snapshot
  transgan import cifar_checkpoint --preset transgan2_cifar10 --out cifar10.safetensors
  transgan generate cifar10.safetensors --n 64 --grid cifar10.png
  # its discriminator, for analysis
  transgan import cifar_checkpoint --preset transgan2_cifar10 --which dis --out d.safetensors
  # a variant of a preset: describe it with overrides
  transgan import church_g256.pth --preset transgan2_church256 --set g_dim=256 --out c.safetensors
  # the official ViTGAN generator (mlpc-ucsd/ViTGAN, --use_nerf_proj), its EMA weights
  transgan import gen_ema.pt --format vitgan --preset vitgan_cifar10 --out vitgan.safetensors
"""


@click.command("import", epilog=IMPORT_EXAMPLES, context_settings={"show_default": True})
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--preset", required=True, help="Our preset of the same architecture.")
@click.option(
    "--which",
    type=click.Choice(["avg_gen", "gen", "dis"]),
    default="avg_gen",
    help="avg_gen: the EMA generator; gen: the live one; dis: the discriminator.",
)
@click.option("--set", "set_items", multiple=True, help="Override a config field: g_dim=256.")
@click.option(
    "--format",
    "in_format",
    type=click.Choice(["transgan", "vitgan"]),
    default="transgan",
    help="transgan: the TransGAN authors' files; vitgan: the official ViTGAN generator's "
    "gen.pt / gen_ema.pt (a bare state dict; --which does not apply).",
)
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing --out file.")
def import_command(
    checkpoint: Path,
    preset: str,
    which: str,
    set_items: tuple[str, ...],
    in_format: str,
    out_file: Path,
    force: bool,
) -> None:
    """Convert an authors' TransGAN CHECKPOINT (their torch.save dict or a bare state dict),
    or the official ViTGAN generator's (--format vitgan), into our snapshot (.safetensors),
    loaded strictly; nothing in the file is executed."""
    from transgan.cli.train_config import parse_overrides
    from transgan.fileio import check_output
    from transgan.interop.authors_checkpoint import CheckpointError, import_checkpoint
    from transgan.snapshot import DISCRIMINATOR_FORMAT, save_snapshot

    check_output(out_file, "--out", inputs=(checkpoint,), force=force)
    try:
        if in_format == "vitgan":
            if which != "avg_gen":
                raise CheckpointError(
                    f"--which {which} does not apply to --format vitgan: their generator's "
                    "weights are in gen.pt (live) and gen_ema.pt (EMA), and their "
                    "discriminator is a StyleGAN2 conv network we do not import"
                )
            from transgan.interop.vitgan_checkpoint import import_vitgan_checkpoint

            imported = import_vitgan_checkpoint(checkpoint, preset, parse_overrides(set_items))
            which = "gen"
        else:
            imported = import_checkpoint(checkpoint, preset, which, parse_overrides(set_items))
    except CheckpointError as err:
        raise click.ClickException(str(err)) from err
    extra = {"imported": {"file": checkpoint.name, "which": which, "epoch": imported.epoch}}
    file_format = {"file_format": DISCRIMINATOR_FORMAT} if which == "dis" else {}
    save_snapshot(out_file, imported.network, imported.config, extra, **file_format)
    for note in imported.notes:
        click.echo(f"note: {note}")
    params = sum(p.numel() for p in imported.network.parameters())
    click.echo(f"wrote {out_file} ({which}, preset {preset}, {params:,} parameters)")


@click.command("export", context_settings={"show_default": True})
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "out_format",
    type=click.Choice(["authors", "hub"]),
    default="authors",
    help="authors: the dict the authors' test.py loads (module.-prefixed keys); hub: a "
    "Hugging Face Hub-ready folder (model.safetensors, config.json, README.md model card, "
    "samples.png).",
)
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(path_type=Path),
    help="The file (authors) or folder (hub) to write.",
)
@click.option("--epoch", type=click.IntRange(0), default=0, help="The file's `epoch` entry.")
@click.option("--force", is_flag=True, help="Overwrite an existing --out file.")
def export_command(source: Path, out_format: str, out_file: Path, epoch: int, force: bool) -> None:
    """Write SOURCE (a snapshot, or a discriminator from `import --which dis`) in the
    authors' checkpoint layout: a snapshot becomes `avg_gen_state_dict`, a discriminator
    `dis_state_dict`, with the relative_position_index buffers their strict loading needs.
    With --format hub: a folder to upload to the Hugging Face Hub as a model repository.

    \b
    Examples:
      transgan export runs/00001-x/network-snapshot-010000.safetensors --out checkpoint.pth
      # then, in the authors' repository: python test.py ... --load_path checkpoint.pth
      transgan export runs/00001-x/network-snapshot-010000.safetensors --format hub --out my-gan
      # then: huggingface-cli upload OWNER/my-gan my-gan; transgan generate OWNER/my-gan ...
    """
    if out_format == "hub":
        _export_hub(source, out_file, force)
        return
    from transgan.fileio import check_output
    from transgan.interop.authors_checkpoint import export_checkpoint
    from transgan.interop.authors_layout import LayoutError
    from transgan.snapshot import (
        DISCRIMINATOR_FORMAT,
        SnapshotError,
        file_format_of,
        load_discriminator,
        load_generator,
        snapshot_files,
    )

    check_output(out_file, "--out", inputs=snapshot_files(source), force=force)
    try:
        if file_format_of(source) == DISCRIMINATOR_FORMAT:
            network, _ = load_discriminator(source)
            which = "dis"
        else:
            network, _ = load_generator(source)
            which = "avg_gen"
        notes = export_checkpoint(network, which, out_file, epoch)
    except (SnapshotError, LayoutError) as err:
        raise click.ClickException(str(err)) from err
    for note in notes:
        click.echo(f"note: {note}")
    click.echo(f"wrote {out_file} ({out_format} layout, {which})")


def _export_hub(source: Path, out: Path, force: bool) -> None:
    from transgan.sharing.hub_folder import HubExportError, export_hub_folder
    from transgan.snapshot import SnapshotError

    try:
        files = export_hub_folder(source, out, force=force)
    except (SnapshotError, HubExportError) as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"wrote {out}/ ({', '.join(f.name for f in files)}); add a license to README.md")
