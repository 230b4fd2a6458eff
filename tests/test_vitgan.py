"""The ViTGAN family (issue 31): its generator's pieces computed as written, the patch
decoder's layout, FLOPs, the official checkpoint import, and a ViTGAN run end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from conftest import cdist_as_matmul, cli, tiny_train_config
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import transgan
from transgan.interop.authors_checkpoint import CheckpointError
from transgan.interop.vitgan_checkpoint import import_vitgan_checkpoint, import_vitgan_state
from transgan.models.style import (
    EqualLinear,
    FourierFeatures,
    MappingNetwork,
    ModulatedLinear,
    coordinate_grid,
)
from transgan.models.vitgan import (
    PatchDecoder,
    SelfModulatedLayerNorm,
    ViTGANGeneratorConfig,
    code_attention,
)

FIXTURE = Path(__file__).parent / "fixtures" / "vitgan-official"
SMALL = ViTGANGeneratorConfig(
    latent_dim=8, img_size=12, grid=3, dim=8, depth=1, num_heads=2, decoder_dim=6,
    mapping_layers=2, decoder_mapping_layers=1,
)  # fmt: skip


def test_sln_scales_and_shifts_the_plain_layer_norm_by_the_style() -> None:
    torch.manual_seed(0)
    sln = SelfModulatedLayerNorm(dim=4, style_dim=3)
    x, w = torch.randn(2, 5, 4), torch.randn(2, 3)
    gamma = w @ sln.gamma.weight.t() / math.sqrt(3)  # equalised lr: W/√fan_in, bias 0
    beta = w @ sln.beta.weight.t() / math.sqrt(3)
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)
    plain = (x - mean) / torch.sqrt(var + 1e-3)  # no affine of its own, eps 1e-3
    expected = plain * (1 + gamma[:, None]) + beta[:, None]
    torch.testing.assert_close(sln(x, w), expected)
    # a zero style leaves the plain normalisation; the style changes scale and shift only
    with torch.no_grad():
        sln.gamma.weight.zero_()
        sln.beta.weight.zero_()
    torch.testing.assert_close(sln(x, w), plain)


def test_coordinate_grid_is_raster_ordered_x_along_a_row() -> None:
    grid = coordinate_grid(3)
    assert grid.tolist() == [
        [-1.0, -1.0], [0.0, -1.0], [1.0, -1.0],
        [-1.0, 0.0], [0.0, 0.0], [1.0, 0.0],
        [-1.0, 1.0], [0.0, 1.0], [1.0, 1.0],
    ]  # fmt: skip


def test_fourier_features_are_sines_of_a_wide_projection() -> None:
    torch.manual_seed(0)
    ff = FourierFeatures(512)
    bound = math.sqrt(9 / 2)
    assert ff.proj.weight.abs().max() <= bound and ff.proj.weight.abs().max() > 0.9 * bound
    assert ff.proj.bias.abs().max() <= 1 / math.sqrt(2)
    coords = coordinate_grid(4)
    expected = torch.sin(coords @ ff.proj.weight.t() + ff.proj.bias)
    torch.testing.assert_close(ff(coords), expected)
    # (0, 0) maps to sin(b): the features of a pixel depend on where it is, nothing else
    assert torch.allclose(ff(torch.zeros(1, 2))[0], torch.sin(ff.proj.bias))


def test_equal_linear_and_mapping_network_as_written() -> None:
    torch.manual_seed(0)
    layer = EqualLinear(4, 3, lr_mul=0.01, bias_init=0.5)
    with torch.no_grad():
        layer.bias.fill_(2.0)
    x = torch.randn(5, 4)
    expected = x @ (layer.weight * 0.01 / 2).t() + (2.0 * 0.01 + 0.5)
    torch.testing.assert_close(layer(x), expected)
    mapping = MappingNetwork(4, 2, lr_mul=0.01)
    h = x * torch.rsqrt(x.square().mean(-1, keepdim=True) + 1e-8)
    for lin in mapping.layers:
        h = F.leaky_relu(lin(h), 0.2) * math.sqrt(2)
    torch.testing.assert_close(mapping(x), h)


def test_modulated_linear_equals_its_per_row_weights() -> None:
    torch.manual_seed(0)
    mod = ModulatedLinear(5, 4, style_dim=3)
    x, style = torch.randn(2, 7, 5), torch.randn(2, 3)
    out = mod(x, style)
    for r in range(2):  # StyleGAN2's form: a weight per row, scaled by s, demodulated
        s = mod.modulation(style[r : r + 1])[0]
        w = mod.weight / math.sqrt(5) * s[None, :]
        w = w / torch.sqrt(w.square().sum(1, keepdim=True) + 1e-8)
        torch.testing.assert_close(out[r], x[r] @ w.t())


def test_patch_decoder_puts_each_tokens_patch_in_its_square() -> None:
    decoder = PatchDecoder(SMALL)  # a 3×3 grid of 4×4 patches: 12-px images
    grid, patch, batch = SMALL.grid, SMALL.patch, 2

    class Marker(nn.Module):
        """RGB of row r (image b, token t = b·9 + t'), pixel m, channel c: 1000·r + 10·m + c."""

        def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
            rows, pixels = x.shape[:2]
            r = torch.arange(rows, dtype=torch.float32)[:, None, None]
            m = torch.arange(pixels, dtype=torch.float32)[None, :, None]
            c = torch.arange(3, dtype=torch.float32)[None, None, :]
            return 1000 * r + 10 * m + c

    decoder.to_rgbs[0] = Marker()
    images = decoder(torch.randn(batch, grid * grid, SMALL.dim))
    assert images.shape == (batch, 3, 12, 12)
    for b in range(batch):
        for y in range(12):
            for x in range(12):
                token = (y // patch) * grid + x // patch  # raster order over the grid
                pixel = (y % patch) * patch + x % patch  # raster order inside the patch
                for c in range(3):
                    expected = 1000 * (b * grid * grid + token) + 10 * pixel + c
                    assert images[b, c, y, x] == expected


def test_code_attention_is_the_official_formula() -> None:
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 2, 5, 4).unbind(0)
    temperature = torch.tensor([1.7])
    aa = q.square().mean(-1, keepdim=True)
    dots = (aa - 2 * q @ k.transpose(-1, -2) + aa.transpose(-1, -2)) * 4**-0.5 * temperature
    torch.testing.assert_close(code_attention(q, k, v, temperature), dots.softmax(-1) @ v)


@pytest.mark.parametrize("attention", ["l2", "dot", "code"])
def test_estimate_flops_matches_torch_flop_counter(attention: str) -> None:
    import dataclasses

    from transgan.models.vitgan import ViTGANGenerator

    # spectral norm off: its σ is a few matrix-vector products per weight, not per image
    config = dataclasses.replace(SMALL, attention=attention, attn_impl="math", spectral_norm=False)
    g = ViTGANGenerator(config).eval()

    with (
        mock.patch.object(torch, "cdist", cdist_as_matmul),
        FlopCounterMode(display=False) as counter,
    ):
        g(torch.randn(1, config.latent_dim))
    assert counter.get_total_flops() == g.estimate_flops()


def test_official_checkpoint_imports_and_computes_their_images() -> None:
    # gen_ema.pt: the state dict of the official vit_generator.Generator (--use_nerf_proj),
    # built in a scratch folder with widths 384/512 patched to 48/24, weights moved off their
    # init, its spectral-norm multipliers set to ours; reference.pt: its images for z.
    imported = import_vitgan_checkpoint(FIXTURE / "gen_ema.pt", "vitgan_tiny")
    reference = torch.load(FIXTURE / "reference.pt", weights_only=True)
    config = imported.config.generator
    assert (config.dim, config.depth, config.num_heads, config.grid) == (48, 2, 6, 8)
    assert (config.attention, config.residual) == ("code", "normed")
    with torch.no_grad():
        ours = imported.network(reference["z"])
    theirs = 2 * reference["images"] - 1  # their images are on [0, 1]
    assert theirs.std() > 0.5
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-4)  # measured 1.7e-5


