"""ViTGAN's discriminator pieces: L2 attention with tied q/k, improved spectral norm,
overlapping patches — what each computes."""

from __future__ import annotations

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
