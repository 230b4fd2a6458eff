"""MT-CT co-training: where its gradient goes, and that G(z) is untouched by it."""

from __future__ import annotations

import pytest
import torch

import transgan
from transgan.training.g_terms import mtct_loss


def test_mtct_gradient_reaches_stage_two_onwards_and_nothing_before() -> None:
    gan = transgan.create_model("transgan_tiny", g_mtct=True)
    g = gan.generator
    mtct_loss(g, torch.rand(3, 3, 32, 32) * 2 - 1).backward()
    got = {n for n, p in g.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    before = {
        n
        for n in dict(g.named_parameters())
        if n.startswith(("to_tokens", "pos_embeds.0", "stages.0."))
    }
    after = set(dict(g.named_parameters())) - before
    assert got == after
    assert "lowres_embed.weight" in got and "pos_embeds.1" in got and "to_rgb.weight" in got


def test_mtct_does_not_change_what_g_computes_from_z() -> None:
    plain = transgan.create_model("transgan_tiny").generator
    with_mtct = transgan.create_model("transgan_tiny", g_mtct=True).generator
    missing, unexpected = with_mtct.load_state_dict(plain.state_dict(), strict=False)
    assert missing == ["lowres_embed.weight", "lowres_embed.bias"] and not unexpected
    z = torch.randn(4, 64)
    torch.testing.assert_close(with_mtct(z), plain(z), rtol=0, atol=0)


def test_super_resolve_checks_its_input_size() -> None:
    g = transgan.create_model("transgan_tiny", g_mtct=True).generator
    with pytest.raises(ValueError, match="16x16"):
        g.super_resolve(torch.randn(1, 3, 8, 8))
    with pytest.raises(RuntimeError, match="without MT-CT"):
        transgan.create_model("transgan_tiny").generator.super_resolve(torch.randn(1, 3, 16, 16))
