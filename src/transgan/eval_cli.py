"""`transgan eval` and `transgan plot`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from transgan.metrics import WEIGHTS_ENV

EXAMPLES = f"""
\b
Examples:
  transgan eval runs/00001-x/network-snapshot-010000.safetensors --data cifar10 \\
      --metrics fid50k,is50k,kid50k
  # offline: a local copy of torch-fidelity's Inception weights
  transgan eval SNAP.safetensors --data digits --metrics fid1k \\
      --inception-weights ~/weights-inception-2015-12-05-6726825d.pth
  # the same through the environment
  {WEIGHTS_ENV}=~/weights-inception-2015-12-05-6726825d.pth transgan eval SNAP --data digits
"""


@click.command("eval", epilog=EXAMPLES, context_settings={"show_default": True})
@click.argument("snapshot", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--data",
    default="digits",
    help="Reference data: digits, cifar10, stl10, celeba "
    "or a folder (the training set, as in the paper).",
)
@click.option("--data-root", default="data")
@click.option(
    "--metrics",
    "metric_text",
    default="fid50k,is50k",
    help="Comma-separated: fid|is|kid|pr + sample count (fid50k, kid1000, pr10k); on the "
    "digits also the offline dfid|dkid|dis|dcov (dfid2k,dcov2k).",
)
@click.option(
    "--inception-weights",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Local Inception weights file (or set {WEIGHTS_ENV}).",
)
@click.option("--max-real", type=click.IntRange(2), help="Use at most this many real images.")
@click.option("--cache-dir", help="torch-fidelity's feature cache (default: torch's home).")
@click.option("--batch-size", type=click.IntRange(1), default=64)
@click.option("--device", default="auto")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the JSON result to this file.",
)
def eval_command(
    snapshot: Path,
    data: str,
    data_root: str,
    metric_text: str,
    inception_weights: Path | None,
    max_real: int | None,
    cache_dir: str | None,
    batch_size: int,
    device: str,
    out_file: Path | None,
) -> None:
    """Compute IS / FID / KID (/ precision-recall) of SNAPSHOT with torch-fidelity."""
    from transgan.data import DataError, build_dataset
    from transgan.data.datasets import data_key
    from transgan.fileio import write_json_atomic
    from transgan.metrics import (
        EvalError,
        evaluate,
        parse_metrics,
        real_subset,
        resolve_inception_weights,
    )
    from transgan.runtime import resolve_device
    from transgan.snapshot import SnapshotError, load_generator

    start = time.time()
    try:
        specs = parse_metrics(metric_text)
        weights = resolve_inception_weights(inception_weights)
        generator, config = load_generator(snapshot, resolve_device(device))
        real = real_subset(build_dataset(data, config.img_size, data_root), max_real)
        results = evaluate(
            generator,
            config.generator.latent_dim,
            real,
            data_key(data, config.img_size),
            specs,
            inception_weights=weights,
            cache_dir=cache_dir,
            batch_size=batch_size,
            verbose=True,
        )
    except (EvalError, SnapshotError, DataError) as err:
        raise click.ClickException(str(err)) from err
    report = {
        "snapshot": str(snapshot),
        "data": data,
        "num_real": len(real),
        "metrics": results,
        "seconds": round(time.time() - start, 1),
    }
    click.echo(json.dumps(report, indent=2))
    if out_file is not None:
        write_json_atomic(out_file, report)


@click.command("plot")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the figure (default: RUN_DIR/curves.png).",
)
def plot_command(run_dir: Path, out_file: Path | None) -> None:
    """Plot losses, D outputs and every metric of RUN_DIR against kimg into curves.png."""
    from transgan.plotting import plot_run

    try:
        path = plot_run(run_dir, out_file)
    except FileNotFoundError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"wrote {path}")
