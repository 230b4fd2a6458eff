"""R3GAN's decaying γ and augmentation with a probability, fixed or adaptive (ADA)."""

from __future__ import annotations

import pytest
import torch
from conftest import one_iteration, tiny_train_config

from transgan.distributed import DistInfo
from transgan.training import steps, ticks
from transgan.training.ada import ADA_INTERVAL, AugmentProbability
from transgan.training.augment import AugmentConfig
from transgan.training.d_terms import DiscriminatorLoss
from transgan.training.losses import LossConfig
from transgan.training.lr_rampdown import lr_scale, run_progress
from transgan.training.setup import Counters, build_networks

CPU = DistInfo(0, 1, 0, torch.device("cpu"))


def test_gamma_decays_along_a_cosine_from_start_to_end() -> None:
    loss = LossConfig("logistic", r1_gamma=2.0, r1_gamma_end=0.2, r1_gamma_kimg=40)
    scale = [loss.gamma_scale(kimg) for kimg in (0.0, 20, 40, 60)]
    assert scale == pytest.approx([1.0, 0.55, 0.1, 0.1])  # γ 2 → 1.1 → 0.2, held after
    assert LossConfig("logistic", r1_gamma=2.0).gamma_scale(0.7) == 1.0  # fixed by default
    with pytest.raises(ValueError, match="r1-gamma-end schedules R1"):
        LossConfig("hinge", r1_gamma_end=0.1)


def test_the_d_step_weights_its_penalty_by_the_scheduled_gamma(monkeypatch) -> None:
    seen = []
    real_loss = DiscriminatorLoss.__call__

    def recording(self, d, batch, inputs):
        seen.append(batch.penalty_weight)
        return real_loss(self, d, batch, inputs)

    monkeypatch.setattr(DiscriminatorLoss, "__call__", recording)
    loss = LossConfig("logistic", r1_gamma=1.0, r1_gamma_end=0.1)
    cfg = tiny_train_config(loss=loss, penalty_every=2, n_critic=2, kimg=0.032)
    nets = build_networks(cfg, cfg.model_config(), CPU)
    # one_iteration reports the run at 16 of 32 images after it: 0 before it (γ scale 1)
    one_iteration(nets, cfg)
    assert seen == [2.0, 0.0]  # lazy: ×2 every 2nd step, scale 1 at the start
    seen.clear()
    stats = steps.TickStats()
    steps.train_iteration(
        nets,
        iter(lambda: torch.rand(8, 3, 16, 16) * 2 - 1, None),
        cfg,
        device=torch.device("cpu"),
        local_batch=8,
        local_g_batch=8,
        nimg_step=16,
        nimg_after=32,  # this iteration starts half way through the run
        stats=stats,
    )
    assert seen[0] == pytest.approx(2.0 * cfg.loss.gamma_scale(0.016)) and seen[1] == 0.0


def _augment_p(**kw) -> AugmentProbability:
    config = AugmentConfig(policy=("translation",), **kw)
    return AugmentProbability(config, images_per_step=100)


def test_ada_moves_p_by_the_sign_of_d_real_every_few_steps() -> None:
    ada = _augment_p(prob=0.0, ada_target=0.6, ada_kimg=1.0)  # a step moves p by 0.4
    for i in range(ADA_INTERVAL):
        assert ada.p.item() == 0.0, i  # nothing moves before the interval is complete
        ada.observe(torch.tensor(0.9))  # D is sure of the reals: p rises
    assert ada.p.item() == pytest.approx(0.4)
    for _ in range(2 * ADA_INTERVAL):
        ada.observe(torch.tensor(0.9))
    assert ada.p.item() == 1.0  # clamped
    for _ in range(ADA_INTERVAL):
        ada.observe(torch.tensor(0.2))  # below the target: p falls
    assert ada.p.item() == pytest.approx(0.6)
    for _ in range(ADA_INTERVAL):
        ada.observe(torch.tensor(float("nan")))  # a bad step counts as 0 < target: falls
    assert ada.p.item() == pytest.approx(0.2)
    fixed = _augment_p(prob=0.3)
    fixed.observe(torch.tensor(1.0))
    assert fixed.p.item() == pytest.approx(0.3)


@pytest.mark.parametrize("p", [0.0, 0.25, 1.0])
def test_a_p_share_of_the_samples_is_augmented(p: float) -> None:
    torch.manual_seed(0)
    ada = _augment_p(prob=p)
    x = torch.zeros(4000, 1, 2, 2)
    out = ada.apply(x, lambda t: t + 1)
    share = (out[:, 0, 0, 0] == 1).float().mean().item()
    assert share == pytest.approx(p, abs=0.03)


