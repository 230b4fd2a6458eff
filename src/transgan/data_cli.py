"""`transgan prepare-data`: a data set decoded and resized once, for fast training."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

EXAMPLES = """
\b
Examples:
  transgan prepare-data ~/celeba_hq --resolution 256 --out data/celebahq256
  transgan train --recipe v2-celebahq256 --data data/celebahq256
  transgan prepare-data cifar10 --resolution 32 --out data/cifar10-32   # keeps the labels
"""


@click.command("prepare-data", epilog=EXAMPLES, context_settings={"show_default": True})
@click.argument("source")
@click.option("--resolution", type=click.IntRange(8), required=True, help="Image side in px.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--data-root", default="data", help="Where built-in data sets are found.")
@click.option("--max-broken-fraction", type=click.FloatRange(0, 1), default=0.1)
def prepare_data_command(
    source: str, resolution: int, out_dir: Path, data_root: str, max_broken_fraction: float
) -> None:
    """Decode, centre-crop and resize SOURCE (a folder of images, or digits / cifar10 /
    stl10 / celeba) once into OUT: a uint8 memory-mapped array plus a JSON index, with the
    labels of class subfolders. `--data OUT` then trains from it (docs: data/prepared.py)."""
    from transgan.data import DataError
    from transgan.data.prepared import prepare

    start = time.time()
    try:
        index = prepare(
            source,
            resolution,
            out_dir,
            data_root=data_root,
            max_broken_fraction=max_broken_fraction,
        )
    except DataError as err:
        raise click.ClickException(str(err)) from err
    click.echo(json.dumps(index, indent=2))
    click.echo(f"wrote {out_dir} ({index['count']:,} images, {time.time() - start:.0f} s)")
