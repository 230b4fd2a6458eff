"""Hub-ready model folders: `transgan export SNAPSHOT --format hub --out DIR`.

The folder is what a Hugging Face Hub model repository holds:

- ``model.safetensors`` — the snapshot itself (EMA generator + config in its header), so
  every command that takes a snapshot takes the folder, or its Hub id once uploaded;
- ``config.json`` — the model config, the snapshot's metadata and, when the snapshot sits in
  its run directory, the training config;
- ``samples.png`` — a grid drawn from seed 0;
- ``README.md`` — the model card: a metadata block (``library_name: transgan``, tags; the
  license is left to the owner), the training settings, the metrics the run measured with
  how they were measured, and how to load it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from transgan.evaluation.metrics import parse_metrics
from transgan.fileio import atomic_path, read_jsonl
from transgan.images import save_grid
from transgan.presets import ModelConfig
from transgan.sampling import class_rows, generate_images, latents
from transgan.snapshot import HUB_WEIGHTS, load_generator, read_snapshot, resolve_snapshot

FOLDER_FILES = (HUB_WEIGHTS, "config.json", "samples.png", "README.md")

# How each metric kind is measured (the count of generated images follows the name).
PROTOCOLS = {
    "fid": "Fréchet Inception distance (torch-fidelity, Inception-v3 2015-12-05 weights) "
    "against the training images",
    "is": "Inception score (torch-fidelity, 10 splits)",
    "kid": "kernel Inception distance (torch-fidelity) against the training images",
    "pr": "precision / recall (torch-fidelity, VGG-16 features)",
    "fdd": "Fréchet distance in DINOv2 ViT-L/14 features against the training images",
    "dfid": "Fréchet distance in the features of transgan's digits classifier (trained on "
    "the digits' training split) against the held-out split",
    "dis": "Inception-score formula on the digits classifier's predictions",
    "dkid": "kernel distance (×1000) in the digits classifier's features vs the held-out split",
    "dcov": "share of the ten digits among the classifier's predictions (1.0 = all ten)",
    "dacc": "the digits classifier's accuracy on the class G was asked for",
}


class HubExportError(ValueError):
    """The folder cannot be written (the message says why and what to do)."""


def _json_object(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_run_config(data: dict[str, Any] | None) -> bool:
    """Whether ``data`` is a run directory's config.json (as `transgan train` writes it)."""
    return bool(data) and isinstance(data.get("train"), dict) and "library_name" not in data


def is_hub_config(data: dict[str, Any] | None) -> bool:
    """Whether ``data`` is the config.json of a folder written by `export --format hub`."""
    return bool(data) and data.get("library_name") == "transgan" and "model_config" in data


