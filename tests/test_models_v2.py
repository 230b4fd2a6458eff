"""TransGAN v2 (SPEC-v2): exact sizes, windows, relative bias, noise, multi-scale D, FLOPs."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import transgan
from transgan.models import MultiScaleDiscriminatorConfig
from transgan.models.layers import (
    Attention,
    Block,
    NoiseInjection,
    relative_position_index,
    set_noise,
)
from transgan.models.token_maps import upsample_tokens, window_merge, window_partition
from transgan.sampling import generate_images, latents

# SPEC-v2 §7: the authors' classes with their scripts' flags.
EXPECTED_PARAMS = {
    "transgan2_cifar10": (83_312_495, 10_210_400),
    "transgan2_stl10": (168_466_623, 10_341_536),
    "transgan2_church256": (205_291_952, 17_754_569),
    "transgan2_celebahq256": (212_903_275, 13_334_593),
}


@pytest.mark.parametrize("name", list(EXPECTED_PARAMS))
def test_v2_parameter_counts_match_the_authors(name: str) -> None:
    with torch.device("meta"):
        gan = transgan.create_model(name)
    assert (gan.generator.count_params(), gan.discriminator.count_params()) == EXPECTED_PARAMS[name]


def test_cifar_v2_generator_breakdown_matches_the_authors() -> None:
    with torch.device("meta"):
        g = transgan.create_model("transgan2_cifar10").generator
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(g.to_tokens) == 16_842_752
    assert count(g.stages[0]) == 62_970_260
    assert count(g.stages[1]) + count(g.stages[2]) == 3_302_680
    assert count(g.to_rgb) == 195


def test_relative_position_index_is_not_saved() -> None:
    gan = transgan.create_model("transgan2_tiny")
    keys = set(gan.generator.state_dict()) | set(gan.discriminator.state_dict())
    assert not [k for k in keys if k.endswith("index")]
    assert any(k.endswith("rel_bias.table") for k in keys)


def test_window_partition_and_merge_are_inverse_and_row_major() -> None:
    x = torch.arange(2 * 8 * 8 * 3, dtype=torch.float32).view(2, 64, 3)
    windows = window_partition(x, 8, 4)
    assert windows.shape == (8, 16, 3)
    assert torch.equal(window_merge(windows, 8, 4), x)
    # window 1 of image 0 is the top-right 4×4 square: its first token is (row 0, col 4)
    assert torch.equal(windows[1, 0], x[0, 4])
    assert torch.equal(windows[1, 4], x[0, 8 + 4])  # (row 1, col 4)


def test_relative_position_index_by_hand() -> None:
    idx = relative_position_index(2)  # tokens (0,0) (0,1) (1,0) (1,1); (2w−1) = 3
    assert idx[0, 0] == 1 * 3 + 1  # same place: centre of the 3×3 table
    assert idx[0, 3] == (0 - 1 + 1) * 3 + (0 - 1 + 1)  # (0,0) vs (1,1)
    assert idx[3, 0] == (1 + 1) * 3 + (1 + 1)


def test_token_outside_a_window_cannot_change_an_output_inside_it() -> None:
    block = Block(8, num_heads=2, grid=8, window=4, rel_bias=True).eval()
    x = torch.randn(1, 64, 8)
    base = block(x)
    inside_window_0 = [0, 1, 8, 9, 27]  # rows 0-3, cols 0-3
    outside = 4  # row 0, col 4: window 1
    x2 = x.clone()
    x2[0, outside] += 10 * torch.randn(8)
    out = block(x2)
    assert torch.allclose(out[0, inside_window_0], base[0, inside_window_0], atol=1e-6)
    x3 = x.clone()
    x3[0, 9] += 10 * torch.randn(8)  # a token in window 0 changes window 0's outputs
    assert not torch.allclose(block(x3)[0, 0], base[0, 0], atol=1e-4)


def test_relative_bias_enters_the_logits_on_both_paths() -> None:
    torch.manual_seed(0)
    fused = Attention(8, num_heads=2, impl="sdpa", rel_window=4)
    math = Attention(8, num_heads=2, impl="math", rel_window=4)
    math.load_state_dict(fused.state_dict())
    with torch.no_grad():
        fused.rel_bias.table.normal_(0, 2)
        math.rel_bias.table.copy_(fused.rel_bias.table)
    x = torch.randn(3, 16, 8)
    mask = torch.rand(16, 16) > 0.3
    mask |= torch.eye(16, dtype=torch.bool)
    torch.testing.assert_close(fused(x, mask), math(x, mask), atol=1e-5, rtol=1e-4)
    plain = Attention(8, num_heads=2, impl="math")
    plain.load_state_dict({k: v for k, v in fused.state_dict().items() if "rel_bias" not in k})
    assert not torch.allclose(plain(x), fused(x), atol=1e-3)


def test_upsample_ops_shapes_and_pixel_shuffle_channel_order() -> None:
    x = torch.randn(2, 16, 8)  # 4×4 tokens, 8 channels
    assert upsample_tokens(x, 4, "bicubic").shape == (2, 64, 8)
    assert upsample_tokens(x, 4, "updown").shape == (2, 64, 2)
    shuffled = upsample_tokens(x, 4, "pixel")
    # output channel c at offset (i, j) of input token (0,0) is input channel 4c + 2i + j
    assert shuffled[0, 1, 0] == x[0, 0, 1]  # token (0,1): channel 0 <- input channel 1
    assert shuffled[0, 8, 1] == x[0, 0, 6]  # token (1,0): channel 1 <- 4 + 2


def test_expand_upsampling_is_a_learned_linear_to_four_children_that_keeps_the_scale() -> None:
    from transgan.models.generator import Generator, GeneratorConfig

    config = GeneratorConfig(
        latent_dim=8, bottom_width=4, dim=64, depths=(1, 1, 1), upsample=("expand", "bicubic")
    )
    assert config.stage_dims == (64, 32, 32)
    torch.manual_seed(0)
    g = Generator(config)
    x = torch.randn(3, 16, 64)  # 4×4 tokens, 64 channels
    up = g.upsample_into(1, x)
    assert up.shape == (3, 64, 32)
    children = g.expands[0](x)  # (3, 16, 128): child (i, j)'s channel c is 4c + 2i + j
    assert torch.equal(up[:, 1, 5], children[:, 0, 4 * 5 + 1])  # token (0,1) of parent (0,0)
    assert torch.equal(up[:, 8 + 1, 2], children[:, 0, 4 * 2 + 3])  # token (1,1): offset (1,1)
    # the children keep the parents' scale; at the blocks' 0.02 init they came out 1/5 of
    # it, and two expansions left G's content far below its position embedding
    assert 0.8 < up.std().item() / x.std().item() < 1.25
    # only the expanding stage has parameters: snapshots of the other plans keep their keys
    assert [k for k in g.state_dict() if k.startswith("expands.")] == [
        "expands.0.weight",
        "expands.0.bias",
    ]
    assert not any(
        k.startswith("expands.")
        for k in transgan.create_model("transgan2_tiny").generator.state_dict()
    )
    with pytest.raises(ValueError, match="'expand', which divides them by 2"):
        GeneratorConfig(dim=66, depths=(1, 1, 1), num_heads=1, upsample=("expand", "expand"))


def test_a_blockless_bicubic_last_stage_colours_first_and_draws_the_same() -> None:
    """transgan2_mnist's last stage (bicubic to 32², no block) runs its Linear to RGB before
    the up-sampling; the images must be those of the stage as written: up-sample the C-channel
    map, add the position embedding, then to RGB and tanh."""
    torch.manual_seed(0)
    g = transgan.create_model("transgan2_mnist").generator
    assert g._colour_before_last_upsample
    torch.nn.init.normal_(g.pos_embeds[-1], std=0.5)  # trained, not the 0.02 init
    torch.nn.init.normal_(g.to_rgb.bias, std=0.5)
    z = torch.randn(4, g.config.latent_dim)
    fast = g(z)
    x = g.to_tokens(z).view(4, -1, g.config.dim)
    for s in range(len(g.stages) - 1):
        if s:
            x = g.upsample_into(s, x)
        x = x + g.pos_embeds[s]
        for block in g.stages[s]:
            x = block(x)
    x = upsample_tokens(x, g.config.stage_widths[-2], "bicubic") + g.pos_embeds[-1]
    slow = torch.tanh(g.to_rgb(x)).transpose(1, 2).reshape(4, 3, 32, 32)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)


def test_noise_is_drawn_in_eval_follows_the_seed_and_can_be_turned_off() -> None:
    gan = transgan.create_model("transgan2_tiny")
    g = gan.generator.eval()
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, NoiseInjection):
                m.gain.fill_(1.0)
    z = latents(4, 32, seed=0)
    a = generate_images(g, z, noise_seed=1)
    assert torch.equal(a, generate_images(g, z, noise_seed=1))  # same seed, same images
    assert not torch.equal(a, generate_images(g, z, noise_seed=2))
    set_noise(g, False)
    assert torch.equal(generate_images(g, z, noise_seed=1), generate_images(g, z, noise_seed=2))


def test_windowed_flops_match_torch_flop_counter() -> None:
    gan = transgan.create_model(
        "transgan2_tiny", g_attn_impl="math", d_attn_impl="math", g_noise=False, d_noise=False
    )
    with FlopCounterMode(display=False) as counter:
        gan.generator(torch.randn(1, 32))
    # bicubic up-sampling is element-wise and counted by neither
    assert counter.get_total_flops() == gan.generator.estimate_flops()
    with FlopCounterMode(display=False) as counter:
        gan.discriminator(torch.randn(1, 3, 16, 16))
    assert counter.get_total_flops() == gan.discriminator.estimate_flops()


@pytest.mark.parametrize(
    "plan",
    [
        # learned expansions into a windowed last stage
        {
            "bottom_width": 2,
            "dim": 32,
            "depths": (1, 1, 1),
            "upsample": ("expand", "expand"),
            "windows": (0, 0, 4),
        },
        # cross-attention to the latent memory, bicubic up-sampling
        {
            "bottom_width": 4,
            "dim": 16,
            "depths": (0, 1),
            "upsample": ("bicubic",),
            "cross_attention": True,
        },
    ],
    ids=["expand", "cross-attention"],
)
def test_generator_plan_flops_match_torch_flop_counter(plan: dict) -> None:
    from transgan.models.generator import Generator, GeneratorConfig

    g = Generator(GeneratorConfig(latent_dim=8, attn_impl="math", **plan))
    with FlopCounterMode(display=False) as counter:
        g(torch.randn(1, 8))
    assert counter.get_total_flops() == g.estimate_flops()


def test_multiscale_d_needs_consistent_scales() -> None:
    with pytest.raises(ValueError, match="coarsest patch 8"):
        MultiScaleDiscriminatorConfig(
            img_size=20, patch_size=2, scale_dims=(8, 8, 8), depths=(1, 1, 1)
        )
    with pytest.raises(ValueError, match="window 3"):
        MultiScaleDiscriminatorConfig(img_size=16, scale_dims=(8, 8), depths=(1, 1), windows=(3, 0))


def test_overlapping_patchifier_equals_a_strided_conv() -> None:
    from torch.nn import functional as F

    from transgan.models.discriminator import Patchify

    patchify = Patchify(2, 5, overlap=True)
    x = torch.randn(2, 3, 8, 8)
    weight = patchify.proj.weight.view(5, 3, 4, 4)
    conv = F.conv2d(x, weight, patchify.proj.bias, stride=2, padding=1)  # (2, 5, 4, 4)
    torch.testing.assert_close(patchify(x), conv.flatten(2).transpose(1, 2))


def test_v1_discriminators_overlapping_patch_embedding_is_its_conv_with_r1_gradients() -> None:
    """The overlapping patch embedding runs from p×p blocks on the Conv2d's own weight: the
    same tokens, input gradient and R1 (double-backward) weight gradient as the conv."""
    from transgan.models.token_maps import overlapping_patch_tokens

    conv = torch.nn.Conv2d(3, 6, kernel_size=8, stride=4, padding=2)
    x = torch.randn(3, 3, 16, 16, requires_grad=True)
    probe = torch.randn(3, 16, 6)

    def tokens_and_grads(embed):  # tokens, d<probe, tokens>/dx, d|that|²/dW
        tokens = embed(x)
        (grad_x,) = torch.autograd.grad((tokens * probe).sum(), x, create_graph=True)
        (grad_w,) = torch.autograd.grad(grad_x.square().sum(), conv.weight)
        return tokens, grad_x, grad_w

    ours = tokens_and_grads(
        lambda im: overlapping_patch_tokens(im, conv.weight.flatten(1), conv.bias, 4)
    )
    conv_path = tokens_and_grads(lambda im: conv(im).flatten(2).transpose(1, 2))
    assert ours[0].shape == (3, 16, 6)
    for a, b in zip(ours, conv_path, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


MULTISCALE = [
    n
    for n in transgan.list_models()
    if isinstance(transgan.get_config(n).discriminator, MultiScaleDiscriminatorConfig)
]


@pytest.mark.parametrize("name", MULTISCALE)
def test_gradient_penalty_double_backward_through_every_v2_discriminator(name: str) -> None:
    import dataclasses

    from conftest import tiny_overrides

    from transgan.models import MultiScaleDiscriminator
    from transgan.training.d_terms import discriminator_loss
    from transgan.training.losses import LossConfig

    config = transgan.get_config(name, **tiny_overrides(name)).discriminator
    if config.img_size > 64:  # same scales, windows and tails on a 64-px image: seconds
        config = dataclasses.replace(config, img_size=64)
    d = MultiScaleDiscriminator(config)
    size = config.img_size
    real, fake = torch.rand(2, 3, size, size) * 2 - 1, torch.rand(2, 3, size, size) * 2 - 1
    for kind in ("wgangp-eps", "logistic"):
        loss, stats = discriminator_loss(d, real, fake, LossConfig(kind), lambda x: x)
        loss.backward()
        assert stats["penalty"] > 0
        assert all(torch.isfinite(p.grad).all() for p in d.parameters() if p.grad is not None)
        d.zero_grad()
