"""The discriminator options of issue 22 on cases computed by hand: R3GAN's relativistic
loss with R1 + R2, bCR, LeCam, and the minibatch-std token."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from conftest import TINY_TRAIN_MODEL, tiny_train_config
from test_losses import _setup, identity

from transgan.cli import main
from transgan.models.discriminator import (
    Discriminator,
    DiscriminatorConfig,
    MultiScaleDiscriminator,
    MultiScaleDiscriminatorConfig,
)
from transgan.models.minibatch_std import group_size, minibatch_std
from transgan.training.d_terms import discriminator_loss
from transgan.training.losses import LossConfig, generator_loss
from transgan.training.regularizers import LeCamAnchors

softplus = torch.nn.functional.softplus


def test_relativistic_loss_with_r1_and_r2_matches_hand_computation() -> None:
    d, real, fake = _setup()  # D(real) = 7, D(fake) = -7, ‖∇D‖ = ‖w‖ = 5 everywhere
    config = LossConfig("relativistic", r1_gamma=2.0)
    loss, stats = discriminator_loss(d, real, fake, config, identity)
    # softplus(D(fake) − D(real)) + γ/2·(‖w‖² on reals + ‖w‖² on fakes)
    assert stats["penalty"].item() == pytest.approx(0.5 * 2.0 * (25 + 25))
    assert loss.item() == pytest.approx(softplus(torch.tensor(-14.0)).item() + 50, rel=1e-6)
    # the penalty's gradient reaches D: d/dw γ/2·2‖w‖² = 2γ·w, plus the adversarial part
    loss.backward()
    adv_grad = -torch.sigmoid(torch.tensor(-14.0)) * 2 * torch.ones(1, 2, 2)  # ∂/∂w of D(f)−D(r)
    torch.testing.assert_close(d.w.grad, adv_grad + 4.0 * d.w.detach())


def test_relativistic_loss_pairs_each_fake_with_a_real() -> None:
    # pairs (real 0, fake 1) and (real 2, fake 5): the loss is the mean over pairs, not the
    # difference of the means (that would be softplus(3 − 1) for both orderings)
    d_real = torch.tensor([0.0, 2.0])
    d_fake = torch.tensor([1.0, 5.0])
    config = LossConfig("relativistic", r1_gamma=0.0)
    expected = (softplus(torch.tensor(-1.0)) + softplus(torch.tensor(-3.0))) / 2
    assert generator_loss(d_fake, config, d_real).item() == pytest.approx(expected.item())
    # G has more fakes than there are reals: the reals are reused in order
    four = generator_loss(torch.tensor([1.0, 5.0, 1.0, 5.0]), config, d_real)
    assert four.item() == pytest.approx(expected.item())
    with pytest.raises(ValueError, match="logits on reals"):
        generator_loss(d_fake, config)


def test_relativistic_d_loss_is_paired_too() -> None:
    class Table(torch.nn.Module):  # D(x) = the first pixel
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flatten(1)[:, 0]

    real = torch.tensor([0.0, 2.0]).reshape(2, 1, 1, 1)
    fake = torch.tensor([1.0, 5.0]).reshape(2, 1, 1, 1)
    config = LossConfig("relativistic", r1_gamma=0.0)
    loss, _ = discriminator_loss(Table(), real, fake, config, identity)
    expected = (softplus(torch.tensor(1.0)) + softplus(torch.tensor(3.0))) / 2
    assert loss.item() == pytest.approx(expected.item())


def test_bcr_penalises_the_logit_change_under_the_second_view() -> None:
    d, real, fake = _setup()  # the second view adds 1 to every pixel: D changes by Σw = 7

    def shift(x: torch.Tensor) -> torch.Tensor:
        return x + 1

    config = LossConfig("hinge", bcr_weight=10.0)
    loss, stats = discriminator_loss(d, real, fake, config, identity, consistency_augment=shift)
    assert stats["bcr"].item() == pytest.approx(10.0 * (49 + 49))
    plain, _ = discriminator_loss(d, real, fake, LossConfig("hinge"), identity)
    assert loss.item() == pytest.approx(plain.item() + 980.0)
    # with the same view it costs nothing
    _, same = discriminator_loss(d, real, fake, config, identity, consistency_augment=identity)
    assert same["bcr"].item() == 0.0


def test_lecam_anchors_and_penalty_match_hand_computation() -> None:
    anchors = LeCamAnchors(decay=0.9)
    d_real, d_fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, -2.0])
    # before the first update the anchors are 0: E‖D(x)‖² = 5, E‖D(G(z))‖² = 4
    assert anchors.penalty(d_real, d_fake, weight=0.5).item() == pytest.approx(0.5 * (5 + 4))
    # the first update sets them to the step's means (α_R = 2, α_F = −2)
    anchors.update(d_real.mean(), d_fake.mean())
    assert (anchors.real.item(), anchors.fake.item()) == (2.0, -2.0)
    # E‖D(x) − α_F‖² = (9 + 25)/2 = 17; E‖D(G(z)) − α_R‖² = 16
    assert anchors.penalty(d_real, d_fake, weight=0.5).item() == pytest.approx(0.5 * (17 + 16))
    # later updates: α ← 0.9·α + 0.1·mean
    anchors.update(torch.tensor(0.0), torch.tensor(1.0))
    assert anchors.real.item() == pytest.approx(0.9 * 2.0)
    assert anchors.fake.item() == pytest.approx(0.9 * -2.0 + 0.1 * 1.0)


def test_lecam_anchors_ignore_a_non_finite_step() -> None:
    anchors = LeCamAnchors(decay=0.9)
    anchors.update(torch.tensor(float("nan")), torch.tensor(1.0))  # before any good step
    assert not anchors.started and (anchors.real.item(), anchors.fake.item()) == (0.0, 0.0)
    anchors.update(torch.tensor(2.0), torch.tensor(-2.0))
    anchors.update(torch.tensor(float("inf")), torch.tensor(float("nan")))
    assert (anchors.real.item(), anchors.fake.item()) == (2.0, -2.0)


def test_lecam_in_the_loss_needs_anchors_and_reports_its_term() -> None:
    d, real, fake = _setup()
    config = LossConfig("logistic", r1_gamma=0.0, lecam_weight=0.3)
    with pytest.raises(ValueError, match="LeCam anchors"):
        discriminator_loss(d, real, fake, config, identity)
    anchors = LeCamAnchors()
    anchors.update(torch.tensor(7.0), torch.tensor(-7.0))
    _, stats = discriminator_loss(d, real, fake, config, identity, lecam=anchors)
    # the loss reads the anchors and leaves them to the step (one update per D step)
    assert (anchors.real.item(), anchors.fake.item()) == (7.0, -7.0)
    d_real, d_fake = d(real), d(fake)
    expected = (d_real - -7.0).square().mean() + (d_fake - 7.0).square().mean()
    assert stats["lecam"].item() == pytest.approx(0.3 * expected.item())


@pytest.mark.parametrize("name", ["r1_gamma", "bcr_weight", "lecam_weight"])
def test_negative_regulariser_weights_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        LossConfig("logistic", **{name: -1.0})


def test_group_size_is_the_largest_divisor_up_to_the_group() -> None:
    assert [group_size(b, 4) for b in (1, 2, 3, 4, 6, 8, 9)] == [1, 2, 3, 4, 3, 4, 3]


def test_minibatch_std_matches_hand_computation() -> None:
    tokens = torch.tensor([0.0, 2.0, 10.0, 10.0]).reshape(4, 1, 1)
    # groups of two consecutive samples: std of (0, 2) = 1, of (10, 10) = 0
    spread = minibatch_std(tokens, 2)
    torch.testing.assert_close(spread, torch.tensor([1.0, 1.0, 1e-4, 1e-4]))


def test_per_feature_minibatch_std_keeps_each_feature_apart() -> None:
    # two samples, two tokens, two features: feature 0 varies over the group, feature 1 not
    tokens = torch.tensor([[[0.0, 5.0], [4.0, 5.0]], [[2.0, 5.0], [0.0, 5.0]]])
    spread = minibatch_std(tokens, 2, per_feature=True)  # (2, 2)
    # feature 0: std 1 at token 0, 2 at token 1; feature 1: 0 (the 1e-8 under the root)
    torch.testing.assert_close(spread, torch.tensor([[1.5, 1e-4], [1.5, 1e-4]]))
    # the single number is their mean
    torch.testing.assert_close(minibatch_std(tokens, 2), spread.mean(dim=1))


def test_per_feature_token_needs_a_group() -> None:
    with pytest.raises(ValueError, match="mbstd_per_feature needs"):
        DiscriminatorConfig(img_size=8, patch_size=4, dim=16, depth=2, mbstd_per_feature=True)


def _mbstd_d(per_feature: bool = False) -> Discriminator:
    config = DiscriminatorConfig(
        img_size=8, patch_size=4, dim=16, depth=2, mbstd_group=2, mbstd_per_feature=per_feature
    )
    return Discriminator(config).eval()


@pytest.mark.parametrize("per_feature", [False, True])
def test_mbstd_token_sees_its_group_only(per_feature: bool) -> None:
    torch.manual_seed(0)
    d = _mbstd_d(per_feature)
    x = torch.randn(4, 3, 8, 8)
    base = d(x)
    changed = x.clone()
    changed[1] = torch.randn(3, 8, 8)
    out = d(changed)
    assert not torch.allclose(out[0], base[0])  # sample 0 shares a group with sample 1
    torch.testing.assert_close(out[2:], base[2:])  # the other group does not see it


def test_mbstd_d_on_reals_and_fakes_together_equals_separate_calls() -> None:
    torch.manual_seed(0)
    d = _mbstd_d()
    real, fake = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    together = d(torch.cat([real, fake]))
    torch.testing.assert_close(together, torch.cat([d(real), d(fake)]))


def test_multiscale_d_takes_the_mbstd_token() -> None:
    torch.manual_seed(0)
    config = MultiScaleDiscriminatorConfig(
        img_size=8, patch_size=2, scale_dims=(8, 8), depths=(1, 1), mbstd_group=2, noise=False
    )
    d = MultiScaleDiscriminator(config).eval()
    x = torch.randn(4, 3, 8, 8)
    changed = x.clone()
    changed[1] = torch.randn(3, 8, 8)
    out, base = d(changed), d(x)
    assert not torch.allclose(out[0], base[0])
    torch.testing.assert_close(out[2:], base[2:])
    with pytest.raises(ValueError, match="head='cls'"):
        MultiScaleDiscriminatorConfig(img_size=8, mbstd_group=2, head="flatten")


def test_mbstd_group_must_divide_the_micro_batches() -> None:
    overrides = {**TINY_TRAIN_MODEL, "d_mbstd_group": 3}
    with pytest.raises(ValueError, match="d_mbstd_group=3 must divide"):
        tiny_train_config(model_overrides=overrides).model_config()


def test_the_options_are_on_the_command_line() -> None:
    text = CliRunner().invoke(main, ["train", "--help"], terminal_width=200).output
    for option in ("--bcr-weight", "--lecam-weight", "relativistic"):
        assert option in text
    # the D option through --set reaches the resolved model config
    result = CliRunner().invoke(
        main, ["train", "--model", "transgan_digits", "--set", "d_mbstd_group=4", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert '"mbstd_group": 4' in result.output


def test_reuse_fakes_runs_g_forward_once_per_iteration() -> None:
    from conftest import one_iteration

    from transgan.distributed import DistInfo
    from transgan.training.setup import build_networks

    def forwards(**changes) -> tuple[int, torch.Tensor]:
        torch.manual_seed(0)
        cfg = tiny_train_config(n_critic=1, **changes)
        nets = build_networks(cfg, cfg.model_config(), DistInfo(0, 1, 0, torch.device("cpu")))
        calls = []
        nets.generator.register_forward_hook(lambda *_: calls.append(1))
        before = [p.detach().clone() for p in nets.generator.parameters()]
        one_iteration(nets, cfg)
        moved = [
            not torch.equal(a, p) for a, p in zip(before, nets.generator.parameters(), strict=True)
        ]
        return len(calls), torch.tensor(moved)

    n_plain, moved_plain = forwards()
    n_reuse, moved_reuse = forwards(reuse_fakes=True)
    assert (n_plain, n_reuse) == (2, 1)
    assert moved_reuse.any() and torch.equal(moved_reuse, moved_plain)  # G still learns


@pytest.mark.parametrize(
    "changes", [{"n_critic": 2}, {"g_batch": 16}, {"accum_steps": 2, "n_critic": 1}]
)
def test_reuse_fakes_needs_one_d_step_of_the_g_batch(changes: dict) -> None:
    with pytest.raises(ValueError, match="--reuse-fakes needs --n-critic 1"):
        tiny_train_config(reuse_fakes=True, **{"n_critic": 1, **changes})


@pytest.mark.parametrize(("head", "width"), [("cls", 16), ("mean", 16), ("flatten", 4 * 16)])
def test_v1_d_heads_read_what_they_say(head: str, width: int) -> None:
    torch.manual_seed(0)
    config = DiscriminatorConfig(img_size=8, patch_size=4, dim=16, depth=1, head=head)
    d = Discriminator(config).eval()
    assert d.head.in_features == width
    seen = {}
    d.norm.register_forward_hook(lambda m, i, o: seen.__setitem__("out", o))
    x = torch.randn(3, 3, 8, 8)
    logits = d(x)
    tokens = seen["out"]  # the final norm's output: what the head reads
    if head == "cls":
        h = tokens
    else:  # the four patch tokens, without the cls token
        assert tokens.shape == (3, 4, 16)
        h = tokens.mean(1) if head == "mean" else tokens.flatten(1)
    torch.testing.assert_close(logits, d.head(h).squeeze(-1))
    # a conditional D projects the same features
    cond = Discriminator(
        DiscriminatorConfig(img_size=8, patch_size=4, dim=16, depth=1, head=head, num_classes=3)
    )
    assert cond(x, torch.tensor([0, 1, 2])).shape == (3,)
    with pytest.raises(ValueError, match="head must be one of"):
        DiscriminatorConfig(img_size=8, patch_size=4, dim=16, head="pool")