def test_a_run_with_ada_reports_p_and_trains(tmp_path) -> None:
    from transgan.fileio import read_jsonl
    from transgan.training.loop import train

    augment = AugmentConfig(policy=("translation",), prob=0.0, ada_target=0.01, ada_kimg=0.05)
    run = train(tiny_train_config(augment=augment), out=tmp_path)
    records = read_jsonl(run / "stats.jsonl")
    assert all(0.0 <= r["augment_p"] <= 1.0 for r in records)
    assert "d_real_sign" in records[-1]


@pytest.mark.parametrize("p, augmented", [(0.0, False), (1.0, True)])
def test_bcr_views_go_through_the_runs_augmentation_probability(p: float, augmented: bool):
    """bCR's second view takes the same p as every image D sees: with p = 0 nothing D sees is
    augmented, so D(x) and D(T(x)) agree and the consistency term is 0 — up to rounding: the
    two views go through D as different batches, whose kernels may sum in another order (an
    AMD EPYC left 1.6e-17)."""
    cfg = tiny_train_config(
        loss=LossConfig("hinge", bcr_weight=1.0),
        augment=AugmentConfig(policy=("translation",), prob=p),
        n_critic=1,
    )
    nets = build_networks(cfg, cfg.model_config(), CPU)
    stats = steps.TickStats()
    one_iteration(nets, cfg, stats)
    assert (stats.sums["bcr"].item() > 1e-9) is augmented


def test_lr_rampdown_is_flat_then_a_straight_line_to_zero_by_images_or_by_time() -> None:
    assert [lr_scale(0.25, p) for p in (0.0, 0.75, 0.875, 1.0)] == [1.0, 1.0, 0.5, 0.0]
    assert lr_scale(0.0, 0.99) == 1.0  # off: constant rates
    cfg = tiny_train_config(kimg=1.0)
    assert run_progress(cfg, Counters(nimg=250, train_seconds=1e6)) == 0.25  # no --max-time
    timed = tiny_train_config(kimg=1.0, max_time=100.0)
    # whichever end comes first: 60 % of the time is further than 25 % of the images
    assert run_progress(timed, Counters(nimg=250, train_seconds=60.0)) == 0.6
    assert run_progress(timed, Counters(nimg=900, train_seconds=60.0)) == 0.9
    with pytest.raises(ValueError, match="lr_rampdown must be a fraction"):
        tiny_train_config(lr_rampdown=1.5)


def test_a_run_with_lr_rampdown_ends_at_zero_and_logs_the_rates(tmp_path) -> None:
    from transgan.fileio import read_jsonl
    from transgan.training.loop import train

    # four ticks of 32 images; the rates fall over the last half: after each tick's last
    # iteration the next rates are set from how far the run is (1/4, 1/2, 3/4, 1)
    cfg = tiny_train_config(kimg=0.128, lr_rampdown=0.5, lr_g=1e-3, lr_d=2e-3)
    stats = read_jsonl(train(cfg, out=tmp_path) / "stats.jsonl")
    assert [r["lr_g"] for r in stats] == pytest.approx([1e-3, 1e-3, 5e-4, 0.0])
    assert [r["lr_d"] for r in stats] == pytest.approx([2e-3, 2e-3, 1e-3, 0.0])
    flat = read_jsonl(train(tiny_train_config(lr_g=1e-3), out=tmp_path) / "stats.jsonl")
    assert {r["lr_g"] for r in flat} == {1e-3}


def test_under_ddp_the_rates_change_only_where_the_ranks_agree(monkeypatch) -> None:
    # rank 1's own clock says nothing: it takes rank 0's progress at the agreement points
    monkeypatch.setattr(ticks, "rank0_progress", lambda progress, info: 0.9)
    cfg = tiny_train_config(kimg=1.0, lr_rampdown=0.5, lr_g=1e-3, lr_d=1e-3)
    nets = build_networks(cfg, cfg.model_config(), CPU)
    rank1 = DistInfo(1, 2, 1, torch.device("cpu"))
    run = ticks.TickRun(cfg, rank1, nets, Counters(nimg=100), None, None, 8, 8)
    run.ramp_down(agree=False)
    assert nets.opt_g.param_groups[0]["lr"] == 1e-3  # between agreement points: unchanged
    run.ramp_down(agree=True)
    assert nets.opt_g.param_groups[0]["lr"] == pytest.approx(2e-4)  # rank 0's 90 %
    assert nets.opt_d.param_groups[0]["lr"] == pytest.approx(2e-4)
