"""GAT's transformer-discriminator pieces (issue 30): RMSNorm, QK-norm, LayerScale and the
2-D rotary position embedding — each checked against what it is meant to compute."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import transgan
from transgan.models.layers import Attention, Block, make_norm
from transgan.models.token_maps import Rotary2D, rotate_halves, window_partition

MODERN = {"d_norm": "rms", "d_qk_norm": True, "d_layer_scale": 0.1, "d_pos": "rope"}


def test_rms_norm_is_x_over_its_root_mean_square_times_a_gain() -> None:
    norm = make_norm("rms", 8)
    with torch.no_grad():
        norm.weight.copy_(torch.arange(1.0, 9.0))
    x = torch.randn(3, 5, 8) * 4 + 2  # a mean far from 0: RMSNorm does not subtract it
    expected = x / (x.square().mean(-1, keepdim=True) + 1e-6).sqrt() * torch.arange(1.0, 9.0)
    torch.testing.assert_close(norm(x), expected)


@pytest.mark.parametrize("kind", ["dot", "l2"])
def test_qk_norm_makes_attention_blind_to_the_scale_of_queries_and_keys(kind: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 9, 16)
    outputs = {}
    for qk_norm in (False, True):
        attn = Attention(16, num_heads=2, kind=kind, qk_norm=qk_norm)
        base = attn(x)
        with torch.no_grad():  # scale the query (and key) projection rows by 7
            attn.qkv.weight[: (16 if kind == "l2" else 32)] *= 7.0
        outputs[qk_norm] = (base, attn(x))
    plain, normed = outputs[False], outputs[True]
    assert not torch.allclose(*plain, atol=1e-3)  # without QK-norm the logits sharpen
    torch.testing.assert_close(*normed, atol=1e-4, rtol=1e-4)


def test_layer_scale_multiplies_each_residual_branch_by_its_gains() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 5, 16)
    scaled = Block(16, num_heads=2, layer_scale=0.1)
    plain = Block(16, num_heads=2)
    plain.load_state_dict(
        {k: v for k, v in scaled.state_dict().items() if not k.startswith("gamma")}
    )
    assert torch.equal(scaled.gamma_attn, torch.full((16,), 0.1))
    with torch.no_grad():
        scaled.gamma_attn.fill_(1.0)
        scaled.gamma_mlp.fill_(1.0)
    torch.testing.assert_close(scaled(x), plain(x))  # gains of 1: the plain block
    with torch.no_grad():
        scaled.gamma_attn.zero_()
        scaled.gamma_mlp.zero_()
    assert torch.equal(scaled(x), x)  # gains of 0: the identity


def _grid_tokens(grid: int, d: int, start: int = 0, extra: int = 0) -> torch.Tensor:
    """The same vector at every token of a (1, 1, start + grid² + extra, d) map."""
    torch.manual_seed(1)
    return torch.randn(d).expand(1, 1, start + grid * grid + extra, d).clone()


def test_rotary_scores_depend_on_the_offset_between_tokens_only() -> None:
    grid, d = 4, 16
    rope = Rotary2D(grid, d)
    q = rope(_grid_tokens(grid, d))[0, 0]  # (16, d): one vector, turned to each position
    scores = q @ q.T
    pos = [(i // grid, i % grid) for i in range(grid * grid)]
    by_offset: dict[tuple[int, int], float] = {}
    for i, (yi, xi) in enumerate(pos):
        for j, (yj, xj) in enumerate(pos):
            offset = (yj - yi, xj - xi)
            if offset in by_offset:
                assert scores[i, j].item() == pytest.approx(by_offset[offset], abs=1e-4)
            by_offset[offset] = scores[i, j].item()
    assert len(set(round(v, 3) for v in by_offset.values())) > 10  # positions do matter
    # a turn keeps lengths, and position (0, 0) is not turned at all
    torch.testing.assert_close(q.norm(dim=-1), _grid_tokens(grid, d)[0, 0].norm(dim=-1))
    assert torch.equal(q[0], _grid_tokens(grid, d)[0, 0, 0])


def test_rotary_turns_rows_with_one_half_and_columns_with_the_other() -> None:
    grid, d = 4, 8
    rope = Rotary2D(grid, d)
    v = _grid_tokens(grid, d)
    out = rope(v)[0, 0]
    row, col = slice(0, d // 2), slice(d // 2, d)
    # along a row (same y) the row half is unchanged; along a column the column half is
    assert torch.allclose(out[1, row], out[0, row]) and not torch.allclose(out[1, col], out[0, col])
    assert torch.allclose(out[grid, col], out[0, col]) and not torch.allclose(
        out[grid, row], out[0, row]
    )
    # the 90° turn: (a, b, c, e) -> (−b, a, −e, c)
    x = torch.arange(8.0)
    assert rotate_halves(x).tolist() == [-2, -3, 0, 1, -6, -7, 4, 5]


def test_rotary_leaves_tokens_outside_the_map_and_follows_windows() -> None:
    grid, d = 4, 8
    v = _grid_tokens(grid, d, start=1, extra=1) + torch.randn(1, 1, 18, d)
    out = Rotary2D(grid, d, start=1)(v)
    assert torch.equal(out[:, :, 0], v[:, :, 0]) and torch.equal(out[:, :, -1], v[:, :, -1])
    assert torch.equal(out[:, :, 1:-1], Rotary2D(grid, d)(v[:, :, 1:-1]))
    # windowed: the table is laid out as window_partition lays out the tokens
    tokens = torch.randn(2, grid * grid, d)  # (B, N, d), one head
    full = Rotary2D(grid, d)(tokens[:, None])[:, 0]
    windows = window_partition(tokens, grid, 2)[:, None]  # (B·4, 1, 4, d)
    turned = Rotary2D(grid, d, window=2)(windows)[:, 0]
    torch.testing.assert_close(turned, window_partition(full, grid, 2))


@pytest.mark.parametrize("preset", ["transgan2_digits", "transgan2_tiny"])
def test_modern_discriminators_build_train_and_count_flops(preset: str) -> None:
    extra = {"d_scale_dims": (16, 16), "d_num_heads": 2} if preset == "transgan2_tiny" else {}
    gan = transgan.create_model(preset, **MODERN, **extra, d_attn_impl="math")
    d, size = gan.discriminator, gan.config.img_size
    names = {n for n, _ in d.named_parameters()}
    assert not any("pos_embed" in n for n in names)  # rope: no learned positions
    assert any("gamma_attn" in n for n in names) and any("q_norm" in n for n in names)
    x = torch.randn(4, 3, size, size)
    d(x).sum().backward()
    assert all(p.grad is not None for p in d.parameters())
    with FlopCounterMode(display=False) as counter:  # the options are element-wise
        d(x[:1])
    assert counter.get_total_flops() == d.estimate_flops()


@pytest.mark.parametrize(
    "override, message",
    [
        ({"d_norm": "pn"}, "norm must be one of"),
        ({"d_layer_scale": -0.1}, "layer_scale must be"),
        ({"d_pos": "sincos"}, "pos must be one of"),
        ({"d_pos": "rope", "d_dim": 24, "d_num_heads": 4}, "divisible by 4"),
    ],
)
def test_bad_modern_options_are_refused(override: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        transgan.create_model("transgan2_digits", **override)


@pytest.mark.parametrize("shape", [(4, 24, 8, 8), (2, 3, 5, 7), (1, 1, 1, 1)])
def test_matmul_bicubic_is_the_library_bicubic(shape: tuple[int, ...]) -> None:
    import torch.nn.functional as F

    from transgan.models.token_maps import bicubic_up2

    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    ours, lib = bicubic_up2(x), F.interpolate(x, scale_factor=2, mode="bicubic")
    torch.testing.assert_close(ours, lib, rtol=0, atol=1e-12)
    g = torch.randn_like(lib)
    (ga,) = torch.autograd.grad(ours, x, g)
    (gb,) = torch.autograd.grad(lib, x, g)
    torch.testing.assert_close(ga, gb, rtol=0, atol=1e-12)


def test_minibatch_std_is_the_groups_biased_standard_deviation() -> None:
    from transgan.models.minibatch_std import minibatch_std

    tokens = torch.randn(8, 5, 6)
    expected = tokens.reshape(2, 4, 5, 6).std(dim=1, unbiased=False).mean(dim=(1, 2))
    torch.testing.assert_close(minibatch_std(tokens, 4), expected.repeat_interleave(4))
