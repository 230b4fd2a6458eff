"""`transgan train`: options validated where they are declared, then ``training.loop.train``."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from transgan import presets
from transgan.runtime import MAX_SEED, resolve_device
from transgan.training.augment import AugmentConfig
from transgan.training.config import PRECISIONS, TrainConfig
from transgan.training.losses import LOSSES, LossConfig
from transgan.training.recipes import get_recipe, list_recipes

# Options that may change when a run is resumed; everything else comes from config.json.
RESUMABLE = {
    "kimg",
    "max_time",
    "tick",
    "snap",
    "workers",
    "device",
    "max_bad_steps",
    "keep_states",
    "precision",  # an explicit switch; config.json keeps the history
}


def _numbers(text: str, kind: type, option: str) -> tuple:
    """``"4,6,8"`` -> (4, 6, 8); a clear error naming ``option`` otherwise."""
    try:
        return tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        what = "integers" if kind is int else "numbers"
        raise click.BadParameter(
            f"{text!r} is not a comma-separated list of {what}, e.g. 4,6,8", param_hint=option
        ) from None


def _floats(text: str) -> tuple[float, ...]:
    return _numbers(text, float, "--local-until-kimg")


def _ints(text: str) -> tuple[int, ...]:
    return _numbers(text, int, "--local-windows")


def parse_overrides(items: tuple[str, ...]) -> dict[str, Any]:
    """``("g_dim=96", "g_depths=(1,1,1)")`` -> {"g_dim": 96, "g_depths": (1, 1, 1)}."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--set")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()
    return out


EXAMPLES = """
\b
Examples:
  # a short CPU run on the built-in digits (no download)
  transgan train --model transgan_tiny --data digits --kimg 20 --tick 1
  # the paper's TransGAN-S on CIFAR-10 (downloads into ./data)
  transgan train --model transgan_s --data cifar10 --kimg 50000
  # 8 GPUs on one node
  torchrun --nproc_per_node=8 -m transgan train --model transgan_xl --data cifar10
  # any folder of images, at the model's resolution
  transgan train --model transgan_celeba64 --data ~/faces --batch 32 --g-batch 64
  # continue a run exactly where it stopped
  transgan train --resume runs/00003-transgan_s-cifar10 --kimg 60000
  # a paper ablation (Table 3, last step)
  transgan train --recipe table3-da-mtct-local --kimg 50000
  # show the resolved config and stop
  transgan train --model transgan_xl --data cifar10 --dry-run
  # a variant of a preset (model config fields: g_* generator, d_* discriminator)
  transgan train --model transgan_tiny --set g_dim=128 --set d_depth=3 --dry-run
"""


