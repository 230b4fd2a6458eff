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
# Digits runs: 64 real images per D step, 5 kimg per tick.
_DIGITS = {"data": "digits", "kimg": 60.0, "tick": 5.0, "snap": 4, "batch": 64, "g_batch": 64}
# What the digits sweeps found for the pure transformer pair (docs/quality.md): its D
# needs a regulariser (R1, lazily) and light augmentation; hinge without one collapses.
_DIGITS_TRANSFORMER = {
    "n_critic": 1,
    "loss": "logistic",
    "r1_gamma": 0.1,
    "penalty_every": 4,
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "augment": "translation",
    "translation": 0.125,
}
# Two of ViTGAN's discriminator pieces (models/lipschitz.py) on the v1 patch D at 16 px;
# the third, improved spectral norm (d_spectral_norm=True), made it worse: docs/quality.md
VITGAN_D = ("d_attn_kind=l2", "d_patch_overlap=True", "d_patch_size=4")
# What the second discriminator round found (docs/quality.md): the cls-token head keeps D
# near chance; a head on all 16 patch tokens learns (and overfits the 1,198 digits without a
# stronger R1); a minibatch-std token helps it further. G's step reuses the D step's fakes
# (one G forward per iteration), and a narrower G (width 96, 2 heads) trains more images in
# the same time, which won at equal time.
PURE_D = (*VITGAN_D, "d_head=flatten", "d_mbstd_group=4")
PURE_G = ("g_dim=96", "g_num_heads=2")
# the same D at 32 px (transgan2_mnist's 8-px patches read through 16-px windows: 16 tokens)
_PURE_D_32_BODY = ("d_attn_kind=l2", "d_patch_overlap=True", "d_head=flatten")
PURE_D_32 = (*_PURE_D_32_BODY, "d_mbstd_group=4")
# The third round (issue 30, docs/quality.md): with R1 γ 1 the augmentation only cost — ADA,
# left to choose, took p to 0 within 15 kimg in every seed, and no augmentation at all went
# from 1.45× to 0.91× the conv pair's digits-FID at equal time.
_DIGITS_PURE = {**_DIGITS_TRANSFORMER, "r1_gamma": 1.0, "reuse_fakes": True, "augment": "none"}
# The seventh round (docs/quality.md): D learning at twice G's rate, as at 32 px, and both at
# twice the old 2e-4 — 60.3 / 55.0 against 72.3 / 84.6 (seeds 0 / 1, 180 s) — but with R1 γ 1
# D ran away from G in one run of eleven (`make demo`'s own, seed 0 on 2 threads); γ 4, the
# 32-px recipe's, held it in all six seeds on 2 threads. Both at 4e-4 collapsed in one seed of
# two (sixth round), G 8e-4 with D 1.6e-3 in one of two (this round).
_DIGITS_PURE_RATES = {"lr_g": 4e-4, "lr_d": 8e-4, "r1_gamma": 4.0}
# ViTGAN's settings (docs/architecture.md names the source of each): where the paper
# states one, the paper's — bCR λ_real = λ_fake = 10, no gradient clipping (neither the paper
# nor the official code clips); where it is silent or its TPU value was retuned for PyTorch,
# the official PyTorch reproduction's README command and c10_style64.gin: non-saturating
# loss, n_critic 1, Adam lr 0.001 (0, 0.99), R1 every step with their λ 0.1 on [0, 1] images
# = γ 0.4 on our [-1, 1] images, DiffAugment (translation, cutout, color).
_VITGAN = {
    "n_critic": 1,
    "loss": "logistic",
    "lr_g": 1e-3,
    "lr_d": 1e-3,
    "beta1": 0.0,
    "beta2": 0.99,
    "r1_gamma": 0.4,
    "penalty_every": 1,
    "bcr_weight": 10.0,
    "grad_clip": 0.0,
    "augment": "translation,cutout,color",
}
# digits-pure's discriminator (transgan2_digits' D with PURE_D) on the ViTGAN generator, whose
# attention is dot-product here: at 20 kimg (one seed) the tied-q/k L2 attention gave digits-FID
# 944, dot 692, the official code's logits 704 (docs/quality.md). Its equalised-lr layers
# (weights N(0, 1), scaled at run time) move 1/50 as fast in relative terms as our plain
# Linear layers at one lr: G's lr is 3e-3 (1e-3: 1110, 1e-2: 2574).
PURE_D_ON_VITGAN = (*PURE_D, "d_spectral_norm=False", "d_num_heads=4", "g_attention=dot")
_DCGAN_OPTIM = {
    "n_critic": 1,
    "loss": "logistic",
    "r1_gamma": 0.0,
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "beta1": 0.5,
    "beta2": 0.999,
    "augment": "none",
}
# The conv references, as the textbook loop trains them (issue 37's yardstick,
# docs/quality.md): the DCGAN paper's BatchNorm + ReLU after G's projection and no gradient
# clipping. Without them digits-dcgan scored 1.42× a minimal textbook DCGAN loop at 16 px.
_DCGAN_REFERENCE = {**_DCGAN_OPTIM, "grad_clip": 0.0, "overrides": ("g_project_norm=True",)}
# The 32-px pairs (MNIST and the digits at 32 px; docs/quality.md, issue 37)
_PURE_32 = {
    **_DIGITS,
    "model": "transgan2_mnist",
    **_DIGITS_PURE,
    "r1_gamma": 4.0,  # γ 1 (16 px): D(real) +10 by 45 kimg; 4: 740 vs 828 (tanh)
    # docs/quality.md, the second round's sweep: with one lr, D fell to chance (logits
    # ±0.05) by 20 kimg in every variant while a D trained alone against the frozen G
    # separated within 300 steps; 4× G's lr keeps it ahead
    "lr_d": 8e-4,
    "batch": 32,  # twice the steps per image: 174 against 209 at 150 s
    "g_batch": 32,
    "overrides": PURE_D_32,
}
# The sixth round (docs/quality.md): at the G's learning rate of the second round's sweep
# (2e-4) the expanding G learned too slowly; 8e-4, D's lr, scored a median MNIST-FID 52.8
# against 84.9 at 300 s over 4 seeds (4e-4: 62.2; 1.6e-3 failed in one seed of two). The
# seventh round: D's lr doubled again, to 1.6e-3 (six seeds over two rounds; docs/quality.md)
# The ninth round: D's minibatch-std token over groups of 8 images instead of 4 — with
# transgan2_mnist's blockless 16² stage, MNIST-FID 33.6 / 27.4 against 32.8 / 33.1 and the
# digits' shares 6–13 % against 6–15 % (seeds 0 / 1, 300 s; docs/quality.md)
# The eleventh round: the token carries each feature's spread over the group instead of their
# mean — the rarest digit's share of the confident samples 6.5 / 7.2 % against 5.9 / 6.7 %,
# MNIST-FID 36.9 / 28.1 against 34.6 / 34.2 (seeds 0 / 1, 300 s, one invocation; the 5-seed
# table in docs/quality.md)
PER_FEATURE_STD = "d_mbstd_per_feature=True"
_MNIST_PURE = {
    **_PURE_32,
    "lr_g": 8e-4,
    "lr_d": 1.6e-3,
    "overrides": (*_PURE_D_32_BODY, "d_mbstd_group=8", PER_FEATURE_STD),
}
# transgan2_mnist's G before its learned expansions (docs/quality.md, fifth round): on the
# 1,198 digits blown up to 32² the expanding G collapsed in one seed of two (D(real) +5 from
# 10 kimg); digits32-pure keeps the G its table was measured with
PIXEL_G_32 = 'g_upsample=("pixel", "bicubic", "bicubic")'
# ... and its windowed block at 16², which transgan2_mnist no longer has (ninth round)
BLOCK_16_G_32 = ("g_depths=(2, 1, 1, 0)", "g_windows=(0, 0, 4, 0)")
_CONV_32 = {**_DIGITS, "model": "dcgan_mnist", **_DCGAN_REFERENCE}
# On MNIST the 16-px yardstick fix (BatchNorm + ReLU after G's projection, no clipping)
# scored worse at 32 px: median MNIST-FID 53.7 against 43.1 with clipping at 5 and no
# projection norm (300 s, 3 seeds; docs/quality.md, fourth round) — mnist-dcgan keeps the
# stronger of the two, so that the pure pair is measured against it.
_CONV_32_MNIST = {**_CONV_32, "grad_clip": 5.0, "overrides": ()}
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
            "the first `make demo` (now digits-pure): transgan2_digits on the built-in digits, "
            "non-saturating loss with lazy R1 (γ 0.1 every 4 D steps), translation 1/8, lr "
            "2e-4, ~8 min on 2 CPU cores",
            "-",
            {**_DIGITS, "model": "transgan2_digits", "kimg": 100.0, **_DIGITS_TRANSFORMER},
        ),
        Recipe(
            "digits-vitgan",
            "-",
            "the second `make demo` (now digits-pure): digits-demo with ViTGAN's L2 attention "
            "(tied q/k) and 4-px patches read through 8-px windows (16 tokens) in D; its "
            "improved spectral norm measured worse here (docs/quality.md)",
            "-",
            {
                **_DIGITS,
                "model": "transgan2_digits",
                "kimg": 100.0,
                **_DIGITS_TRANSFORMER,
                "overrides": VITGAN_D,
            },
        ),
        Recipe(
            "digits-pure",
            "-",
            "`make demo`: digits-vitgan's D with its logit read from all 16 patch tokens "
            "(a Linear on them; the cls token is not read) and a minibatch-std token, R1 γ 4 "
            "every 4 D steps, no augmentation, G's step on the D step's fakes, G width 96 "
            "with 2 heads, G's lr 4e-4 and D's 8e-4",
            "-",
            {
                **_DIGITS,
                "model": "transgan2_digits",
                "kimg": 100.0,
                **_DIGITS_PURE,
                **_DIGITS_PURE_RATES,
                "overrides": (*PURE_G, *PURE_D),
            },
        ),
        Recipe(
            "digits-demo-v1",
            "-",
            "the previous demo: transgan_digits, hinge, n_critic 1, lr 2e-4, the default "
            "augmentation (translation, cutout, color) — kept for comparison",
            "-",
            {
                **_DIGITS,
                "model": "transgan_digits",
                "n_critic": 1,
                "loss": "hinge",
                "lr_g": 2e-4,
                "lr_d": 2e-4,
            },
        ),
        Recipe(
            "digits-hybrid",
            "-",
            "transformer G (transgan_digits) + the DCGAN-sized conv D, DCGAN's optimiser: "
            "the paper's Table 1 direction on the digits",
            "-",
            {
                **_DIGITS,
                "model": "transgan_digits",
                "overrides": ("d_arch=dcgan",),
                **_DCGAN_OPTIM,
            },
        ),
        Recipe(
            "mnist-pure",
            "-",
            "the pure pair at 32 px on MNIST (padded): transgan2_mnist — attention at 4² "
            "and 8² tokens, up-sampled by learned expansions (widths 128 → 64 → 32) to 16² "
            "tokens with no block, bicubic-decoded to 32² pixels, tanh — and digits-pure's "
            "D (L2 attention, overlapping 8-px patches, flatten head, a per-feature "
            "minibatch-std token over groups of 8), R1 γ 4, G's lr 8e-4, D's 1.6e-3, batch 32",
            "-",
            {**_MNIST_PURE, "data": "mnist", "kimg": 200.0},
        ),
        Recipe(
            "mnist-dcgan",
            "-",
            "the conv reference at 32 px on MNIST: dcgan_mnist, digits-dcgan's settings "
            "without its projection norm and with gradient clipping at 5 (stronger here)",
            "-",
            {**_CONV_32_MNIST, "data": "mnist", "kimg": 200.0},
        ),
        # The twelfth round: the token per feature here too (groups of 4, as before):
        # digits-FID 60.0 / 63.8 / 72.8 against 63.2 / 67.9 / 70.6 (seeds 0 / 1 / 2, 180 s,
        # one invocation; 61.3 / 62.6 against 66.6 / 68.2 in the sweep; docs/quality.md)
        Recipe(
            "digits32-pure",
            "-",
            "the pure pair at 32 px on the built-in digits (8×8 scans blown up to 32²): "
            "mnist-pure's networks and settings, with G's tokens up-sampled by PixelShuffle "
            "(widths 128 → 32 → 32), a windowed block at 16², a per-feature minibatch-std "
            "token over groups of 4 and G's lr 2e-4 (D's 8e-4), as its table was measured",
            "-",
            {
                **_PURE_32,
                "data": "digits",
                "kimg": 100.0,
                "overrides": (*PURE_D_32, PER_FEATURE_STD, PIXEL_G_32, *BLOCK_16_G_32),
            },
        ),
        Recipe(
            "digits32-dcgan",
            "-",
            "the conv reference at 32 px on the built-in digits: dcgan_mnist with "
            "digits-dcgan's settings",
            "-",
            {**_CONV_32, "data": "digits"},
        ),
        Recipe(
            "digits-dcgan",
            "-",
            "the conv reference of the quality work: dcgan_digits (G 0.30 M) with BatchNorm + "
            "ReLU after G's projection, non-saturating loss, Adam 2e-4 (0.5, 0.999), batch 64, "
            "no augmentation, no gradient clipping",
            "-",
            {**_DIGITS, "model": "dcgan_digits", **_DCGAN_REFERENCE},
        ),
    ]
}


