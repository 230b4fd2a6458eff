"""`transgan train`: options validated where they are declared, then ``training.loop.train``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from transgan import presets
from transgan.cli.train_config import (
    apply_recipe,
    check_buildable,
    check_same_run,
    config_for_resume,
    config_from_options,
)
from transgan.runtime import MAX_SEED, resolve_device
from transgan.training.config import PRECISIONS
from transgan.training.losses import LOSSES
from transgan.training.recipes import get_recipe, list_recipes

# Options that set a run's length, reports and machinery rather than what it learns: giving
# them with a recipe is routine, so replacing the recipe's value goes without a note.
RUN_BOOKKEEPING = {
    "kimg",
    "max_time",
    "tick",
    "snap",
    "seed",
    "workers",
    "device",
    "metrics",
    "metrics_every",
    "grid_size",
    "keep_states",
}

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
@click.option(
    "--reuse-fakes/--no-reuse-fakes",
    default=False,
    help="G's step reuses the fakes of the D step (with --n-critic 1): one G forward per "
    "iteration instead of two, as DCGAN trains. Needs --g-batch = --batch.",
)
@click.option(
    "--loss",
    type=click.Choice(LOSSES),
    default="wgangp-eps",
    help="wgangp-eps (the paper's), hinge, logistic (non-saturating, with R1), or "
    "relativistic (R3GAN: softplus(D(fake) − D(real)) paired, with R1 + R2).",
)
@click.option("--gp-weight", type=click.FloatRange(0), default=10.0)
@click.option(
    "--penalty-every",
    type=click.IntRange(1),
    default=1,
    help="Lazy regularisation: the gradient penalty / R1 on every k-th D step, weighted ×k "
    "(1 = every step, as the paper).",
)
@click.option(
    "--r1-gamma",
    type=click.FloatRange(0),
    default=1.0,
    help="R1 weight γ of the logistic loss; the relativistic loss uses it for R1 and R2.",
)
@click.option(
    "--r1-gamma-end",
    type=click.FloatRange(0),
    default=None,
    help="Decay γ (R1, and R2 of the relativistic loss) from --r1-gamma at the start to this "
    "over --r1-gamma-kimg along a cosine, then hold it, as R3GAN does (e.g. --r1-gamma 1 "
    "--r1-gamma-end 0.1). Default: γ fixed.",
)
@click.option(
    "--r1-gamma-kimg",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="The horizon of --r1-gamma-end's decay, in kimg. Default: the run's --kimg as it "
    "starts; config.json keeps it, so resuming with a larger --kimg holds γ at its end value "
    "rather than raising it again.",
)
@click.option(
    "--bcr-weight",
    type=click.FloatRange(0),
    default=0.0,
    help="Balanced consistency regularisation λ: D(x) ≈ D(T(x)) on reals and fakes, T the "
    "augmentation drawn again (translation 1/8 if --augment none). ViTGAN: 10. 0 = off.",
)
@click.option(
    "--lecam-weight",
    type=click.FloatRange(0),
    default=0.0,
    help="LeCam regulariser λ: D's logits pulled to the moving averages of the other "
    "side's (Tseng et al. 2021: 0.3). 0 = off.",
)
@click.option("--lr-g", type=click.FloatRange(min=0, min_open=True), default=1e-4)
@click.option("--lr-d", type=click.FloatRange(min=0, min_open=True), default=1e-4)
@click.option(
    "--lr-rampdown",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Both learning rates fall linearly to 0 over this last fraction of the run (ending "
    "at --kimg, or at --max-time if that comes first); 0 = constant rates.",
)
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
@click.option(
    "--augment-p",
    type=click.FloatRange(0, 1),
    default=1.0,
    help="Augment each of D's input images with this probability (1 = all, DiffAugment's "
    "way); with --ada-target, the starting value of ADA's adaptive p.",
)
@click.option(
    "--ada-target",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.0,
    help="ADA (Karras et al. 2020): adapt the augmentation probability so that E[sign "
    "D(real)] stays near this target (the paper's 0.6). 0 = off.",
)
@click.option(
    "--ada-kimg",
    type=click.FloatRange(0, min_open=True),
    default=100.0,
    help="ADA's speed: p may move from 0 to 1 in this many kimg (the paper's 500, for "
    "longer runs).",
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
    help="Random x-flips of the real images. Default: off for folders, the digits and any "
    "data not named here (text, digits, logos or maps must not be flipped: --mirror if your "
    "images may be); on for CIFAR-10, STL-10, CelebA and LSUN, as the authors trained them. "
    "The start-up lines say which applies and why.",
)
@click.option(
    "--tensorboard/--no-tensorboard",
    default=None,
    help="TensorBoard event files in RUN_DIR/tensorboard (stats, metrics, grids). Default: "
    "on when the tensorboard package is installed (pip install 'transgan[tensorboard]').",
)
@click.option(
    "--compile/--no-compile",
    default=False,
    help="torch.compile G and D; D's penalty steps (double backward) run eagerly.",
)
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
        recipe_options = dict(get_recipe(recipe_name).options)
        for key in apply_recipe(opts, given, recipe_name):
            if key in RUN_BOOKKEEPING:  # how long, how often, where: not what is learned
                continue
            flag = next((p.opts[0] for p in ctx.command.params if p.name == key), key)
            why = (
                " (the recipe's other settings were chosen for its model)" if key == "model" else ""
            )
            click.echo(
                f"note: {flag} {opts[key]} replaces recipe {recipe_name}'s "
                f"{recipe_options[key]}{why}",
                err=True,
            )
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
        if cfg.metrics:
            from transgan.evaluation.metrics import digits_metrics_note, parse_metrics

            note = digits_metrics_note(parse_metrics(",".join(cfg.metrics)), cfg.data)
            if note is not None:
                click.echo(f"warning: {note}", err=True)
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
    from transgan.training.control import StoppedDuringStartup
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
    except StoppedDuringStartup as stopped:  # a stop, as one during training: exit 0
        click.echo(str(stopped), err=True)
        return
    click.echo(f"done: {run_dir}")
