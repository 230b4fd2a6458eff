"""`transgan import` / `export`: the authors' checkpoint layout, offline, on synthetic files."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from authors_spec_layouts import layouts
from click.testing import CliRunner

from transgan.cli.main import main
from transgan.interop.authors_checkpoint import (
    CheckpointError,
    authors_state_dict,
    import_checkpoint,
    import_state,
)
from transgan.presets import build_discriminator, build_generator, get_config
from transgan.snapshot import read_snapshot

LAYOUTS = layouts()


def authors_index(w: int) -> torch.Tensor:
    """The relative-position index as SPEC-v2 §2 defines it, written out loop by loop."""
    index = torch.empty(w * w, w * w, dtype=torch.int64)
    for i in range(w * w):
        for j in range(w * w):
            (ri, ci), (rj, cj) = divmod(i, w), divmod(j, w)
            index[i, j] = (ri - rj + w - 1) * (2 * w - 1) + (ci - cj + w - 1)
    return index


def synthetic_state(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out, indices = {}, {}
    for key, shape in shapes.items():
        if key.endswith("relative_position_index"):
            w = round(shape[0] ** 0.5)
            indices.setdefault(w, authors_index(w) if w <= 16 else None)
            out[key] = indices[w] if indices[w] is not None else _fast_index(w)
        elif key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(7)
        else:
            out[key] = torch.randn(shape, generator=gen)
    return out


def _fast_index(w: int) -> torch.Tensor:
    r, c = torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")
    r, c = r.flatten(), c.flatten()
    return (r[:, None] - r[None] + w - 1) * (2 * w - 1) + (c[:, None] - c[None] + w - 1)


def authors_checkpoint(g: dict, d: dict, live: dict | None = None) -> dict:
    """What their ``train_derived.py`` saves (SPEC-v2 §8.2), with DDP's ``module.`` prefix."""
    prefixed = lambda s: {"module." + k: v for k, v in s.items()}  # noqa: E731
    return {
        "epoch": 12,
        "gen_model": "ViT_custom_rp",
        "dis_model": "ViT_custom_scale2_rp_noise",
        "avg_gen_state_dict": prefixed(g),
        "gen_state_dict": prefixed(live if live is not None else g),
        "dis_state_dict": prefixed(d),
        "gen_optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0]}]},
        "dis_optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0]}]},
        "best_fid": np.float64(9.26),  # a NumPy scalar, as their FID code returns
        "path_helper": {"prefix": "logs/x", "ckpt_path": "logs/x/Model"},
        "fixed_z": torch.randn(4, 8),
    }


def test_spec_layouts_have_the_authors_key_counts():
    counts = {k: (len(g), len(d)) for k, (g, d) in LAYOUTS.items()}
    assert counts["transgan2_cifar10"] == (150, 107)
    assert counts["transgan2_stl10"] == (142, 77)
    assert counts["transgan2_church256"] == (260, 155)
    assert counts["transgan2_celebahq256"] == (333, 136)


@pytest.mark.parametrize("preset", list(LAYOUTS))
def test_import_converts_every_authors_preset(preset, tmp_path):
    g_shapes, d_shapes = LAYOUTS[preset]
    g, d = synthetic_state(g_shapes, 0), synthetic_state(d_shapes, 1)
    path = tmp_path / "checkpoint"
    torch.save(authors_checkpoint(g, d), path)
    try:
        check_import_of_every_tensor(path, preset, g, d)
    finally:
        path.unlink()  # up to 1 GB for the 256² presets


