"""From `transgan train`'s options to a ``TrainConfig``: option parsing, recipes, and the
config of a run being resumed (what may change, what must stay)."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path
from typing import Any

import click

from transgan import presets
from transgan.training.augment import AugmentConfig
from transgan.training.config import TrainConfig
from transgan.training.losses import LossConfig
from transgan.training.recipes import get_recipe

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


def check_buildable(model_config: presets.ModelConfig) -> None:
    """Build G and D on the meta device (shapes only, no memory): a config that passes its
    field checks but cannot make a network fails here, before any run directory exists."""
    import torch

    try:
        with torch.device("meta"):
            presets.build_gan(model_config)
    except (RuntimeError, ValueError, TypeError, ZeroDivisionError) as err:
        raise ValueError(f"this model config does not build a network: {err}") from err


def apply_recipe(opts: dict[str, Any], given: set[str], name: str) -> list[str]:
    """Fill ``opts`` from recipe ``name`` wherever the user gave no value; returns the
    recipe settings the user's own options replaced (option names as in ``opts``)."""
    replaced = []
    for key, value in get_recipe(name).options.items():
        if key == "overrides":
            opts[key] = tuple(value) + tuple(opts[key])  # the user's --set comes last and wins
        elif key not in given:
            opts[key] = value
        elif opts[key] != value:
            replaced.append(key)
    return replaced


def metric_names(text: str) -> tuple[str, ...]:
    """``--metrics`` as names: empty for "" (none, e.g. to drop a recipe's metrics); text that
    is not blank but names no metric (",") is refused."""
    names = tuple(m.strip() for m in text.split(",") if m.strip())
    if text.strip() and not names:
        raise ValueError(
            f"--metrics {text!r} names no metric; give e.g. fid10k,is10k (dfid2k,dcov2k on the "
            "digits), or --metrics '' for none"
        )
    return names


def config_from_options(opts: dict[str, Any]) -> TrainConfig:
    augment = AugmentConfig.from_string(
        opts["augment"],
        translation_ratio=opts["translation"],
        cutout_ratio=opts["cutout"],
        cutout_prob=opts["cutout_prob"],
        prob=opts["augment_p"],
        ada_target=opts["ada_target"],
        ada_kimg=opts["ada_kimg"],
    )
    loss = LossConfig(
        kind=opts["loss"],
        gp_weight=opts["gp_weight"],
        r1_gamma=opts["r1_gamma"],
        bcr_weight=opts["bcr_weight"],
        lecam_weight=opts["lecam_weight"],
        r1_gamma_end=opts["r1_gamma_end"],
        r1_gamma_kimg=opts["r1_gamma_kimg"],
    )
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
        reuse_fakes=opts["reuse_fakes"],
        lr_g=opts["lr_g"],
        lr_d=opts["lr_d"],
        lr_rampdown=opts["lr_rampdown"],
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
        metrics=metric_names(opts["metrics"]),
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
    saved_model = whole.get("model")
    if isinstance(saved_model, dict):
        changed = _changed_networks(saved_model, networks_as_run(cfg, whole))
        if changed:
            raise ValueError(
                f"--run-dir {run_dir} holds a run whose {' and '.join(changed)} differ from "
                f"what preset {cfg.model} builds today (the preset has changed since the run "
                f"started); continue it with `transgan train --resume {run_dir}`, which keeps "
                "its networks, or use a new --run-dir"
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
    loss = saved.get("loss")
    if isinstance(loss, dict) and loss.get("r1_gamma_end") is not None:
        # a run from before γ's schedule had its own horizon decayed over the --kimg it had
        loss.setdefault("r1_gamma_kimg", saved.get("kimg"))
    renamed = {"tick": "tick_kimg", "snap": "snap_ticks"}
    for key, value in values.items():
        saved[renamed.get(key, key)] = value
    try:
        cfg = TrainConfig.from_dict(saved)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{config_file}: {err}") from err
    if isinstance(whole.get("model"), dict):
        cfg = keep_saved_architecture(cfg, whole, config_file)
    return cfg


def _changed_networks(saved_model: dict[str, Any], model: dict[str, Any]) -> list[str]:
    """The networks ("generator", "discriminator") where ``model`` (JSON config) differs from
    those a run saved, field by field of the saved ones (a field added to the code since the
    run started is not compared)."""
    return [
        part
        for part in ("generator", "discriminator")
        if isinstance(was := saved_model.get(part), dict)
        and any(model[part].get(key) != value for key, value in was.items())
    ]


def networks_as_run(cfg: TrainConfig, whole: dict[str, Any]) -> dict[str, Any]:
    """The JSON config of the networks ``cfg`` builds for the run ``whole`` (its config.json):
    under ``--cond`` the class count comes from the data, which config.json keeps in
    "classes" (the train settings keep what was asked for, no names)."""
    classes = whole.get("classes")
    if cfg.cond and not cfg.class_names and isinstance(classes, list) and classes:
        cfg = dataclasses.replace(cfg, class_names=tuple(str(c) for c in classes))
    model = json.loads(json.dumps(cfg.model_config().to_dict(), default=list))
    saved = whole.get("model")
    if cfg.cond and not cfg.class_names and not classes and isinstance(saved, dict):
        for part in ("generator", "discriminator"):  # no names recorded: take the count as saved
            if isinstance(saved.get(part), dict) and "num_classes" in saved[part]:
                model[part]["num_classes"] = saved[part]["num_classes"]
    return model


def keep_saved_architecture(
    cfg: TrainConfig, whole: dict[str, Any], config_file: Path
) -> TrainConfig:
    """``cfg`` resolving to the networks the run was started with.

    A run records its preset by name; when the preset has changed since (a later release
    retuned it), today's preset would build other networks than the run's training state
    holds. The fields that differ become model overrides, so the run continues as it began;
    what was pinned is printed.
    """
    saved_model = whole["model"]
    current = networks_as_run(cfg, whole)
    pinned: dict[str, Any] = {}
    for part in _changed_networks(saved_model, current):
        prefix, was, now = part[0], saved_model[part], current[part]
        arch_changed = was.get("arch", "transformer") != now["arch"]
        if arch_changed:
            pinned[f"{prefix}_arch"] = was.get("arch", "transformer")
        for key, value in was.items():
            if key != "arch" and (arch_changed or key not in now or now[key] != value):
                pinned[f"{prefix}_{key}"] = tuple(value) if isinstance(value, list) else value
    if not pinned:
        return cfg
    overrides = {**cfg.model_overrides, **pinned}
    try:
        kept = dataclasses.replace(cfg, model_overrides=overrides)
        resolved = networks_as_run(kept, whole)
    except (TypeError, ValueError) as err:
        resolved, reason = None, str(err)
    else:
        reason = "the saved networks cannot be expressed as overrides of today's preset"
    if resolved is None or _changed_networks(saved_model, resolved):
        raise ValueError(
            f"{config_file}: the run was started with preset {cfg.model!r} as it was then, and "
            f"that preset has changed since ({reason}). Its training state cannot be continued "
            "by this version; start a new run, or continue it with the transgan release that "
            "started it"
        )
    names = ", ".join(f"{k}={v!r}" for k, v in pinned.items())
    click.echo(
        f"note: preset {cfg.model} has changed since this run started; the run keeps the "
        f"networks it was started with ({names}, from {config_file})",
        err=True,
    )
    return kept
