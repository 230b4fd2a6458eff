"""Commands that read a data set once and write a file: `transgan prepare-data` (decoded and
resized once, for fast training) and `transgan fid-stats` (FID reference statistics)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from transgan.evaluation.weights import WEIGHTS_ENV

EXAMPLES = """
\b
Examples:
  transgan prepare-data ~/celeba_hq --resolution 256 --out data/celebahq256
  transgan train --recipe v2-celebahq256 --data data/celebahq256
  transgan prepare-data cifar10 --resolution 32 --out data/cifar10-32   # keeps the labels
  transgan prepare-data stl10 --resolution 48 --out data/stl10-48       # 100k unlabelled
  transgan prepare-data stl10 --resolution 48 --labelled-split --out data/stl10-48-labelled
"""


@click.command("prepare-data", epilog=EXAMPLES, context_settings={"show_default": True})
@click.argument("source")
@click.option("--resolution", type=click.IntRange(8, 4096), required=True, help="Image side in px.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--data-root", default="data", help="Where built-in data sets are found.")
@click.option("--max-broken-fraction", type=click.FloatRange(0, 1), default=0.1)
@click.option(
    "--labelled-split",
    is_flag=True,
    help="stl10: prepare the labelled 5,000-image train split (for --cond) instead of the "
    "100,000 unlabelled images that --data stl10 trains on.",
)
def prepare_data_command(
    source: str,
    resolution: int,
    out_dir: Path,
    data_root: str,
    max_broken_fraction: float,
    labelled_split: bool,
) -> None:
    """Decode, centre-crop and resize SOURCE (a folder of images, or digits / cifar10 /
    stl10 / celeba) once into OUT: a uint8 memory-mapped array plus a JSON index, with the
    labels of class subfolders. `--data OUT` then trains from it (docs: data/prepared.py)."""
    from transgan.data import DataError
    from transgan.data.preparation import prepare

    start = time.time()
    try:
        index = prepare(
            source,
            resolution,
            out_dir,
            data_root=data_root,
            max_broken_fraction=max_broken_fraction,
            labelled_split=labelled_split,
        )
    except DataError as err:
        raise click.ClickException(str(err)) from err
    click.echo(json.dumps(index, indent=2))
    click.echo(f"wrote {out_dir} ({index['count']:,} images, {time.time() - start:.0f} s)")


FID_STATS_EXAMPLES = """
\b
Examples:
  # CIFAR-10 training set, 50,000 images, at 32 px (downloads CIFAR-10 into ./data)
  transgan fid-stats --data cifar10 --resolution 32 --out cifar10_train.npz
  # a folder of images, offline with a local Inception weights file
  transgan fid-stats --data ~/faces --resolution 64 --out faces.npz --inception-weights W.pth
"""


@click.command("fid-stats", epilog=FID_STATS_EXAMPLES, context_settings={"show_default": True})
@click.option("--data", required=True, help="digits, cifar10, stl10, celeba or a folder.")
@click.option("--data-root", default="data")
@click.option("--resolution", type=click.IntRange(8), required=True, help="Image side in px.")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--max-real", type=click.IntRange(2), help="Use at most this many images.")
@click.option(
    "--inception-weights",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Local Inception weights file (or set {WEIGHTS_ENV}).",
)
@click.option("--batch-size", type=click.IntRange(1), default=64)
@click.option("--device", default="auto")
@click.option("--force", is_flag=True, help="Overwrite an existing --out file.")
def fid_stats_command(
    data: str,
    data_root: str,
    resolution: int,
    out_file: Path,
    max_real: int | None,
    inception_weights: Path | None,
    batch_size: int,
    device: str,
    force: bool,
) -> None:
    """Write FID reference statistics (mu, sigma of Inception pool3 features) of a data set
    to an .npz in the TTUR / pytorch-fid format, for `transgan eval --ref-stats`."""
    from transgan.data import DataError, build_dataset
    from transgan.evaluation import fid_stats
    from transgan.evaluation.metrics import EvalError, real_subset
    from transgan.evaluation.weights import resolve_inception_weights
    from transgan.fileio import check_output
    from transgan.runtime import resolve_device

    check_output(out_file, "--out", inputs=(Path(data), inception_weights), force=force)
    start = time.time()
    try:
        dataset = real_subset(build_dataset(data, resolution, data_root), max_real)
        dev = resolve_device(device)
        extractor = fid_stats.inception(resolve_inception_weights(inception_weights), dev)
        batches = fid_stats.dataset_batches(dataset, batch_size)
        mu, sigma, count = fid_stats.statistics(batches, extractor, len(dataset), data)
    except (EvalError, DataError) as err:
        raise click.ClickException(str(err)) from err
    fid_stats.write_ref_stats(out_file, mu, sigma, count)
    click.echo(
        f"wrote {out_file}: mu {mu.shape}, sigma {sigma.shape} from {count:,} images of "
        f"{data} at {resolution} px ({time.time() - start:.0f} s)"
    )