def check_import_of_every_tensor(path, preset: str, g: dict, d: dict) -> None:
    dropped = ("to_rgb.0.", "Hz_fbank")
    unused = "cross_attention.noise_strength_1"  # never applied by their forward
    for which, state in (("avg_gen", g), ("dis", d)):
        imported = import_checkpoint(path, preset, which)
        assert imported.epoch == 12
        back = authors_state_dict(imported.network, prefix="")
        # every authors' tensor landed in exactly one of ours, bit for bit (and back)
        assert set(back) - set(state) <= {k for k in back if k.startswith("to_rgb.0.")}
        for key in state:
            if key.startswith(dropped):
                continue
            expected = torch.zeros(()) if key.endswith(unused) else state[key]
            assert torch.equal(back[key], expected.to(back[key].dtype)), key
        if any(k.endswith(unused) for k in state):
            assert any("cross-attention noise gains set to 0" in n for n in imported.notes)
        if any(k.startswith(dropped) for k in state):
            assert any("never uses" in n for n in imported.notes)


def test_import_picks_the_live_generator_with_which_gen(tmp_path):
    g_shapes, d_shapes = LAYOUTS["transgan_s"]
    g, d = synthetic_state(g_shapes, 0), synthetic_state(d_shapes, 1)
    live = {k: v + 1 if v.is_floating_point() else v for k, v in g.items()}
    torch.save(authors_checkpoint(g, d, live), tmp_path / "c")
    ema = import_checkpoint(tmp_path / "c", "transgan_s", "avg_gen").network
    net = import_checkpoint(tmp_path / "c", "transgan_s", "gen").network
    assert torch.equal(ema.to_tokens.weight, g["l1.weight"])
    assert torch.equal(net.to_tokens.weight, g["l1.weight"] + 1)


def test_conv_layers_become_our_linear_layers():
    """The authors' fRGB / patch_embed convs and their 1×1 deconv compute what ours do."""
    config = get_config("transgan2_tiny")
    d = build_discriminator(config).eval()
    theirs = authors_state_dict(d, prefix="")
    x = torch.randn(2, 3, config.img_size, config.img_size)
    for k, patchify in enumerate(d.patchify):
        w, b = theirs[f"fRGB_{k + 1}.weight"], theirs[f"fRGB_{k + 1}.bias"]
        conv = F.conv2d(x, w, b, stride=w.shape[-1])  # (B, C, h, w)
        assert torch.allclose(patchify(x), conv.flatten(2).transpose(1, 2), atol=1e-6)
    g = build_generator(config).eval()
    tokens = torch.randn(2, 16, g.to_rgb.in_features)
    theirs = authors_state_dict(g, prefix="")
    grid = tokens.transpose(1, 2).reshape(2, -1, 4, 4)
    conv = F.conv2d(grid, theirs["deconv.0.weight"], theirs["deconv.0.bias"])
    assert torch.allclose(g.to_rgb(tokens), conv.flatten(2).transpose(1, 2), atol=1e-6)
    v1 = build_discriminator(get_config("transgan_tiny")).eval()
    w = authors_state_dict(v1, prefix="")["patch_embed.weight"]
    x = torch.randn(2, 3, v1.config.img_size, v1.config.img_size)
    p = v1.config.patch_size
    patches = x.unfold(2, p, p).unfold(3, p, p).permute(0, 2, 3, 1, 4, 5).flatten(3).flatten(1, 2)
    conv = F.conv2d(x, w, v1.patch_embed.bias, stride=p).flatten(2).transpose(1, 2)
    assert torch.allclose(v1.patch_embed(patches), conv, atol=1e-6)