@click.command(epilog=EXAMPLES, context_settings={"show_default": True})
@click.option("--model", type=click.Choice(presets.list_models()), default="transgan_tiny")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a model config field, e.g. --set g_dim=128 --set d_depth=3 (the "
    "fields of the preset's generator and discriminator; an unknown one lists them). "
    "ViTGAN's discriminator (v1 patch D): --set d_attn_kind=l2 --set d_spectral_norm=True "
    "--set d_patch_overlap=True.",
)
@click.option(
    "--data", default="digits", help="digits, cifar10, stl10, celeba, or a folder of images."
)
@click.option("--data-root", default="data", help="Where torchvision data sets are downloaded.")
@click.option(
    "--max-broken-fraction",
    type=click.FloatRange(0, 1),
    default=0.1,
    help="Folder data: stop before training if more files than this are broken.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs"),
    help="Parent folder of run directories.",
)
@click.option("--desc", default="", help="Extra words for the run directory name.")
@click.option(
    "--kimg",
    type=click.FloatRange(min=0, min_open=True),
    default=100.0,
    help="Training length in thousands of real images shown to D.",
)
@click.option(
    "--max-time",
    type=click.FloatRange(0),
    default=0.0,
    help="Also stop after this many seconds of training (metrics excluded; counted across "
    "resumes), with a snapshot and a training state; 0 = no limit.",
)
@click.option(
    "--tick",
    type=click.FloatRange(min=0, min_open=True),
    default=4.0,
    help="kimg per tick (status line, stats.jsonl, image grid).",
)
@click.option(
    "--snap", type=click.IntRange(1), default=10, help="Ticks per snapshot and training state."
)
@click.option("--keep-states", type=click.IntRange(1), default=2, help="Training states kept.")
@click.option("--batch", type=click.IntRange(1), default=64, help="D batch (all ranks).")
@click.option("--g-batch", type=click.IntRange(1), default=128, help="G batch (all ranks).")
@click.option("--n-critic", type=click.IntRange(1), default=5, help="D steps per G step.")
@click.option(
    "--accum-steps",
    type=click.IntRange(1),
    default=1,
    help="Split each D and G batch into this many micro-batches whose gradients add up "
    "before one optimizer step (same update, less memory).",
)
@click.option("--loss", type=click.Choice(LOSSES), default="wgangp-eps")
@click.option("--gp-weight", type=click.FloatRange(0), default=10.0)
@click.option(
    "--penalty-every",
    type=click.IntRange(1),
    default=1,
    help="Lazy regularisation: the gradient penalty / R1 on every k-th D step, weighted ×k "
    "(1 = every step, as the paper).",
)
@click.option("--r1-gamma", type=click.FloatRange(0), default=1.0, help="logistic loss only.")
@click.option("--lr-g", type=click.FloatRange(min=0, min_open=True), default=1e-4)
@click.option("--lr-d", type=click.FloatRange(min=0, min_open=True), default=1e-4)
@click.option("--beta1", type=click.FloatRange(0, 1, max_open=True), default=0.0)
@click.option("--beta2", type=click.FloatRange(0, 1, max_open=True), default=0.99)
@click.option("--grad-clip", type=click.FloatRange(0), default=5.0, help="0 = no clipping.")
@click.option(
    "--ema-kimg",
    type=click.FloatRange(min=0, min_open=True),
    default=500.0,
    help="EMA half-life of G.",
)
@click.option(
    "--ema-rampup",
    type=click.FloatRange(0),
    default=0.1,
    help="EMA half-life <= this · images seen; 0 = no ramp-up.",
)
@click.option(
    "--augment", default="translation,cutout,color", help="DiffAugment policy, or 'none'."
)
@click.option("--translation", type=click.FloatRange(0, 1, max_open=True), default=0.2)
@click.option("--cutout", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.5)
@click.option("--cutout-prob", type=click.FloatRange(0, 1), default=0.3)
@click.option(
    "--mtct-weight",
    type=click.FloatRange(0),
    default=0.0,
    help="MT-CT super-resolution loss weight λ (paper: 50); 0 = off.",
)
@click.option(
    "--local",
    "local_kind",
    type=click.Choice(["none", "2d", "1d"]),
    default="none",
    help="Locality-aware attention mask kind.",
)
@click.option("--local-windows", default="", help="Window radii, e.g. 4,6,8,10.")
@click.option("--local-until-kimg", default="", help="kimg where each window ends.")
@click.option("--local-blocks", type=click.Choice(["last", "all"]), default="last")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0)
@click.option("--device", default="auto", help="auto, cpu, cuda.")
@click.option("--workers", type=click.IntRange(0), default=2, help="Data loader processes.")
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default="auto",
    help="auto: time a few of this run's training iterations in fp32 and in bf16 (on CUDA "
    "with bf16 and on CPUs with amx_bf16/avx512_bf16) and use bf16 only if it is faster; "
    "both figures go to the log and config.json. A resumed run keeps the precision it "
    "recorded unless one is given.",
)
@click.option(
    "--cond/--no-cond",
    default=False,
    help="Class-conditional G and D, labels from the data (digits, cifar10, stl10's labelled "
    "split, a folder with one subfolder per class). See docs/conditional.md.",
)
@click.option(
    "--mirror/--no-mirror",
    default=None,
    help="Random x-flips of the real images. Default: the authors' choice for the data "
    "trained on (--data): on, except for the digits (a flipped 2 is not a 2).",
)
@click.option(
    "--tensorboard/--no-tensorboard",
    default=None,
    help="TensorBoard event files in RUN_DIR/tensorboard (stats, metrics, grids). Default: "
    "on when the tensorboard package is installed (pip install 'transgan[tensorboard]').",
)
@click.option("--compile/--no-compile", default=False, help="torch.compile G and D.")
@click.option("--grad-checkpointing/--no-grad-checkpointing", default=False)
@click.option(
    "--max-bad-steps",
    type=click.IntRange(0),
    default=20,
    help="Stop after this many steps skipped for non-finite gradients.",
)
@click.option("--grid-size", type=click.IntRange(1, 1024), default=64)
@click.option(
    "--metrics",
    "metrics",
    default="",
    help="Metrics of the EMA generator during training, e.g. fid10k,is10k; on the digits "
    "the offline dfid2k,dkid2k,dis2k,dcov2k.",
)
@click.option(
    "--metrics-every",
    type=click.FloatRange(0),
    default=0.0,
    help="kimg between evaluations; 0 = at every snapshot.",
)
@click.option(
    "--metrics-max-real",
    type=click.IntRange(2),
    default=None,
    help="Real images for the reference statistics (default: all).",
)
@click.option(
    "--inception-weights",
    type=click.Path(dir_okay=False),
    default=None,
    help="Local Inception weights file for --metrics on offline machines.",
)
@click.option(
    "--dinov2-weights",
    type=click.Path(dir_okay=False),
    default=None,
    help="Local DINOv2 ViT-L/14 weights (dinov2_vitl14_pretrain.pth) for fdd metrics.",
)
@click.option(
    "--recipe",
    type=click.Choice(list_recipes()),
    help="Start from a paper-ablation recipe (see `transgan recipes`).",
)
@click.option(
    "--run-dir",
    "fixed_run_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Use exactly this run directory: start there, or continue if it holds a run "
    "(for torchrun --max-restarts and job schedulers that re-run the same command).",
)
@click.option(
    "--resume",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Run directory to continue from its newest training state.",
)
@click.option(
    "--restart",
    is_flag=True,
    help="With --resume or --run-dir: start that run over from kimg 0 in place; its files "
    "move into a folder abandoned-*/ inside it (for a run whose training states are lost).",
)
@click.option("--dry-run", is_flag=True, help="Print the resolved config and exit.")
@click.pass_context
def train(ctx: click.Context, **opts: Any) -> None:
    """Train a TransGAN (one process, or one per GPU under torchrun)."""
    resume: Path | None = opts.pop("resume")
    dry_run: bool = opts.pop("dry_run")
    restart: bool = opts.pop("restart")
    out, desc = opts.pop("out"), opts.pop("desc")
    fixed_run_dir: Path | None = opts.pop("fixed_run_dir")
    recipe_name: str | None = opts.pop("recipe")
    given = {k for k in opts if ctx.get_parameter_source(k) != ParameterSource.DEFAULT}
    if recipe_name is not None:
        if resume is not None:
            raise click.UsageError("--recipe starts a new run; it cannot be used with --resume")
        apply_recipe(opts, given, recipe_name)
        desc = desc or recipe_name
    try:
        if resume is not None:
            if fixed_run_dir is not None:
                raise ValueError("give --resume or --run-dir, not both")
            cfg = config_for_resume(resume, {k: opts[k] for k in given}, given)
        else:
            cfg = config_from_options(opts)
            if fixed_run_dir is not None and (fixed_run_dir / "config.json").exists():
                check_same_run(fixed_run_dir, cfg)
                resume = fixed_run_dir
        model_config = cfg.model_config()
        check_buildable(model_config)
        cfg.check_metrics()
        cfg.tensorboard_used()  # refuses --tensorboard without the package, before any work
        if not os.environ.get("LOCAL_RANK"):  # under torchrun each rank picks its own GPU
            resolve_device(cfg.device)
    except (ValueError, KeyError) as err:
        raise click.UsageError(str(err)) from err
    if restart and resume is None:
        raise click.UsageError("--restart starts an existing run over; give --resume RUN_DIR")
    if dry_run:
        click.echo(
            json.dumps(
                {"train": cfg.to_dict(), "model": model_config.to_dict()}, indent=2, default=list
            )
        )
        return
    from transgan.data import DataError
    from transgan.evaluation.metrics import EvalError
    from transgan.training.loop import TrainingError
    from transgan.training.loop import train as run_training
    from transgan.training.precision import PrecisionError
    from transgan.training.state import StateError

    try:
        run_dir = run_training(
            cfg, out=out, desc=desc, resume=resume, run_dir=fixed_run_dir, restart=restart
        )
    except (DataError, TrainingError, StateError, EvalError, PrecisionError) as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"done: {run_dir}")