def test_import_refuses_what_does_not_fit(tmp_path: Path) -> None:
    state = torch.load(FIXTURE / "gen_ema.pt", weights_only=True)
    config = transgan.get_config("vitgan_tiny")
    with pytest.raises(CheckpointError, match="needs a ViTGAN preset"):
        import_vitgan_state(state, transgan.get_config("transgan_tiny"), "f")
    extra = {**state, "layers.0.attn.extra": torch.zeros(3)}
    with pytest.raises(CheckpointError, match=r"layers\.0\.attn\.extra"):
        import_vitgan_state(extra, config, "f")
    conv = {k: v for k, v in state.items() if not k.startswith("cips.")}
    conv["convs.0.conv.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="conv decoder"):
        import_vitgan_state(conv, config, "f")
    torch.save(state, tmp_path / "gen.pt")
    out = tmp_path / "g.safetensors"
    args = ["import", str(tmp_path / "gen.pt"), "--format", "vitgan", "--preset", "vitgan_tiny"]
    result = cli([*args, "--which", "dis", "--out", str(out)])
    assert result.exit_code == 1 and "StyleGAN2 conv network" in result.output
    result = cli([*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "no spectral-norm multipliers" in result.output
    generated = tmp_path / "grid.png"
    assert cli(["generate", str(out), "--n", "4", "--grid", str(generated)]).exit_code == 0
    # the TransGAN authors' layout has no ViTGAN network, either way: say what to use
    transgan_format = cli([*args[:2], "--preset", "vitgan_tiny", "--out", str(tmp_path / "x")])
    assert transgan_format.exit_code == 1 and "--format vitgan" in transgan_format.output
    exported = cli(["export", str(out), "--out", str(tmp_path / "g.pth")])
    assert exported.exit_code == 1 and "export --format hub" in exported.output


VITGAN_TINY = {"model": "vitgan_tiny", "model_overrides": {}}


def test_vitgan_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path: Path) -> None:
    from test_train import _assert_states_identical, _final_state

    from transgan.training.loop import train
    from transgan.training.losses import LossConfig

    extra = {**VITGAN_TINY, "loss": LossConfig("logistic", r1_gamma=0.4, bcr_weight=1.0)}
    straight = train(tiny_train_config(**extra), out=tmp_path / "a")
    first = train(tiny_train_config(**extra, kimg=0.032), out=tmp_path / "b")
    resumed = train(tiny_train_config(**extra), out=tmp_path / "b", resume=first)
    _assert_states_identical(_final_state(straight), _final_state(resumed))


def test_generate_eval_serve_and_export_work_on_a_vitgan_snapshot(tmp_path: Path) -> None:
    from transgan.sharing.sampler import Sampler
    from transgan.training.loop import train

    run = train(tiny_train_config(**VITGAN_TINY, kimg=0.016, tick_kimg=0.016), out=tmp_path)
    snapshot = run / "network-snapshot-000000.safetensors"
    grid = tmp_path / "grid.png"
    assert cli(["generate", str(snapshot), "--n", "4", "--grid", str(grid)]).exit_code == 0
    walk = tmp_path / "walk.png"
    result = cli(["generate", str(snapshot), "--n", "2", "--interpolate", "3", "--grid", str(walk)])
    assert result.exit_code == 0, result.output
    result = cli(["eval", str(snapshot), "--metrics", "dcov2k"])
    assert result.exit_code == 0, result.output
    assert "dcov2k" in result.output
    sampler = Sampler.from_snapshot(snapshot, torch.device("cpu"))
    assert sampler.grid(3, 4).size == sampler.grid(3, 4).size
    hub = tmp_path / "hub"
    result = cli(["export", str(snapshot), "--format", "hub", "--out", str(hub)])
    assert result.exit_code == 0, result.output
    config = json.loads((hub / "config.json").read_text())
    assert config["model_config"]["generator"]["arch"] == "vitgan"
    again = tmp_path / "again.png"
    assert cli(["generate", str(hub), "--n", "2", "--grid", str(again)]).exit_code == 0


def test_models_lists_the_vitgan_presets_with_params_and_flops() -> None:
    result = cli(["models"])
    assert result.exit_code == 0
    line = next(x for x in result.output.splitlines() if x.startswith("vitgan_cifar10"))
    gan = transgan.create_model("vitgan_cifar10")
    assert f"{gan.generator.count_params():,}" in line
    assert f"{gan.generator.estimate_flops() / 1e9:.2f}" in line


def test_import_honours_g_grid_and_says_what_it_assumed() -> None:
    """The token grid is not in the file: --set g_grid=4 builds a 4×4 grid (16-px preset: 4-px
    patches), and the notes name the size and grid assumed."""
    default = import_vitgan_checkpoint(FIXTURE / "gen_ema.pt", "vitgan_tiny")
    assert default.config.generator.grid == 8
    assert any("16 px (preset vitgan_tiny) and a 8×8 token grid" in n for n in default.notes)
    four = import_vitgan_checkpoint(FIXTURE / "gen_ema.pt", "vitgan_tiny", {"g_grid": 4})
    assert four.config.generator.grid == 4
    assert any("a 4×4 token grid" in n and "4-px patches" in n for n in four.notes)
    z = torch.randn(2, four.config.generator.latent_dim)
    with torch.no_grad():
        assert not torch.allclose(four.network(z), default.network(z), atol=1e-3)


def test_import_messages_name_what_is_really_missing(tmp_path: Path) -> None:
    state = torch.load(FIXTURE / "gen_ema.pt", weights_only=True)
    conv = {k: v for k, v in state.items() if not k.startswith("cips.")}
    conv["convs.0.conv.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as err:
        import_vitgan_state(conv, transgan.get_config("vitgan_tiny"), "f")
    assert "`cips.conv1.conv.weight`" in str(err.value)
    assert "lff.ffm.conv.weight" not in str(err.value)  # the file has it
    torch.save({"avg_gen_state_dict": state}, tmp_path / "transgan.pth")
    with pytest.raises(CheckpointError) as err:
        import_vitgan_checkpoint(tmp_path / "transgan.pth", "vitgan_tiny")
    assert "--format authors" in str(err.value) and "--which" not in str(err.value)
