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


def run_dir_of(snapshot: Path) -> Path | None:
    """The run directory the snapshot sits in (it has the run's config.json), if any."""
    config = snapshot.parent / "config.json"
    return snapshot.parent if snapshot.parent != Path() and config.is_file() else None


def run_metrics(run_dir: Path, snapshot_name: str) -> list[dict[str, Any]]:
    """The metrics the run measured for this snapshot (by file name), else its last ones:
    [{"metric", "kimg", "results", "protocol"}]."""
    found = []
    for path in sorted(run_dir.glob("metric-*.jsonl")):
        records = read_jsonl(path)
        if not records:
            continue
        mine = [r for r in records if r.get("snapshot") == snapshot_name] or records[-1:]
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
    taken = [name for name in FOLDER_FILES if (out / name).exists()]
    if taken and not force:
        raise HubExportError(
            f"--out {out} already holds {', '.join(taken)}; pass --force to overwrite, or "
            "choose another folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    run_dir = run_dir_of(source)
    run_config = json.loads((run_dir / "config.json").read_text()) if run_dir else None
    metrics = run_metrics(run_dir, source.name) if run_dir else []

    weights = out / HUB_WEIGHTS
    if source.resolve() != weights.resolve():
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


def model_card(
    config: ModelConfig,
    snapshot: dict[str, Any],
    run_config: dict[str, Any] | None,
    metrics: list[dict[str, Any]],
) -> str:
    """The README.md of a Hub folder."""
    model = config.to_dict()
    name, res, data = config.name, config.img_size, config.dataset
    conditional = getattr(config.generator, "num_classes", 0) > 0
    tags = ["transgan", "gan", "image-generation", "pytorch"]
    tags.append("class-conditional" if conditional else "unconditional-image-generation")
    front = ["---", "library_name: transgan", "tags:"] + [f"- {t}" for t in tags]
    front += [
        "# license: choose one before you publish (e.g. mit, apache-2.0, cc-by-4.0)",
        "pipeline_tag: unconditional-image-generation",
        "---",
        "",
    ]
    lines = [
        f"# TransGAN generator `{name}` ({res}×{res} px, {data})",
        "",
        "A TransGAN generator (Jiang et al., NeurIPS 2021: a GAN whose generator and "
        "discriminator are pure transformers) trained with the `transgan` package. This "
        "folder holds its EMA weights and config (`model.safetensors`), a sample grid from "
        "seed 0 and this card.",
        "",
        "![samples from seed 0](samples.png)",
        "",
        "## Use",
        "",
        "```bash",
        "pip install transgan",
        "transgan generate OWNER/NAME --n 64 --seed 0 --grid grid.png   # this repository's id",
        "transgan serve OWNER/NAME                                      # a sampler page",
        "```",
        "",
        "```python",
        "from transgan import load_generator",
        "from transgan.sampling import generate_images, latents",
        "",
        'generator, config = load_generator("OWNER/NAME")  # or this folder\'s path',
        "images = generate_images(generator, latents(16, config.generator.latent_dim, seed=0))",
        "```",
        "",
        "`model.safetensors` holds tensors and a JSON header only: loading it runs no code.",
        "",
        "## Metrics",
        "",
    ]
    if metrics:
        lines += ["| metric | value | at kimg | how it was measured |", "|---|---|---|---|"]
        for m in metrics:
            values = ", ".join(f"{k} {v:.4g}" for k, v in m["results"].items())
            lines.append(f"| {m['metric']} | {values} | {m['kimg']} | {m['protocol']} |")
    else:
        lines.append("No metric was recorded with this snapshot (`transgan eval` measures them).")
    lines += ["", "## Training", ""]
    if run_config:
        train = run_config.get("train", {})
        keys = (
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
        lines += [f"- `{k}`: `{json.dumps(train[k])}`" for k in keys if k in train]
        lines.append(f"- images seen by D at this snapshot: {snapshot.get('kimg', '?')} kimg")
        lines.append("- the full training config: `config.json` → `training`")
    else:
        lines.append("The snapshot was exported without its run directory: no training record.")
    lines += ["", "## Model config", "", "```json", json.dumps(model, indent=2), "```", ""]
    return "\n".join(front + lines)