def training_record(
    snapshot: Path, extra: dict[str, Any]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The run config and this snapshot's metrics, from where the snapshot sits: its run
    directory, or the folder of an earlier `export --format hub` (a local folder or a Hub
    id's cached files), whose record is kept as it was."""
    # absolute, not resolved: a bare file name names the current folder, and a Hub cache's
    # links are not followed into its blob store
    folder = Path(os.path.abspath(snapshot)).parent
    data = _json_object(folder / "config.json")
    if is_run_config(data):
        return data, run_metrics(folder, Path(snapshot).name, extra.get("nimg"))
    if is_hub_config(data):
        training = data.get("training")
        metrics = data.get("metrics")
        return (
            training if is_run_config(training) else None,
            metrics if isinstance(metrics, list) else [],
        )
    return None, []


def run_metrics(run_dir: Path, snapshot_name: str, nimg: int | None = None) -> list[dict[str, Any]]:
    """The metrics the run measured for this snapshot — records naming its file and, when
    both say, written at its image count (a snapshot file is rewritten within its kimg) —
    and nothing else: [{"metric", "kimg", "results", "protocol"}]."""
    found = []
    for path in sorted(run_dir.glob("metric-*.jsonl")):
        mine = [
            r
            for r in read_jsonl(path)
            if r.get("snapshot") == snapshot_name
            and (nimg is None or r.get("nimg") is None or r.get("nimg") == nimg)
            and isinstance(r.get("results"), dict)
        ]
        if not mine:
            continue
        name = path.stem.removeprefix("metric-")
        try:
            (spec,) = parse_metrics(name)
        except ValueError:
            continue
        protocol = f"{PROTOCOLS.get(spec.kind, spec.kind)}; {spec.num_samples:,} generated images"
        found.append(
            {
                "metric": name,
                "kimg": mine[-1].get("kimg"),
                "results": mine[-1]["results"],
                "protocol": protocol,
            }
        )
    return found


def export_hub_folder(
    snapshot: str | os.PathLike[str], out: Path, force: bool = False, device: str = "cpu"
) -> list[Path]:
    """Write the Hub-ready folder ``out`` for ``snapshot``; returns the files written."""
    source = resolve_snapshot(snapshot)
    _, config, extra = read_snapshot(source)
    if out.exists() and not out.is_dir():
        raise HubExportError(f"--out {out} is a file; give a folder for --format hub")
    run_config, metrics = training_record(source, extra)
    weights = out / HUB_WEIGHTS
    read = [p for p in (source, source.parent / "config.json") if p.exists()]
    for name in FOLDER_FILES:  # never write over a file this export reads, even with --force
        target = out / name
        if target.exists() and any(os.path.samefile(target, p) for p in read):
            raise HubExportError(
                f"--out {out} would write {name} over a file this export reads ({target}); "
                "choose another folder"
            )
    taken = [name for name in FOLDER_FILES if (out / name).exists()]
    if taken and not force:
        raise HubExportError(
            f"--out {out} already holds {', '.join(taken)}; pass --force to overwrite, or "
            "choose another folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(weights) as tmp:
        shutil.copyfile(source, tmp)
    folder_config = {
        "library_name": "transgan",
        "model_config": config.to_dict(),
        "snapshot": extra,
        "training": run_config,
        "metrics": metrics,
    }
    with atomic_path(out / "config.json") as tmp:
        Path(tmp).write_text(json.dumps(folder_config, indent=2) + "\n")
    _draw_samples(weights, out / "samples.png", device)
    with atomic_path(out / "README.md") as tmp:
        Path(tmp).write_text(model_card(config, extra, run_config, metrics))
    return [out / name for name in FOLDER_FILES]


def _draw_samples(weights: Path, path: Path, device: str) -> None:
    generator, config = load_generator(weights, device)
    classes = getattr(config.generator, "num_classes", 0)
    if classes:  # one row per class
        per_row = 8
        z = latents(classes * per_row, config.generator.latent_dim, 0)
        images = generate_images(generator, z, labels=class_rows(classes, per_row))
        save_grid(images, path, per_row)
    else:
        images = generate_images(generator, latents(64, config.generator.latent_dim, 0))
        save_grid(images, path, 8)


_CARD_TRAINING_KEYS = (
    "model",
    "data",
    "kimg",
    "batch",
    "g_batch",
    "n_critic",
    "loss",
    "lr_g",
    "lr_d",
    "augment",
    "ema_kimg",
    "seed",
)


def _card_front_matter(conditional: bool) -> list[str]:
    """The Hub's YAML header: library, tags and (unconditional only) the pipeline."""
    tags = ["transgan", "gan", "image-generation", "pytorch"]
    tags.append("class-conditional" if conditional else "unconditional-image-generation")
    front = ["---", "library_name: transgan", "tags:"] + [f"- {t}" for t in tags]
    front.append("# license: choose one before you publish (e.g. mit, apache-2.0, cc-by-4.0)")
    # the Hub has no pipeline for class-conditional generation: such a model names none
    front += [] if conditional else ["pipeline_tag: unconditional-image-generation"]
    return [*front, "---", ""]


def _card_usage(config: ModelConfig, classes: list[str]) -> tuple[list[str], list[str]]:
    """The shell and Python lines of the card's "Use" section."""
    if not getattr(config.generator, "num_classes", 0):
        shell = ["transgan generate OWNER/NAME --n 64 --seed 0 --grid grid.png"]
        python = [
            "from transgan import load_generator",
            "from transgan.sampling import generate_images, latents",
            "",
            'generator, config = load_generator("OWNER/NAME")  # or this folder\'s path',
            "images = generate_images(generator, latents(16, config.generator.latent_dim, seed=0))",
        ]
        return shell, python
    first = classes[0] if classes else "0"
    shell = [
        f"transgan generate OWNER/NAME --class {first} --n 16 --seed 0 --grid grid.png",
        "transgan generate OWNER/NAME --n 64 --seed 0 --grid grid.png   # a row per class",
    ]
    python = [
        "import torch",
        "from transgan import load_generator",
        "from transgan.sampling import generate_images, latents",
        "",
        'generator, config = load_generator("OWNER/NAME")  # or this folder\'s path',
        "z = latents(16, config.generator.latent_dim, seed=0)",
        "labels = torch.full((16,), 0)  # the class of each image "
        f"(0 … {config.generator.num_classes - 1})",
        "images = generate_images(generator, z, noise_seed=0, labels=labels)",
    ]
    return shell, python


def _card_metrics(metrics: list[dict[str, Any]]) -> list[str]:
    if not metrics:
        return [
            "No metric was recorded for this snapshot (the run may have measured other "
            "snapshots; those numbers are not this model's). `transgan eval` measures it."
        ]
    lines = ["| metric | value | at kimg | how it was measured |", "|---|---|---|---|"]
    for m in metrics:
        values = ", ".join(f"{k} {v:.4g}" for k, v in m["results"].items())
        lines.append(f"| {m['metric']} | {values} | {m['kimg']} | {m['protocol']} |")
    return lines


def _card_training(run_config: dict[str, Any] | None, snapshot: dict[str, Any]) -> list[str]:
    if not run_config:
        return ["The snapshot was exported without its run directory: no training record."]
    train = run_config.get("train", {})
    lines = [f"- `{k}`: `{json.dumps(train[k])}`" for k in _CARD_TRAINING_KEYS if k in train]
    lines.append(f"- images seen by D at this snapshot: {snapshot.get('kimg', '?')} kimg")
    lines.append("- the full training config: `config.json` → `training`")
    return lines


def model_card(
    config: ModelConfig,
    snapshot: dict[str, Any],
    run_config: dict[str, Any] | None,
    metrics: list[dict[str, Any]],
) -> str:
    """The README.md of a Hub folder."""
    name, res, data = config.name, config.img_size, config.dataset
    conditional = getattr(config.generator, "num_classes", 0) > 0
    classes = list(snapshot.get("class_names") or [])
    shell, python = _card_usage(config, classes)
    what = (
        f"a class-conditional generator ({config.generator.num_classes} classes"
        + (f": {', '.join(classes)}" if classes else "")
        + ")"
        if conditional
        else "an unconditional generator"
    )
    lines = [
        f"# TransGAN generator `{name}` ({res}×{res} px, {data})",
        "",
        "A TransGAN generator (Jiang et al., NeurIPS 2021: a GAN whose generator and "
        "discriminator are pure transformers) trained with the `transgan` package. This "
        "folder holds its EMA weights and config (`model.safetensors`), a sample grid from "
        f"seed 0 and this card. It is {what}.",
        "",
        "![samples from seed 0](samples.png)",
        "",
        "## Use",
        "",
        "```bash",
        "pip install transgan",
        "# OWNER/NAME: this repository's id",
        *shell,
        "transgan serve OWNER/NAME   # a sampler page",
        "```",
        "",
        "```python",
        *python,
        "```",
        "",
        "`model.safetensors` holds tensors and a JSON header only: loading it runs no code.",
        "",
        "## Metrics",
        "",
        *_card_metrics(metrics),
        "",
        "## Training",
        "",
        *_card_training(run_config, snapshot),
    ]
    model = json.dumps(config.to_dict(), indent=2)
    lines += ["", "## Model config", "", "```json", model, "```", ""]
    return "\n".join(_card_front_matter(conditional) + lines)