def check_buildable(model_config: presets.ModelConfig) -> None:
    """Build G and D on the meta device (shapes only, no memory): a config that passes its
    field checks but cannot make a network fails here, before any run directory exists."""
    import torch

    try:
        with torch.device("meta"):
            presets.build_gan(model_config)
    except (RuntimeError, ValueError, TypeError, ZeroDivisionError) as err:
        raise ValueError(f"this model config does not build a network: {err}") from err


def apply_recipe(opts: dict[str, Any], given: set[str], name: str) -> None:
    """Fill ``opts`` from recipe ``name`` wherever the user gave no value."""
    for key, value in get_recipe(name).options.items():
        if key == "overrides":
            opts[key] = tuple(value) + tuple(opts[key])  # the user's --set comes last and wins
        elif key not in given:
            opts[key] = value


def config_from_options(opts: dict[str, Any]) -> TrainConfig:
    augment = AugmentConfig.from_string(
        opts["augment"],
        translation_ratio=opts["translation"],
        cutout_ratio=opts["cutout"],
        cutout_prob=opts["cutout_prob"],
    )
    loss = LossConfig(kind=opts["loss"], gp_weight=opts["gp_weight"], r1_gamma=opts["r1_gamma"])
    return TrainConfig(
        model=opts["model"],
        model_overrides=parse_overrides(opts["overrides"]),
        data=opts["data"],
        data_root=opts["data_root"],
        max_broken_fraction=opts["max_broken_fraction"],
        kimg=opts["kimg"],
        max_time=opts["max_time"],
        tick_kimg=opts["tick"],
        snap_ticks=opts["snap"],
        keep_states=opts["keep_states"],
        grid_size=opts["grid_size"],
        batch=opts["batch"],
        g_batch=opts["g_batch"],
        n_critic=opts["n_critic"],
        accum_steps=opts["accum_steps"],
        loss=loss,
        penalty_every=opts["penalty_every"],
        lr_g=opts["lr_g"],
        lr_d=opts["lr_d"],
        beta1=opts["beta1"],
        beta2=opts["beta2"],
        grad_clip=opts["grad_clip"],
        ema_kimg=opts["ema_kimg"],
        ema_rampup=opts["ema_rampup"] or None,
        augment=augment,
        mtct_weight=opts["mtct_weight"],
        local_kind=opts["local_kind"],
        local_windows=_ints(opts["local_windows"]),
        local_until_kimg=_floats(opts["local_until_kimg"]),
        local_blocks=opts["local_blocks"],
        seed=opts["seed"],
        device=opts["device"],
        workers=opts["workers"],
        precision=opts["precision"],
        compile=opts["compile"],
        cond=opts["cond"],
        mirror=opts["mirror"],
        tensorboard=opts["tensorboard"],
        grad_checkpointing=opts["grad_checkpointing"],
        max_bad_steps=opts["max_bad_steps"],
        metrics=tuple(m.strip() for m in opts["metrics"].split(",") if m.strip()),
        metrics_every_kimg=opts["metrics_every"],
        metrics_max_real=opts["metrics_max_real"],
        inception_weights=opts["inception_weights"],
        dinov2_weights=opts["dinov2_weights"],
    )