# ---------------------------------------------------------------------------------------
# TransGAN v2: the authors' training settings (SPEC-v2 §1.2, §6) in our terms
# ---------------------------------------------------------------------------------------
# EMA: the authors update once per G step with β = 0.5^(dis_bs / ema_nimg), ema_nimg =
# min(ema_kimg·1000, warmup · dis_bs · D iterations), i.e. per G step a decay that counts
# only one D micro-batch while D saw n_critic·acc of them. In our unit (real images shown to
# D) that is a half-life of n_critic·acc·ema_kimg and a ramp-up of n_critic·acc·warmup.
# A constant β = 0.995 per G step (256-px scripts) is a half-life of
# log(0.5)/log(0.995) ≈ 138.3 G steps = 138.3 · n_critic · batch real images.
_V2_COMMON = {"loss": "wgangp-eps", "lr_g": 1e-4, "lr_d": 1e-4, "beta1": 0.0, "beta2": 0.99}
_V2_256 = {
    **_V2_COMMON,
    "n_critic": 4,
    "batch": 64,  # the authors' 16 × 4 accumulated
    "g_batch": 128,  # 32 × 4 (CelebA-HQ) or 16 × 8 (church): the same large batch
    "accum_steps": 4,
    "ema_kimg": 35.4,  # β = 0.995 per G step of 4 × 64 real images
    "ema_rampup": 0.0,
}
V2_RECIPES = [
    Recipe(
        "v2-cifar10",
        "v2",
        "the authors' later CIFAR-10 run: transgan2_cifar10, n_critic 4, batch 64/128",
        "IS 9.02 / FID 9.26",
        {
            **_V2_COMMON,
            "model": "transgan2_cifar10",
            "data": "cifar10",
            "n_critic": 4,
            "batch": 64,
            "g_batch": 128,
            "augment": "translation,cutout,color",
            "ema_kimg": 2000.0,  # 4 × 500
            "ema_rampup": 0.4,  # 4 × 0.1
        },
    ),
    Recipe(
        "v2-stl10",
        "v2",
        "the authors' STL-10 48px run: transgan2_stl10, n_critic 5, batch 32/64",
        "IS 10.43 / FID 18.28",
        {
            **_V2_COMMON,
            "model": "transgan2_stl10",
            "data": "stl10",
            "n_critic": 5,
            "batch": 32,
            "g_batch": 64,
            "augment": "translation,stl_erase_ratio,color",
            "ema_kimg": 2500.0,  # 5 × 500
            "ema_rampup": 0.25,  # 5 × 0.05
        },
    ),
    Recipe(
        "v2-celebahq256",
        "v2",
        "the authors' CelebA-HQ 256 run (their `filter` augmentation is not implemented)",
        "-",
        {
            **_V2_256,
            "model": "transgan2_celebahq256",
            "augment": "translation,erase_ratio,color,hue",
        },
    ),
    Recipe(
        "v2-church256",
        "v2",
        "the authors' LSUN Church 256 run",
        "-",
        {**_V2_256, "model": "transgan2_church256", "augment": "translation,erase_ratio,color"},
    ),
    Recipe(
        "v2-digits-tiny",
        "v2",
        "transgan2_tiny on the digits: every v2 piece at toy size, for CPU checks",
        "-",
        {
            **_DIGITS,
            "model": "transgan2_tiny",
            "n_critic": 1,
            "loss": "hinge",
            "lr_g": 2e-4,
            "lr_d": 2e-4,
            "augment": "translation",
        },
    ),
]
RECIPES.update({r.name: r for r in V2_RECIPES})

