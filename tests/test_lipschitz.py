"""ViTGAN's discriminator pieces: L2 attention with tied q/k, improved spectral norm,
overlapping patches — what each computes."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from transgan.models.lipschitz import (
    ImprovedSpectralNorm,
    apply_improved_spectral_norm,
    l2_attention,
)


def _reference(q: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None):
    """The paper's equation, written out: softmax over j of −‖q_i − q_j‖²/√d."""
    d = q.shape[-1]
    diff = q[..., :, None, :] - q[..., None, :, :]  # (B, h, N, N, d)
    logits = -(diff**2).sum(-1) / d**0.5
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    return logits.softmax(-1) @ v


@pytest.mark.parametrize("impl", ["sdpa", "math"])
def test_l2_attention_is_the_negative_squared_distance_softmax(impl: str) -> None:
    torch.manual_seed(0)
    q, v = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 5, 4)
    torch.testing.assert_close(l2_attention(q, v, None, impl), _reference(q, v))
    mask = torch.rand(5, 5) > 0.3
    mask.fill_diagonal_(True)
    torch.testing.assert_close(l2_attention(q, v, mask, impl), _reference(q, v, mask))


def test_l2_attention_prefers_near_keys_unlike_a_positive_distance() -> None:
    q = torch.tensor([[[[0.0], [0.1], [5.0]]]])  # token 1 is near 0, token 2 far away
    v = torch.tensor([[[[1.0], [2.0], [3.0]]]])
    out = l2_attention(q, v, None, "math")
    assert out[0, 0, 0, 0] < 2.0  # token 0 attends to itself and token 1, not to token 2


def test_improved_spectral_norm_keeps_the_initial_spectral_norm() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(8, 6)
    sigma0 = torch.linalg.matrix_norm(layer.weight.detach(), ord=2)
    apply_improved_spectral_norm(layer)
    for _ in range(40):  # power iteration converges over forwards
        layer.weight  # noqa: B018
    torch.testing.assert_close(
        torch.linalg.matrix_norm(layer.weight.detach(), ord=2), sigma0, rtol=1e-3, atol=1e-4
    )
    with torch.no_grad():  # scaling the raw weight leaves the effective one unchanged
        before = layer.weight.detach().clone()
        layer.parametrizations.weight.original.mul_(3.0)
    torch.testing.assert_close(layer.weight.detach(), before, rtol=1e-3, atol=1e-5)


def test_improved_spectral_norm_is_differentiable_and_counts_layers() -> None:
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
    assert apply_improved_spectral_norm(net) == 2
    assert apply_improved_spectral_norm(net) == 0  # never twice
    net(torch.randn(3, 4)).sum().backward()
    assert net[0].parametrizations.weight.original.grad is not None
    assert isinstance(net[0].parametrizations.weight[0], ImprovedSpectralNorm)


VITGAN_D = {"d_attn_kind": "l2", "d_spectral_norm": True, "d_patch_overlap": True}


def test_vitgan_discriminator_options_build_what_they_say() -> None:
    from transgan import presets
    from transgan.models.layers import Attention

    gan = presets.create_model("transgan2_digits", d_patch_size=4, **VITGAN_D)
    d = gan.discriminator
    assert isinstance(d.patch_embed, nn.Conv2d) and d.patch_embed.kernel_size == (8, 8)
    assert d.pos_embed.shape[1] == 1 + 16  # 4-px patches at 16 px: 16 tokens and the cls
    attentions = [m for m in d.modules() if isinstance(m, Attention)]
    assert attentions and all(a.kind == "l2" for a in attentions)
    assert all(a.qkv.out_features == 2 * d.config.dim for a in attentions)  # tied W_q = W_k
    linears = [m for m in d.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    assert all(hasattr(m, "parametrizations") for m in linears)
    assert d(torch.rand(3, 3, 16, 16) * 2 - 1).shape == (3,)
    plain = presets.create_model("transgan2_digits").discriminator
    assert not any(hasattr(m, "parametrizations") for m in plain.modules())


def test_multiscale_discriminator_takes_the_vitgan_options() -> None:
    from transgan import presets
    from transgan.models.layers import Attention

    d = presets.create_model(
        "transgan2_tiny", d_attn_kind="l2", d_spectral_norm=True, d_noise=False
    ).discriminator
    attentions = [m for m in d.modules() if isinstance(m, Attention)]
    assert attentions and all(a.kind == "l2" for a in attentions)
    linears = [m for m in d.modules() if isinstance(m, nn.Linear)]
    assert all(hasattr(m, "parametrizations") for m in linears)
    assert d(torch.rand(2, 3, 16, 16) * 2 - 1).shape == (2,)


def test_vitgan_discriminator_trains_with_r1_and_resumes_exactly(tmp_path) -> None:
    from conftest import tiny_train_config

    from transgan.training.loop import train
    from transgan.training.losses import LossConfig
    from transgan.training.state import list_states, load_state

    def cfg(kimg: float):
        base = tiny_train_config(kimg=kimg, loss=LossConfig("logistic", r1_gamma=0.1))
        overrides = {**base.model_overrides, **VITGAN_D, "d_patch_size": 4}
        return dataclasses.replace(base, model_overrides=overrides)

    straight = train(cfg(0.064), out=tmp_path / "a")
    first = train(cfg(0.032), out=tmp_path / "b")
    resumed = train(cfg(0.064), out=tmp_path / "b", resume=first)
    a, b = (load_state(list_states(r)[-1]) for r in (straight, resumed))
    for name, tensor in a["discriminator"].items():  # weights and power-iteration vectors
        assert torch.equal(tensor, b["discriminator"][name]), name
    assert any(name.endswith(".u") for name in a["discriminator"])


def test_bad_discriminator_options_are_refused() -> None:
    from transgan import presets

    with pytest.raises(ValueError, match="attn_kind"):
        presets.get_config("transgan2_digits", d_attn_kind="cosine")
    with pytest.raises(ValueError, match="even patch_size"):
        presets.get_config("transgan_s", d_patch_size=3, d_img_size=33, d_patch_overlap=True)


def test_the_vit_discriminator_anchors_its_spectral_norms_at_equalised_weights() -> None:
    """ViTGAN's D (improved spectral norm on equalised layers, as the official code): each
    layer keeps the norm of W₀/√fan_in with W₀ ~ N(0, 1), ≈ 1 + √(out/in) — not the 0.16–0.9
    of trunc-normal(0.02) weights, which froze D's output scale."""
    from torch.nn.utils import parametrize

    from transgan import presets

    torch.manual_seed(0)
    d = presets.build_gan(presets.get_config("vitgan_digits")).discriminator
    layers = [m for m in d.modules() if parametrize.is_parametrized(m)]
    assert len(layers) == 10
    for layer in layers:
        raw = layer.parametrizations.weight.original.detach().flatten(1)
        out_f, fan_in = raw.shape
        assert raw.std().item() == pytest.approx(1.0, abs=0.15)  # drawn N(0, 1)
        norm = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2).item()
        expected = torch.linalg.matrix_norm(raw, ord=2).item() / fan_in**0.5
        assert norm == pytest.approx(expected, rel=1e-2)  # 30 power iterations
        assert 0.5 * (1 + (out_f / fan_in) ** 0.5) < norm < 1.5 * (1 + (out_f / fan_in) ** 0.5)
