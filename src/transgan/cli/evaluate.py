"""`transgan eval` and `transgan plot`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from transgan.evaluation.metrics import MetricSpec
from transgan.evaluation.weights import DINOV2_ENV, WEIGHTS_ENV
from transgan.progress import interactive
from transgan.runtime import MAX_SEED

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
  # images from any model (a folder or an .npz of uint8 images), same metrics and cache
  transgan eval --images samples/ --data cifar10 --metrics fid10k,is10k
  # Fréchet distance in DINOv2 features, offline with the released ViT-L/14 weights file
  transgan eval SNAP --data cifar10 --metrics fdd50k --dinov2-weights dinov2_vitl14_pretrain.pth
  # FID against the authors' precomputed statistics, with their uint8 truncation
  transgan eval SNAP --ref-stats fid_stats_cifar10_train.npz --metrics fid50k --quantize truncate
"""


@click.command("eval", epilog=EXAMPLES, context_settings={"show_default": True})
@click.argument("snapshot", required=False, type=click.Path(path_type=Path))
@click.option(
    "--images",
    type=click.Path(exists=True, path_type=Path),
    help="Score these images instead of a snapshot: a folder of image files or an .npz of "
    "uint8 (N, H, W, 3) images, from any model.",
)
@click.option(
    "--resolution",
    type=click.IntRange(8),
    help="--images: resize every image to this side (needed when their sizes differ).",
)
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
    help="Comma-separated: fid|is|kid|pr|fdd + sample count (fid50k, kid1000, pr10k, "
    "fdd50k); on the digits also the offline dfid|dkid|dis|dcov|dacc (dfid2k,dcov2k).",
)
@click.option(
    "--inception-weights",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Local Inception weights file (or set {WEIGHTS_ENV}).",
)
@click.option(
    "--dinov2-weights",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Local DINOv2 ViT-L/14 weights for fdd metrics (or set {DINOV2_ENV}).",
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
@click.option(
    "--ref-stats",
    type=click.Path(dir_okay=False, path_type=Path),
    help="FID against precomputed statistics (.npz with mu/sigma or mean/cov, as TTUR, "
    "pytorch-fid, the authors' fid_stat/ and `transgan fid-stats` write) instead of --data.",
)
@click.option(
    "--quantize",
    type=click.Choice(["round", "truncate"]),
    default="round",
    help="Samples to uint8: round (ours) or truncate (the authors' test.py). See "
    "docs/evaluation.md.",
)
@click.option(
    "--seed", type=click.IntRange(0, MAX_SEED), default=0, help="Seed of z and noise (--ref-stats)."
)
@click.option("--force", is_flag=True, help="Overwrite an existing --out file.")
@click.option(
    "--per-class/--no-per-class",
    default=False,
    help="Conditional models: also each class's FID/KID against that class's real images.",
)
@click.option(
    "--classes",
    "class_text",
    help="With --per-class: score only these classes (comma-separated indices or class "
    "names, e.g. 3,8 or cat,dog); default every class.",
)
def eval_command(
    snapshot: Path | None,
    images: Path | None,
    resolution: int | None,
    data: str,
    data_root: str,
    metric_text: str,
    inception_weights: Path | None,
    dinov2_weights: Path | None,
    max_real: int | None,
    cache_dir: str | None,
    batch_size: int,
    device: str,
    out_file: Path | None,
    ref_stats: Path | None,
    quantize: str,
    seed: int,
    force: bool,
    per_class: bool,
    class_text: str | None,
) -> None:
    """Compute IS / FID / KID (/ precision-recall) of SNAPSHOT with torch-fidelity (a
    snapshot file, a folder from `export --format hub`, or a Hub id owner/name[@revision]).

    A class-conditional model samples its classes in the training data's proportions."""
    from transgan.data import DataError
    from transgan.evaluation.metrics import EvalError, digits_metrics_note, parse_metrics
    from transgan.evaluation.weights import resolve_inception_weights
    from transgan.runtime import resolve_device
    from transgan.snapshot import SnapshotError

    start = time.time()
    if (snapshot is None) == (images is None):
        raise click.UsageError("give exactly one of SNAPSHOT or --images PATH")
    if class_text is not None and not per_class:
        raise click.UsageError("--classes chooses the classes of --per-class; add --per-class")
    if out_file is not None:
        from transgan.fileio import check_output
        from transgan.snapshot import snapshot_files

        inputs = (*snapshot_files(snapshot), images, ref_stats, inception_weights, dinov2_weights)
        check_output(out_file, "--out", inputs=inputs, force=force)
    try:
        specs = parse_metrics(metric_text)
        if (note := digits_metrics_note(specs, data)) is not None:
            click.echo(f"warning: {note}", err=True)
        scoring = Scoring(
            specs,
            resolve_inception_weights(inception_weights),
            dinov2_weights,
            cache_dir,
            batch_size,
            max_real,
        )
        if images is not None:
            report = _eval_images(images, resolution, data, data_root, ref_stats, scoring)
        else:
            dev = resolve_device(device)
            if ref_stats is not None:
                report = _eval_against_stats(snapshot, dev, ref_stats, quantize, seed, scoring)
            else:
                report = _eval_snapshot(
                    snapshot, dev, data, data_root, quantize, per_class, class_text, scoring
                )
    except (EvalError, SnapshotError, DataError) as err:
        raise click.ClickException(str(err)) from err
    report["seconds"] = round(time.time() - start, 1)
    click.echo(json.dumps(report, indent=2))
    if out_file is not None:
        from transgan.fileio import write_json_atomic

        write_json_atomic(out_file, report)


@dataclass(frozen=True)
class Scoring:
    """What every eval path shares: the metrics and how they are computed."""

    specs: list[MetricSpec]
    inception_weights: Path | None
    dinov2_weights: Path | None
    cache_dir: str | None
    batch_size: int
    max_real: int | None

    def evaluate_kwargs(self) -> dict:
        return {
            "inception_weights": self.inception_weights,
            "dinov2_weights": self.dinov2_weights,
            "cache_dir": self.cache_dir,
            "batch_size": self.batch_size,
            "verbose": interactive(),
        }


def _eval_snapshot(
    snapshot: Path,
    device: torch.device,
    data: str,
    data_root: str,
    quantize: str,
    per_class: bool,
    class_text: str | None,
    scoring: Scoring,
) -> dict:
    """``eval SNAPSHOT --data``: against the data set's real images, and with ``per_class``
    also each class's (those ``class_text`` names, every class when it is None)."""
    from transgan.data.datasets import data_key
    from transgan.evaluation.metrics import EvalError, evaluate, real_subset
    from transgan.snapshot import load_generator, read_snapshot_extra

    specs = scoring.specs
    generator, config = load_generator(snapshot, device)
    classes = getattr(config.generator, "num_classes", 0)
    if per_class and not classes:
        raise EvalError("--per-class needs a class-conditional model (trained with --cond)")
    if per_class and not any(s.kind in ("fid", "kid") for s in specs):
        raise EvalError(
            "--per-class computes fid and kid against each class's real images; add "
            "e.g. fid10k to --metrics (the digits metrics have one fixed reference)"
        )
    extra = read_snapshot_extra(snapshot) if classes else {}
    names = extra.get("class_names") or [str(c) for c in range(classes)]
    chosen = chosen_classes(class_text, names) if per_class else []
    shares = extra.get("class_shares")
    probs = torch.tensor(shares) if shares else None
    images, labels = _reference(data, config.img_size, data_root, conditional=bool(classes))
    key = data_key(data, config.img_size) + ("-labelled" if classes else "")
    common = scoring.evaluate_kwargs() | {"quantize_mode": quantize}
    latent_dim = config.generator.latent_dim
    real = real_subset(images, scoring.max_real)
    results = evaluate(generator, latent_dim, real, key, specs, class_probs=probs, **common)
    report = {
        "snapshot": str(snapshot),
        "data": data,
        "num_real": len(real),
        "quantize": quantize,
        "metrics": results,
    }
    if per_class:
        by_class = {}
        for c in chosen:
            members = (labels == c).nonzero().flatten().tolist()
            real_c = real_subset(Subset(images, members), scoring.max_real)
            one_hot = torch.nn.functional.one_hot(torch.tensor(c), classes).float()
            by_class[c] = evaluate(
                generator, latent_dim, real_c, f"{key}-class{c}", specs,
                class_probs=one_hot, **common,
            )  # fmt: skip
        report["per_class"] = by_class
    return report


def chosen_classes(text: str | None, names: list[str]) -> list[int]:
    """The class indices, sorted, that ``--classes TEXT`` names by index or by class name
    (every class when TEXT is None); ``names`` are the model's classes."""
    from transgan.data.labels import find_class
    from transgan.evaluation.metrics import EvalError

    if text is None:
        return list(range(len(names)))
    chosen: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if (index := find_class(part, names)) is not None:
            chosen.add(index)
        else:
            listing = ", ".join(f"{i}={n}" for i, n in enumerate(names))
            raise EvalError(
                f"--classes {text!r}: {part!r} is not a class of this model; give "
                f"comma-separated class indices or names from: {listing}"
            )
    return sorted(chosen)


def _reference(
    data: str, img_size: int, data_root: str, conditional: bool
) -> tuple[Dataset, torch.Tensor | None]:
    """The real images of ``data`` (and labels for a conditional model: its labelled split)."""
    from transgan.data import build_dataset
    from transgan.data.datasets import MappedDataset, image_of
    from transgan.data.labels import build_labeled_dataset

    if not conditional:
        return build_dataset(data, img_size, data_root), None
    labeled = build_labeled_dataset(data, img_size, data_root)
    return MappedDataset(labeled, image_of), labeled.labels


def _eval_images(
    images_path: Path,
    resolution: int | None,
    data: str,
    data_root: str,
    ref_stats: Path | None,
    scoring: Scoring,
) -> dict:
    """``eval --images``: the same metrics and reference caching for images from anywhere."""
    from transgan.data import build_dataset
    from transgan.data.datasets import data_key
    from transgan.evaluation import fid_stats
    from transgan.evaluation.image_sources import load_images
    from transgan.evaluation.metrics import evaluate, real_subset

    images = load_images(images_path, resolution)
    size = images[0].shape[-1]
    report: dict = {"images": str(images_path), "num_images": len(images)}
    if ref_stats is not None:

        def batches_for(count: int) -> tuple[Iterator[torch.Tensor], int]:
            subset = Subset(images, range(min(count, len(images))))
            return iter(DataLoader(subset, batch_size=scoring.batch_size)), len(subset)

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        results = fid_stats.fids_against_stats(
            ref_stats, scoring.specs, batches_for, scoring.inception_weights, device
        )
        report["ref_stats"] = str(ref_stats)
    else:
        real = real_subset(build_dataset(data, size, data_root), scoring.max_real)
        key = data_key(data, size)
        results = evaluate(images, 0, real, key, scoring.specs, **scoring.evaluate_kwargs())
        report |= {"data": data, "num_real": len(real)}
    return report | {"metrics": results}


def _eval_against_stats(
    snapshot: Path,
    device: torch.device,
    ref_stats: Path,
    quantize: str,
    seed: int,
    scoring: Scoring,
) -> dict:
    """``eval --ref-stats``: FID of SNAPSHOT's samples against precomputed statistics."""
    from transgan.evaluation import fid_stats
    from transgan.snapshot import load_generator, read_snapshot_extra

    generator, config = load_generator(snapshot, device)
    shares = read_snapshot_extra(snapshot).get("class_shares")  # conditional models
    probs = torch.tensor(shares) if shares else None
    latent_dim = config.generator.latent_dim

    def batches_for(count: int) -> tuple[Iterator[torch.Tensor], int]:
        batches = fid_stats.generator_batches(
            generator, latent_dim, count, scoring.batch_size, quantize, seed, probs
        )
        return batches, count

    results = fid_stats.fids_against_stats(
        ref_stats, scoring.specs, batches_for, scoring.inception_weights, device
    )
    return {
        "snapshot": str(snapshot),
        "ref_stats": str(ref_stats),
        "quantize": quantize,
        "seed": seed,
        "metrics": results,
    }


@click.command("plot")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the figure (default: RUN_DIR/curves.png).",
)
@click.option(
    "--force", is_flag=True, help="Overwrite an existing --out file (curves.png always is)."
)
def plot_command(run_dir: Path, out_file: Path | None, force: bool) -> None:
    """Plot losses, D outputs and every metric of RUN_DIR against kimg into curves.png."""
    from transgan.evaluation.plotting import PlotError, plot_run
    from transgan.fileio import check_output

    if out_file is not None:
        inputs = (run_dir / "stats.jsonl", *run_dir.glob("metric-*.jsonl"))
        check_output(out_file, "--out", inputs=inputs, force=force)
    notes: list[str] = []
    try:
        path = plot_run(run_dir, out_file, notes)
    except (FileNotFoundError, PlotError) as err:
        raise click.ClickException(str(err)) from err
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {path}")
