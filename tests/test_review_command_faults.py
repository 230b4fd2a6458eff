"""Faults found by the review of the sharing path and the commands (issue 29): an image
that depends on its batch, a lost training record, inputs overwritten, and results given
without a word where a user needed one. (Training's faults: test_review_faults.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import cli


def _noisy_v2(path: Path, **kw) -> Path:
    import transgan
    from transgan.snapshot import save_snapshot

    torch.manual_seed(0)
    gan = transgan.create_model("transgan2_tiny", **kw)
    for m in gan.generator.modules():  # trained gains are not 0; make the noise show in
        if hasattr(m, "gain"):  # the pixels (other noise: ~10 levels of 255 apart)
            m.gain.data.fill_(20.0)
    save_snapshot(path, gan.generator, gan.config, {})
    return path


@pytest.mark.parametrize("kind", ["v2-noise", "v2-noise-cond", "odd-latent"], ids=lambda k: k)
def test_an_image_is_a_function_of_seed_and_index_alone(tmp_path: Path, kind: str) -> None:
    from transgan.sampling import generate_images, latents
    from transgan.sharing.sampler import Sampler

    kw = {"g_latent_dim": 33} if kind == "odd-latent" else {}
    if kind == "v2-noise-cond":
        kw["g_num_classes"] = 3
    path = _noisy_v2(tmp_path / "g.safetensors", **kw)
    s = Sampler.from_snapshot(path, torch.device("cpu"), batch_size=64)
    g, dim = s.generator, s.config.generator.latent_dim
    label = 1 if kind == "v2-noise-cond" else None
    labels = None if label is None else torch.full((10,), label)
    z = latents(10, dim, 7)
    assert torch.equal(latents(1, dim, 7), z[:1])  # a latent does not depend on the count
    whole = generate_images(g, z, batch_size=64, noise_seed=7, labels=labels)
    pieces = generate_images(g, z, batch_size=3, noise_seed=7, labels=labels)
    # batches of other sizes may round differently (BLAS kernels): 1e-5 on [-1, 1] images,
    # where other noise differs by ~1e-3 and more
    close = {"atol": 1e-5, "rtol": 0}
    torch.testing.assert_close(whole, pieces, **close)  # nor on the device batch
    first = generate_images(g, z[:1], noise_seed=7, labels=None if labels is None else labels[:1])
    torch.testing.assert_close(first, whole[:1], **close)  # nor on how many are drawn
    # the page's image at seed 7 is image 0 of its grid (and of `generate --seed 7`)
    _same_pixels(s.image(7, label), s.grid(7, 10, label).crop((1, 1, 17, 17)))
    # the walk: the slider's frame at a position is the GIF's frame there
    frames = s.walk_frames(3, 5, 5, label)
    for t, i in ((0.0, 0), (0.25, 1), (0.5, 2), (1.0, 4)):
        _same_pixels(s.walk_frame(3, 5, t, label), frames[i])
    _same_pixels(frames[0], s.image(3, label))


def _same_pixels(a, b) -> None:
    """Two images equal to one level of 255 (a float at a rounding boundary may flip)."""
    x, y = (torch.from_numpy(np.array(im)).int() for im in (a, b))
    assert x.shape == y.shape and (x - y).abs().max() <= 1


def _run_with_metrics(tmp_path: Path, **kw) -> Path:
    """A run folder: a snapshot at 1 kimg, the run's config, dfid2k measured at 1 and 2 kimg."""
    import transgan
    from transgan.snapshot import save_snapshot

    run = tmp_path / "run"
    run.mkdir()
    torch.manual_seed(0)
    gan = transgan.create_model("transgan_tiny", g_dim=32, g_depths=(1, 1, 1), g_num_heads=2, **kw)
    extra = {"kimg": 1.0, "nimg": 1000, **({"class_names": list("abc")} if kw else {})}
    save_snapshot(run / "network-snapshot-000001.safetensors", gan.generator, gan.config, extra)
    config = {"train": {"model": "transgan_tiny", "kimg": 2, "seed": 5}, "model": {}}
    (run / "config.json").write_text(json.dumps(config))
    lines = [
        {
            "kimg": k,
            "nimg": k * 1000,
            "results": {"dfid2k": v},
            "snapshot": f"network-snapshot-00000{k}.safetensors",
        }
        for k, v in ((1, 111.0), (2, 222.0))
    ]
    (run / "metric-dfid2k.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return run


def _export(args: list[str]):
    return cli(["export", *args, "--format", "hub"])


def test_export_finds_the_run_from_a_bare_file_name(tmp_path: Path, monkeypatch) -> None:
    run = _run_with_metrics(tmp_path)
    monkeypatch.chdir(run)
    result = _export(["network-snapshot-000001.safetensors", "--out", str(tmp_path / "hub")])
    assert result.exit_code == 0, result.output
    card = (tmp_path / "hub" / "README.md").read_text()
    assert "dfid2k 111" in card and "`seed`: `5`" in card
    assert "dfid2k 222" not in card  # another snapshot's number is not this model's


def test_export_of_a_hub_folder_or_hub_id_keeps_its_record(tmp_path: Path, monkeypatch) -> None:
    run = _run_with_metrics(tmp_path)
    first, second = tmp_path / "hub1", tmp_path / "hub2"
    assert (
        _export([str(run / "network-snapshot-000001.safetensors"), "--out", str(first)]).exit_code
        == 0
    )
    assert _export([str(first), "--out", str(second)]).exit_code == 0
    one, two = (json.loads((f / "config.json").read_text()) for f in (first, second))
    assert two["training"] == one["training"] and two["training"]["train"]["seed"] == 5
    assert two["metrics"] == one["metrics"] and one["metrics"][0]["results"] == {"dfid2k": 111.0}
    assert "dfid2k 111" in (second / "README.md").read_text()
    # the same folder fetched from the Hub (an offline cache with its files)
    pytest.importorskip("huggingface_hub", reason="the hub extra is not installed")
    import huggingface_hub.constants as hub_constants

    commit = "0" * 40
    repo = tmp_path / "cache" / "models--someone--tiny-gan"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(first, repo / "snapshots" / commit)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    third = tmp_path / "hub3"
    result = _export(["someone/tiny-gan", "--out", str(third)])
    assert result.exit_code == 0, result.output
    assert json.loads((third / "config.json").read_text())["training"] == one["training"]


def test_card_without_this_snapshots_metrics_says_so(tmp_path: Path) -> None:
    run = _run_with_metrics(tmp_path)
    (run / "metric-dfid2k.jsonl").write_text(
        (run / "metric-dfid2k.jsonl").read_text().splitlines()[1] + "\n"
    )  # only the 2-kimg record is left
    assert (
        _export(
            [str(run / "network-snapshot-000001.safetensors"), "--out", str(tmp_path / "h")]
        ).exit_code
        == 0
    )
    card = (tmp_path / "h" / "README.md").read_text()
    assert "222" not in card and "No metric was recorded for this snapshot" in card
    assert json.loads((tmp_path / "h" / "config.json").read_text())["metrics"] == []


def test_no_command_writes_over_a_file_it_reads_through_a_folder(tmp_path: Path) -> None:
    run = _run_with_metrics(tmp_path)
    hub = tmp_path / "hub"
    assert (
        _export([str(run / "network-snapshot-000001.safetensors"), "--out", str(hub)]).exit_code
        == 0
    )
    weights = (hub / "model.safetensors").read_bytes()
    for args in (
        ["generate", str(hub), "--n", "4", "--grid", str(hub / "model.safetensors"), "--force"],
        ["export", str(hub), "--out", str(hub / "model.safetensors"), "--force"],
    ):
        result = cli(args)
        assert result.exit_code != 0 and "input" in result.output, result.output
    # hub export into the run folder itself would replace the run's config.json
    result = _export(
        [str(run / "network-snapshot-000001.safetensors"), "--out", str(run), "--force"]
    )
    assert result.exit_code != 0 and "reads" in result.output, result.output
    result = _export([str(hub), "--out", str(hub), "--force"])
    assert result.exit_code != 0 and "reads" in result.output, result.output
    assert (hub / "model.safetensors").read_bytes() == weights
    assert json.loads((run / "config.json").read_text())["train"]["seed"] == 5


def test_card_of_a_conditional_model_names_labels(tmp_path: Path) -> None:
    run = _run_with_metrics(tmp_path, g_num_classes=3)
    hub = tmp_path / "hub"
    assert (
        _export([str(run / "network-snapshot-000001.safetensors"), "--out", str(hub)]).exit_code
        == 0
    )
    card = (hub / "README.md").read_text()
    front = card.split("---")[1]
    assert "class-conditional" in front and "unconditional-image-generation" not in front
    assert "--class a" in card
    snippet = card.split("```python\n")[1].split("```")[0].replace("OWNER/NAME", str(hub))
    scope: dict = {}
    exec(snippet, scope)  # the card's own example runs on this model
    assert scope["images"].shape == (16, 3, 32, 32)


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf", ".xyz"])
def test_plot_writes_the_format_its_extension_names(
    tmp_path: Path, tiny_run: Path, suffix: str
) -> None:
    out = tmp_path / f"curves{suffix}"
    result = cli(["plot", str(tiny_run), "--out", str(out)])
    if suffix == ".xyz":
        assert result.exit_code != 0 and "cannot write a figure as .xyz" in result.output
        assert not out.exists()
        return
    assert result.exit_code == 0, result.output
    magic = {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF"}[suffix]
    assert out.read_bytes().startswith(magic)


def test_plot_of_a_run_without_ticks_is_refused(tmp_path: Path) -> None:
    (tmp_path / "stats.jsonl").write_text("")
    result = cli(["plot", str(tmp_path)])
    assert result.exit_code != 0 and "no tick to draw yet" in result.output
    assert not (tmp_path / "curves.png").exists()


@pytest.mark.parametrize("suffix", [".jpg", ".webp", ".png", ".xyz"])
def test_grid_is_written_in_the_format_its_extension_names(
    tmp_path: Path, tiny_run: Path, suffix: str
) -> None:
    snap = sorted(tiny_run.glob("network-snapshot-*.safetensors"))[-1]
    grid = tmp_path / f"grid{suffix}"
    result = cli(["generate", str(snap), "--n", "4", "--grid", str(grid)])
    if suffix == ".xyz":
        assert result.exit_code == 2 and "cannot write an image as .xyz" in result.output
        assert not grid.exists()
        return
    assert result.exit_code == 0, result.output
    from PIL import Image

    expected = {".jpg": "JPEG", ".webp": "WEBP", ".png": "PNG"}[suffix]
    with Image.open(grid) as image:
        assert image.format == expected


def test_a_snapshot_naming_an_unknown_preset_is_refused(tmp_path: Path, tiny_run: Path) -> None:
    from bad_input_kit import _edit_config, _rewrite_header

    snap = sorted(tiny_run.glob("network-snapshot-*.safetensors"))[-1]
    bad = tmp_path / "renamed.safetensors"
    _rewrite_header(snap, bad, _edit_config(lambda c: c.update(name="transgan_xxl")))
    result = cli(["generate", str(bad), "--n", "1", "--grid", str(tmp_path / "g.png")])
    assert result.exit_code == 1 and "names the preset 'transgan_xxl'" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "g.png").exists()


def test_an_option_that_replaces_a_recipe_setting_is_said(tmp_path: Path) -> None:
    result = cli(["train", "--recipe", "digits-pure", "--model", "transgan_tiny", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "note: --model transgan_tiny replaces recipe digits-pure's" in result.output
    assert "chosen for its model" in result.output
    quiet = cli(["train", "--recipe", "digits-pure", "--dry-run"])
    assert "replaces" not in quiet.output


@pytest.mark.parametrize("text", ["", ",", " , "])
def test_metrics_that_name_nothing_are_refused(tmp_path: Path, tiny_run: Path, text: str) -> None:
    snap = sorted(tiny_run.glob("network-snapshot-*.safetensors"))[-1]
    result = cli(["eval", str(snap), "--metrics", text])
    assert result.exit_code != 0 and "names no metric" in result.output
    train = cli(["train", "--model", "transgan_tiny", "--metrics", text, "--dry-run"])
    if text:  # "" is how to drop a recipe's metrics: allowed in train
        assert train.exit_code == 2 and "names no metric" in train.output
    else:
        assert train.exit_code == 0, train.output


def test_digits_metrics_on_other_data_are_warned_about(tmp_path: Path) -> None:
    from transgan.evaluation.metrics import digits_metrics_note, parse_metrics

    specs = parse_metrics("dfid2k,fid1k")
    assert digits_metrics_note(specs, "digits") is None
    note = digits_metrics_note(specs, str(tmp_path))
    assert note is not None and "dfid2k scores against the held-out" in note
    assert digits_metrics_note(parse_metrics("fid1k"), str(tmp_path)) is None
    result = cli(["train", "--data", str(tmp_path), "--metrics", "dcov2k", "--dry-run"])
    assert result.exit_code == 0 and "warning: dcov2k scores against" in result.output


def test_serve_on_a_port_in_use_says_only_so(tiny_run: Path) -> None:
    import socket

    pytest.importorskip("gradio", reason="the serve extra is not installed")
    snap = sorted(tiny_run.glob("network-snapshot-*.safetensors"))[-1]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli(["serve", str(snap), "--port", str(port)])
    assert result.exit_code == 1 and f"cannot serve on 127.0.0.1:{port}" in result.output
    assert "serving" not in result.output