@pytest.mark.parametrize(
    "preset", ["transgan_tiny", "transgan_digits", "transgan2_tiny", "transgan2_digits"]
)
def test_export_import_round_trip_is_bit_identical(preset, tmp_path):
    torch.manual_seed(0)
    config = get_config(preset)
    g = build_generator(config).eval()
    from transgan.snapshot import save_snapshot

    snap = tmp_path / "g.safetensors"
    save_snapshot(snap, g, config)
    runner = CliRunner()
    result = runner.invoke(main, ["export", str(snap), "--out", str(tmp_path / "ckpt.pth")])
    assert result.exit_code == 0, result.output
    checkpoint = torch.load(tmp_path / "ckpt.pth", weights_only=True)
    assert all(k.startswith("module.") for k in checkpoint["avg_gen_state_dict"])
    back = tmp_path / "back.safetensors"
    args = ["import", str(tmp_path / "ckpt.pth"), "--preset", preset, "--out", str(back)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    before, _, _ = read_snapshot(snap)
    after, config_after, extra = read_snapshot(back)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert config_after == config and extra["imported"]["which"] == "avg_gen"
    # the imported generator computes what the one that received the tensors directly does
    imported = build_generator(config_after).eval()
    imported.load_state_dict(after)
    z = torch.randn(3, config.generator.latent_dim)
    with torch.no_grad():
        assert torch.equal(g(z), imported(z))


def test_discriminator_round_trip(tmp_path):
    torch.manual_seed(0)
    config = get_config("transgan2_tiny")
    d = build_discriminator(config).eval()
    torch.save({"dis_state_dict": authors_state_dict(d)}, tmp_path / "d.pth")
    runner = CliRunner()
    out = tmp_path / "d.safetensors"
    args = ["import", str(tmp_path / "d.pth"), "--preset", "transgan2_tiny", "--which", "dis"]
    assert runner.invoke(main, [*args, "--out", str(out)]).exit_code == 0
    result = runner.invoke(main, ["export", str(out), "--out", str(tmp_path / "d2.pth")])
    assert result.exit_code == 0, result.output
    again = torch.load(tmp_path / "d2.pth", weights_only=True)["dis_state_dict"]
    first = torch.load(tmp_path / "d.pth", weights_only=True)["dis_state_dict"]
    assert first.keys() == again.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)


def test_bare_state_dict_and_wrong_preset_name_the_fitting_preset(tmp_path):
    g_shapes, _ = LAYOUTS["transgan2_cifar10"]
    state = synthetic_state(g_shapes, 0)
    torch.save(state, tmp_path / "bare.pth")
    with pytest.raises(CheckpointError) as err:
        import_checkpoint(tmp_path / "bare.pth", "transgan2_stl10")
    text = str(err.value)
    assert "missing keys" in text and "wrong shape" in text
    assert "--preset transgan2_cifar10" in text
    imported = import_checkpoint(tmp_path / "bare.pth", "transgan2_cifar10")
    assert imported.epoch is None


def test_a_changed_relative_index_is_refused():
    config = get_config("transgan2_tiny")
    state = authors_state_dict(build_generator(config), prefix="")
    key = next(k for k in state if k.endswith("relative_position_index"))
    state[key] = state[key].flip(0)
    with pytest.raises(CheckpointError, match=r"relative_position_index.*differs"):
        import_state(state, config, "avg_gen")


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch " + os.environ["TRANSGAN_TEST_MARKER"],))


def test_a_checkpoint_that_would_run_code_is_refused_and_never_runs(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    monkeypatch.setenv("TRANSGAN_TEST_MARKER", str(marker))
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"avg_gen_state_dict": {"l1.weight": _RunsCode()}}, f)
    torch.save({"avg_gen_state_dict": {"x": _RunsCode()}}, tmp_path / "evil2.pth")
    runner = CliRunner()
    for file in (path, tmp_path / "evil2.pth"):
        result = runner.invoke(
            main, ["import", str(file), "--preset", "transgan2_tiny", "--out", "x.safetensors"]
        )
        assert result.exit_code != 0
        assert "weights_only=True" in result.output and "refused" in result.output
    assert not marker.exists()


def test_missing_part_is_named(tmp_path):
    torch.save({"avg_gen_state_dict": {}, "epoch": 1}, tmp_path / "c.pth")
    with pytest.raises(CheckpointError, match="no dis_state_dict; it has avg_gen"):
        import_checkpoint(tmp_path / "c.pth", "transgan2_tiny", "dis")
