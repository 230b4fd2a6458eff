"""Named recipes for the paper's ablations on CIFAR-10 (TransGAN-S, paper Tables 1-3).

A recipe is a set of `transgan train` option values; options given on the command line win.
Paper numbers are IS / FID on CIFAR-10 as the paper reports them (see docs/ablations.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The authors' v1 window radii and when they end (epochs 22/32/42/60 of CIFAR-10's 50k
# images, as kimg). Here they are radii of the paper's 2-D window.
LOCAL_INIT = {
    "local_kind": "2d",
    "local_windows": "4,6,8,10",
    "local_until_kimg": "1100,1600,2100,3000",
    "local_blocks": "last",
}


@dataclass(frozen=True)
class Recipe:
    name: str
    table: str  # where the paper reports it
    summary: str  # what the recipe changes
    paper: str  # the paper's result, as reported
    options: dict[str, Any] = field(default_factory=dict)  # `transgan train` option values


_BASE = {"model": "transgan_s", "data": "cifar10"}
_NO_DA = {**_BASE, "augment": "none"}
_DA = {**_BASE, "augment": "translation,cutout,color"}

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in [
        Recipe(
            "table1-tg-td",
            "Table 1",
            "Transformer G + Transformer D, no augmentation",
            "IS 6.95 / FID 41.41",
            {**_NO_DA},
        ),
        Recipe(
            "table1-tg-cd",
            "Table 1",
            "Transformer G + conv (SNGAN/AutoGAN-family) D",
            "IS 8.59 / FID 13.23 (approximate)",
            {**_NO_DA, "overrides": ("d_arch=conv",)},
        ),
        Recipe(
            "table1-cg-td",
            "Table 1",
            "conv G + Transformer D",
            "see paper Table 1",
            {**_NO_DA, "overrides": ("g_arch=conv",)},
        ),
        Recipe(
            "table1-cg-cd",
            "Table 1",
            "conv G + conv D (AutoGAN-family baseline)",
            "see paper Table 1",
            {**_NO_DA, "overrides": ("g_arch=conv", "d_arch=conv")},
        ),
        Recipe(
            "table2-no-da",
            "Table 2",
            "TransGAN without DiffAugment",
            "IS 6.95 / FID 41.41",
            {**_NO_DA},
        ),
        Recipe(
            "table2-da",
            "Table 2",
            "TransGAN with DiffAugment (translation,cutout,color)",
            "IS 8.15 / FID 19.85",
            {**_DA},
        ),
        Recipe("table3-da", "Table 3", "step 1: + DiffAugment", "IS 8.15 / FID 19.85", {**_DA}),
        Recipe(
            "table3-da-mtct",
            "Table 3",
            "step 2: + MT-CT super-resolution task (λ = 50)",
            "FID 19.12",
            {**_DA, "mtct_weight": 50.0},
        ),
        Recipe(
            "table3-da-mtct-local",
            "Table 3",
            "step 3: + locality-aware initialisation",
            "IS 8.22 / FID 18.58",
            {**_DA, "mtct_weight": 50.0, **LOCAL_INIT},
        ),
        Recipe(
            "digits-demo",
            "-",
            "`make demo`: transgan_digits on the built-in digits, "
            "hinge loss, n_critic 1, lr 2e-4, ~8 min on 2 CPU cores",
            "-",
            {
                "model": "transgan_digits",
                "data": "digits",
                "kimg": 60.0,
                "tick": 5.0,
                "snap": 4,
                "batch": 64,
                "g_batch": 64,
                "n_critic": 1,
                "loss": "hinge",
                "lr_g": 2e-4,
                "lr_d": 2e-4,
            },
        ),
    ]
}


def list_recipes() -> list[str]:
    return list(RECIPES)


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    return RECIPES[name]