def check_same_run(run_dir: Path, cfg: TrainConfig) -> None:
    """Refuse to continue ``run_dir`` with settings other than the ones it was started with."""
    whole = read_run_config(run_dir / "config.json")
    saved = whole["train"]
    current = json.loads(json.dumps(cfg.to_dict()))
    fields = {
        "mirror",  # compared as used, below: a run from before --mirror trained without
        "kimg",
        "max_time",
        "tick_kimg",
        "snap_ticks",
        "workers",
        "device",
        "max_bad_steps",
        "keep_states",
        "precision",  # auto keeps what the run recorded; an explicit one is a logged switch
    }
    differs = sorted(k for k in current if k not in fields and saved.get(k) != current[k])
    if bool(whole.get("mirror", False)) != cfg.mirror_used():
        differs.append("mirror")
    if differs:
        raise ValueError(
            f"--run-dir {run_dir} holds a run with other settings ({', '.join(differs)});"
            " use a new --run-dir or the same options"
        )


def read_run_config(path: Path) -> dict[str, Any]:
    """A run's config.json, or a ValueError that names the file and what is wrong."""
    try:
        whole = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(
            f"{path} cannot be read as JSON ({err}); it is the run's record of its settings. "
            "Restore it from a backup, or start a new run"
        ) from err
    if not isinstance(whole, dict) or not isinstance(whole.get("train"), dict):
        raise ValueError(f"{path} has no 'train' settings; is it a transgan run's config.json?")
    return whole


def config_for_resume(run_dir: Path, values: dict[str, Any], given: set[str]) -> TrainConfig:
    """The run's saved config, with only the options that may change on resume applied."""
    config_file = run_dir / "config.json"
    if not config_file.exists():
        raise ValueError(f"--resume {run_dir}: no config.json there; is it a run directory?")
    refused = sorted(given - RESUMABLE)
    if refused:
        names = ", ".join("--" + k.replace("_", "-") for k in refused)
        raise ValueError(
            f"--resume continues the saved config; {names} cannot change. "
            f"Options that can: {', '.join(sorted(RESUMABLE))}"
        )
    whole = read_run_config(config_file)
    saved = whole["train"]
    if saved.get("mirror") is None:
        # the x-flip the run trained with; a run from before --mirror existed trained without
        saved["mirror"] = bool(whole.get("mirror", False))
    renamed = {"tick": "tick_kimg", "snap": "snap_ticks"}
    for key, value in values.items():
        saved[renamed.get(key, key)] = value
    try:
        return TrainConfig.from_dict(saved)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{config_file}: {err}") from err
