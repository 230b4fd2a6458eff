"""Loss signs and penalties on cases computed by hand."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from transgan.training.d_terms import discriminator_loss
from transgan.training.losses import LossConfig, generator_loss


class LinearCritic(nn.Module):
    """D(x) = w·x + b: its input gradient is w everywhere, so penalties are known."""

    def __init__(self, w: torch.Tensor, b: float = 0.0) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())
        self.b = nn.Parameter(torch.tensor(b))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w.flatten() + self.b


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _setup() -> tuple[LinearCritic, torch.Tensor, torch.Tensor]:
    w = torch.zeros(1, 2, 2)
    w[0, 0, 0], w[0, 1, 1] = 3.0, 4.0  # ‖w‖ = 5
    real = torch.ones(2, 1, 2, 2)  # D(real) = 7
    fake = -torch.ones(2, 1, 2, 2)  # D(fake) = -7
    return LinearCritic(w), real, fake


def test_wgangp_eps_loss_matches_hand_computation() -> None:
    d, real, fake = _setup()
    loss, stats = discriminator_loss(d, real, fake, LossConfig("wgangp-eps"), identity)
    # -E[D(x)] + E[D(G(z))] + 10·(‖w‖ − 1)² + 0.001·E[D(x)²] = -7 - 7 + 160 + 0.049
    assert stats["penalty"].item() == pytest.approx(160.0)
    assert loss.item() == pytest.approx(-14 + 160 + 0.049, rel=1e-6)
    assert stats["d_real"].item() == pytest.approx(7.0)
    assert stats["d_fake"].item() == pytest.approx(-7.0)


def test_penalty_gradient_reaches_discriminator_weights() -> None:
    d, real, fake = _setup()
    loss, _ = discriminator_loss(d, real, fake, LossConfig("wgangp-eps", eps_weight=0.0), identity)
    loss.backward()
    # d/dw [-w·1 + w·(-1)] = -2·1 ; d/dw 10(‖w‖-1)² = 20(‖w‖-1)·w/‖w‖ = 16·w
    expected = -2 * torch.ones(1, 2, 2) + 16 * d.w.detach()
    torch.testing.assert_close(d.w.grad, expected)


def test_hinge_loss_matches_hand_computation() -> None:
    w = torch.full((1, 2, 2), 0.125)
    d = LinearCritic(w)  # D(real) = 0.5, D(fake) = -0.5
    real, fake = torch.ones(3, 1, 2, 2), -torch.ones(3, 1, 2, 2)
    loss, stats = discriminator_loss(d, real, fake, LossConfig("hinge"), identity)
    assert loss.item() == pytest.approx(0.5 + 0.5)
    assert stats["penalty"].item() == 0


def test_logistic_r1_matches_hand_computation() -> None:
    d, real, fake = _setup()
    loss, stats = discriminator_loss(d, real, fake, LossConfig("logistic", r1_gamma=2.0), identity)
    softplus = torch.nn.functional.softplus
    expected_adv = softplus(torch.tensor(-7.0)) + softplus(torch.tensor(-7.0))
    assert stats["penalty"].item() == pytest.approx(0.5 * 2.0 * 25)  # γ/2·‖w‖²
    assert loss.item() == pytest.approx(expected_adv.item() + 25, rel=1e-6)


def test_generator_losses_push_d_of_fakes_up() -> None:
    logits = torch.tensor([1.0, 3.0], requires_grad=True)
    for kind in ("wgangp-eps", "hinge", "logistic"):
        (grad,) = torch.autograd.grad(generator_loss(logits, LossConfig(kind)), logits)
        assert (grad < 0).all(), kind  # descending the loss raises D(G(z))
    assert generator_loss(logits, LossConfig("hinge")).item() == pytest.approx(-2.0)


def test_unknown_loss_is_refused() -> None:
    with pytest.raises(ValueError, match="'wgan'"):
        LossConfig("wgan")
