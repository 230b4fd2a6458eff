"""Show and share (issue 24): the sampler page's functions, Hub-ready folders, Hub ids
resolved from an offline cache, and the export / generate commands on folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import transgan
from transgan.cli.main import main
from transgan.images import grid_image
from transgan.sampling import generate_images, latents
from transgan.sharing.hub_folder import export_hub_folder, model_card
from transgan.sharing.sampler import Sampler, SamplerInputError
from transgan.snapshot import SnapshotError, resolve_snapshot, save_snapshot

TINY = {"g_dim": 32, "g_depths": (1, 1, 1), "g_num_heads": 2}


def _snapshot(path: Path, preset: str = "transgan_tiny", extra: dict | None = None, **kw):
    torch.manual_seed(0)
    gan = transgan.create_model(preset, **{**TINY, **kw})
    save_snapshot(path, gan.generator, gan.config, extra or {"kimg": 1.0})
    return path


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    return _snapshot(tmp_path_factory.mktemp("snap") / "network-snapshot-000001.safetensors")


@pytest.fixture(scope="module")
def sampler(snapshot: Path) -> Sampler:
    return Sampler.from_snapshot(snapshot, torch.device("cpu"))


def _pixels(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(image))


def test_grid_is_what_generate_draws_from_the_seed(sampler: Sampler, snapshot: Path) -> None:
    generator, config = transgan.load_generator(snapshot)
    z = latents(9, config.generator.latent_dim, 7)
    expected = grid_image(generate_images(generator, z, noise_seed=7))
    assert torch.equal(_pixels(sampler.grid(7, 9)), _pixels(expected))
    # one image at a seed is that seed's first grid image
    first = grid_image(generate_images(generator, z[:1], noise_seed=7))
    assert torch.equal(_pixels(sampler.image(7)), _pixels(first))


def test_walk_starts_at_seed_a_and_ends_at_seed_b(sampler: Sampler) -> None:
    start, end = sampler.walk_frame(3, 5, 0.0), sampler.walk_frame(3, 5, 1.0)
    assert torch.equal(_pixels(start), _pixels(sampler.image(3)))
    assert torch.equal(_pixels(end), _pixels(sampler.image(5)))  # v1: no noise to differ
    middle = sampler.walk_frame(3, 5, 0.5)
    assert not torch.equal(_pixels(middle), _pixels(start))
    frames = sampler.walk_frames(3, 5, 5)
    assert len(frames) == 5 and torch.equal(_pixels(frames[0]), _pixels(start))


def test_walk_gif_goes_there_and_back(sampler: Sampler, tmp_path: Path) -> None:
    path = sampler.walk_gif(0, 1, tmp_path / "walk.gif", steps=6, scale=2)
    gif = Image.open(path)
    assert gif.n_frames == 6 + 4  # 0..5, then 4..1
    assert gif.size == (2 * 32, 2 * 32)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.grid(-1), "seed must be a whole number from 0"),
        (lambda s: s.grid(1.5), "seed must be a whole number"),
        (lambda s: s.grid("abc"), "seed must be a whole number"),
        (lambda s: s.grid(2**32), "seed must be a whole number from 0"),
        (lambda s: s.grid(0, 0), "images in the grid must be a whole number from 1 to 256"),
        (lambda s: s.grid(0, 1000), "from 1 to 256"),
        (lambda s: s.walk_frame(0, 1, 1.5), "between 0 and 1"),
        (lambda s: s.walk_frames(0, 1, 1), "walk steps must be a whole number from 2"),
        (lambda s: s.image(0, label="3"), "unconditional"),
    ],
)
def test_bad_page_values_get_a_message(sampler: Sampler, call, message: str) -> None:
    with pytest.raises(SamplerInputError, match=message):
        call(sampler)


def test_conditional_model_takes_classes_by_index_or_name(tmp_path: Path) -> None:
    path = _snapshot(
        tmp_path / "c.safetensors",
        extra={"class_names": ["zero", "one", "two"]},
        g_num_classes=3,
    )
    s = Sampler.from_snapshot(path, torch.device("cpu"))
    assert s.class_choices() == ["0: zero", "1: one", "2: two"]
    by_choice, by_name, by_index = s.image(0, "1: one"), s.image(0, "one"), s.image(0, 1)
    assert torch.equal(_pixels(by_choice), _pixels(by_name))
    assert torch.equal(_pixels(by_choice), _pixels(by_index))
    assert not torch.equal(_pixels(s.image(0, 0)), _pixels(by_index))
    with pytest.raises(SamplerInputError, match="choose one of its 3 classes"):
        s.image(0)
    with pytest.raises(SamplerInputError, match="'cat' is not a class"):
        s.image(0, "cat")


def test_noise_injection_can_be_switched_off(tmp_path: Path) -> None:
    torch.manual_seed(0)
    gan = transgan.create_model("transgan2_tiny")
    for m in gan.generator.modules():  # trained gains are not 0; make the noise visible
        if hasattr(m, "gain"):
            m.gain.data.fill_(0.5)
    path = tmp_path / "v2.safetensors"
    save_snapshot(path, gan.generator, gan.config, {})
    s = Sampler.from_snapshot(path, torch.device("cpu"))
    assert s.has_noise
    on, off = s.image(0, noise=True), s.image(0, noise=False)
    assert not torch.equal(_pixels(on), _pixels(off))
    assert torch.equal(_pixels(s.image(0, noise=True)), _pixels(on))  # same seed, same noise
    assert all(m.enabled for m in s.generator.modules() if hasattr(m, "enabled"))


def test_hub_folder_loads_everywhere_a_snapshot_does(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    snap = _snapshot(run / "network-snapshot-000001.safetensors")
    (run / "config.json").write_text(json.dumps({"train": {"model": "transgan_tiny", "kimg": 1}}))
    record = {"kimg": 1.0, "results": {"dfid2k": 123.4}, "snapshot": snap.name}
    (run / "metric-dfid2k.jsonl").write_text(json.dumps(record) + "\n")
    out = tmp_path / "hub"
    result = CliRunner().invoke(main, ["export", str(snap), "--format", "hub", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "samples.png",
    ]
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: transgan\n")
    assert "| dfid2k | dfid2k 123.4 | 1.0 | Fréchet distance" in card
    assert "2,000 generated images" in card
    folder_config = json.loads((out / "config.json").read_text())
    assert folder_config["training"]["train"]["model"] == "transgan_tiny"
    # the folder loads like the snapshot, by load_generator and by the commands
    g_file, _ = transgan.load_generator(snap)
    g_folder, _ = transgan.load_generator(out)
    for a, b in zip(g_file.state_dict().values(), g_folder.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    grid = tmp_path / "grid.png"
    result = CliRunner().invoke(main, ["generate", str(out), "--n", "4", "--grid", str(grid)])
    assert result.exit_code == 0, result.output
    assert Image.open(grid).size[0] > 0
    # a second export needs --force
    again = CliRunner().invoke(main, ["export", str(snap), "--format", "hub", "--out", str(out)])
    assert again.exit_code != 0 and "--force" in again.output


def test_model_card_without_a_run_says_so(snapshot: Path) -> None:
    _, config = transgan.load_generator(snapshot)
    card = model_card(config, {"kimg": 1.0}, None, [])
    assert "No metric was recorded" in card and "without its run directory" in card
    assert "license" in card and "library_name: transgan" in card


def test_a_folder_without_weights_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match=r"folder without model\.safetensors"):
        resolve_snapshot(tmp_path)


def test_hub_id_resolves_from_the_hub_cache_offline(
    tmp_path: Path, snapshot: Path, monkeypatch
) -> None:
    pytest.importorskip("huggingface_hub", reason="the hub extra is not installed")
    # the Hub cache layout: models--OWNER--NAME/{refs/main, snapshots/COMMIT/FILE}
    commit = "0" * 40
    repo = tmp_path / "hub" / "models--someone--tiny-gan"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "model.safetensors").write_bytes(snapshot.read_bytes())
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    generator, _ = transgan.load_generator("someone/tiny-gan")
    assert sum(p.numel() for p in generator.parameters()) > 0
    with pytest.raises(SnapshotError, match="'someone/other' is not a file or folder here"):
        transgan.load_generator("someone/other")
    # a path that only looks like an id but ends in .safetensors stays a path
    with pytest.raises(SnapshotError, match="does not exist"):
        transgan.load_generator("someone/x.safetensors")


def test_export_hub_refuses_a_file_as_folder(tmp_path: Path, snapshot: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        export_hub_folder(snapshot, target)


def test_serve_without_gradio_names_the_extra(monkeypatch, snapshot: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio now fails
    result = CliRunner().invoke(main, ["serve", str(snapshot)])
    assert result.exit_code != 0
    assert "pip install 'transgan[serve]'" in result.output
    assert "Traceback" not in result.output


def test_serve_a_missing_snapshot_is_one_sentence(tmp_path: Path) -> None:
    pytest.importorskip("gradio", reason="the serve extra (gradio) is not installed")
    result = CliRunner().invoke(main, ["serve", str(tmp_path / "nope.safetensors")])
    assert result.exit_code != 0
    assert "does not exist" in result.output and "Traceback" not in result.output


def test_generate_interpolation_frames_share_their_noise(tmp_path: Path, monkeypatch) -> None:
    """`generate --interpolate` on a v2 model with noise injection: a walk's frames share one
    noise draw (as the sampler page's walk), so frames with the same z are the same image."""
    from transgan import sampling

    torch.manual_seed(0)
    gan = transgan.create_model("transgan2_tiny")
    for m in gan.generator.modules():  # make the noise visible
        if hasattr(m, "gain"):
            m.gain.data.fill_(0.5)
    path = tmp_path / "v2.safetensors"
    save_snapshot(path, gan.generator, gan.config, {})

    def standing_still(rows: int, steps: int, dim: int, seed: int) -> torch.Tensor:
        return sampling.latents(rows, dim, seed).repeat_interleave(steps, dim=0)  # z fixed

    monkeypatch.setattr(sampling, "interpolation_latents", standing_still)
    out = tmp_path / "frames"
    args = ["generate", str(path), "--n", "2", "--interpolate", "3", "--out-dir", str(out)]
    result = CliRunner().invoke(main, [*args, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    frames = [(out / f"seed0000-{i:06d}.png").read_bytes() for i in range(6)]
    assert frames[0] == frames[1] == frames[2] and frames[3] == frames[4] == frames[5]
    assert frames[0] != frames[3]