VITGAN_RECIPES = [
    Recipe(
        "vitgan-cifar10",
        "ViTGAN",
        "vitgan_cifar10 with the paper's bCR λ 10 and no clipping, the official code's other "
        "CIFAR-10 settings (batch 64, lr 0.001, R1, DiffAugment; EMA half-life 1,000 kimg); "
        "their LR warm-up is not implemented",
        "IS 9.30 / FID 6.66 (paper, ViT D)",
        {
            **_VITGAN,
            "model": "vitgan_cifar10",
            "data": "cifar10",
            "batch": 64,
            "g_batch": 64,
            "ema_kimg": 1000.0,
        },
    ),
    Recipe(
        "vitgan-digits",
        "ViTGAN",
        "vitgan_digits (G and the paper's ViT D) on the digits with the ViTGAN settings",
        "-",
        {**_DIGITS, "model": "vitgan_digits", **_VITGAN},
    ),
    Recipe(
        "vitgan-digits-pure",
        "ViTGAN",
        "the ViTGAN generator of vitgan_digits (dot-product attention, lr 3e-3) with "
        "digits-pure's discriminator and training settings: the generators compared on one D",
        "-",
        {
            **_DIGITS,
            "model": "vitgan_digits",
            **_DIGITS_PURE,
            "lr_g": 3e-3,
            "overrides": PURE_D_ON_VITGAN,
        },
    ),
]
RECIPES.update({r.name: r for r in VITGAN_RECIPES})


def list_recipes() -> list[str]:
    return list(RECIPES)


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    return RECIPES[name]
