"""Class-conditional TransGAN (--cond): labels in, class-dependent G, projection D."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import tiny_train_config
from PIL import Image

import transgan
from transgan.cli.main import main
from transgan.data import DataError
from transgan.data.labels import build_labeled_dataset, class_shares
from transgan.snapshot import load_generator, read_snapshot_extra
from transgan.training.loop import train


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory) -> Path:
    return train(
        tiny_train_config(cond=True, kimg=0.064, tick_kimg=0.064),
        out=tmp_path_factory.mktemp("runs"),
    )


def _snapshot(run_dir: Path) -> Path:
    return sorted(run_dir.glob("network-snapshot-*.safetensors"))[-1]


def test_snapshot_records_classes_and_the_class_changes_the_image(cond_run):
    snap = _snapshot(cond_run)
    extra = read_snapshot_extra(snap)
    assert extra["class_names"] == [str(i) for i in range(10)]
    assert sum(extra["class_shares"]) == pytest.approx(1.0)
    g, config = load_generator(snap)
    assert config.generator.num_classes == config.discriminator.num_classes == 10
    z = torch.randn(4, config.generator.latent_dim)
    with torch.no_grad():
        a, b = g(z, torch.zeros(4, dtype=torch.long)), g(z, torch.full((4,), 7))
    assert (a - b).abs().max() > 1e-4
    with pytest.raises(ValueError, match="class-conditional"):
        g(z)
    assert json.loads((cond_run / "config.json").read_text())["classes"][3] == "3"


@pytest.mark.parametrize("mode", ["adanorm", "latent"])
@pytest.mark.parametrize("preset", ["transgan_tiny", "transgan2_tiny"])
def test_generator_modes_depend_on_the_class(mode, preset):
    torch.manual_seed(0)
    gan = transgan.create_model(preset, g_num_classes=3, d_num_classes=3, g_cond=mode)
    g = gan.generator
    if mode == "adanorm":  # zero at init (G starts unconditional); give the maps weights
        for block in (b for stage in g.stages for b in stage):
            torch.nn.init.normal_(block.modulation.proj.weight, std=0.1)
    z = torch.randn(2, g.config.latent_dim)
    with torch.no_grad():
        assert not torch.allclose(g(z, torch.tensor([0, 0])), g(z, torch.tensor([1, 2])))


@pytest.mark.parametrize("preset", ["transgan_tiny", "transgan2_tiny"])
def test_projection_term_reaches_the_logit(preset):
    torch.manual_seed(0)
    d = transgan.create_model(preset, g_num_classes=3, d_num_classes=3).discriminator.eval()
    x = torch.randn(2, 3, d.config.img_size, d.config.img_size)
    y = torch.tensor([0, 2])
    feats = {}
    d.norm.register_forward_hook(lambda m, i, o: feats.setdefault("h", o))
    logit = d(x, y)
    h = feats["h"] if feats["h"].dim() == 2 else feats["h"][:, 0]
    expected = d.head(h).squeeze(-1) + (d.class_embed(y) * h).sum(-1)
    assert torch.allclose(logit, expected, atol=1e-6)
    assert not torch.allclose(d(x, torch.tensor([1, 1])), logit)
    logit.sum().backward()
    grad = d.class_embed.weight.grad
    assert grad[0].abs().sum() > 0 and grad[2].abs().sum() > 0 and grad[1].abs().sum() == 0


def test_unlabelled_data_is_refused(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(4):
        Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(flat / f"{i}.png")
    with pytest.raises(DataError, match="directly in it"):
        build_labeled_dataset(str(flat), 8)
    with pytest.raises(DataError, match="celeba has none"):
        build_labeled_dataset("celeba", 8)
    runner = CliRunner()
    args = ["train", "--model", "transgan_tiny", "--data", str(flat), "--cond", "--kimg", "0.01"]
    result = runner.invoke(main, [*args, "--out", str(tmp_path / "runs"), "--workers", "0"])
    assert result.exit_code != 0 and "subfolder" in result.output
    args = ["train", "--model", "transgan_tiny", "--set", "d_arch=conv", "--cond", "--dry-run"]
    result = runner.invoke(main, args)
    assert result.exit_code != 0 and "--cond needs the TransGAN generator" in result.output
    result = runner.invoke(main, ["train", "--model", "vitgan_tiny", "--cond", "--dry-run"])
    assert result.exit_code != 0 and "ViTGAN generator are unconditional" in result.output


def test_a_folder_with_class_subfolders_gives_sorted_classes(tmp_path):
    for name, count in (("cat", 3), ("ant", 1)):
        (tmp_path / name).mkdir()
        for i in range(count):
            Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(tmp_path / name / f"{i}.png")
    data = build_labeled_dataset(str(tmp_path), 8)
    assert data.class_names == ["ant", "cat"]
    assert sorted(data.labels.tolist()) == [0, 1, 1, 1]
    assert class_shares(data.labels, 2).tolist() == [0.25, 0.75]
    image, label = data[0]
    assert image.shape == (3, 8, 8) and label in (0, 1)


def test_generate_by_class_and_one_row_per_class(cond_run, tmp_path):
    snap = str(_snapshot(cond_run))
    runner = CliRunner()
    result = runner.invoke(main, ["generate", snap, "--n", "20", "--grid", str(tmp_path / "g.png")])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "g.png").size == (2 * 17 + 1, 10 * 17 + 1)  # 10 rows of 2
    args = ["generate", snap, "--class", "3", "--n", "2", "--out-dir", str(tmp_path / "c")]
    assert runner.invoke(main, args).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "c").iterdir())[0].endswith("-class3.png")
    result = runner.invoke(main, ["generate", snap, "--class", "cat", "--grid", "x.png"])
    assert result.exit_code != 0 and "0=0, 1=1" in result.output


def test_eval_conditional_accuracy_runs_on_a_conditional_model(cond_run, digits_cache):
    args = ["eval", str(_snapshot(cond_run)), "--data", "digits", "--metrics", "dacc100"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    accuracy = json.loads(result.output[result.output.index("{") :])["metrics"]["dacc100"]
    assert 0.0 <= accuracy <= 1.0


def test_eval_per_class_scores_each_class_against_its_own_images(
    cond_run, random_inception_weights, tmp_path
):
    """Three classes of ten (--classes; every class is the default, tested below): eleven
    FIDs through Inception at 299 px cost the suite 45 s on two cores."""
    args = ["eval", str(_snapshot(cond_run)), "--data", "digits", "--metrics", "fid8"]
    args += ["--per-class", "--max-real", "8", "--inception-weights", str(random_inception_weights)]
    args += ["--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "r.json")]
    result = CliRunner().invoke(main, [*args, "--classes", "8, 0,3,8"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    per_class = report["per_class"]
    assert list(per_class) == ["0", "3", "8"]
    values = [per_class[c]["fid8"] for c in per_class]
    assert all(v > 0 for v in values) and len(set(values)) == 3  # three different references
    assert report["metrics"]["fid8"] not in values  # nor the whole set's
    assert len(list((tmp_path / "cache").iterdir())) >= 4  # all + one cache per class
    result = CliRunner().invoke(main, [*args[:5], "dacc8", "--per-class"])
    assert result.exit_code != 0 and "fid and kid" in result.output


def test_eval_classes_names_every_class_by_default_and_refuses_others(cond_run, tmp_path):
    from transgan.cli.evaluate import chosen_classes
    from transgan.evaluation.metrics import EvalError

    digits = [str(c) for c in range(10)]
    assert chosen_classes(None, digits) == list(range(10))
    assert chosen_classes(" 8,3,8", digits) == [3, 8]
    assert chosen_classes("dog, 0", ["cat", "dog"]) == [0, 1]  # a name or an index
    for text in ("10", "-1", "a", "3,,8", ""):
        with pytest.raises(EvalError, match=r"not a class of this model.* 9=9$"):
            chosen_classes(text, digits)
    args = ["eval", str(_snapshot(cond_run)), "--data", "digits", "--metrics", "fid8"]
    result = CliRunner().invoke(main, [*args, "--classes", "3"])  # without --per-class
    assert result.exit_code == 2 and "add --per-class" in result.output
    out = tmp_path / "r.json"
    result = CliRunner().invoke(main, [*args, "--per-class", "--classes", "12", "--out", str(out)])
    assert result.exit_code == 1 and "'12' is not a class of this model" in result.output
    assert not out.exists()


def test_a_conditional_run_resumes_with_its_class_count(cond_run, tmp_path):
    """config.json keeps the train settings as asked (no class names) and the names under
    "classes": --resume and --run-dir must see the networks the run built, ten classes, as
    unchanged, not as a preset that changed since."""
    import shutil

    from transgan.cli.train_config import check_same_run
    from transgan.training.config import TrainConfig

    run = tmp_path / "run"
    shutil.copytree(cond_run, run)
    whole = json.loads((run / "config.json").read_text())
    assert whole["train"]["class_names"] == [] and len(whole["classes"]) == 10
    check_same_run(run, TrainConfig.from_dict(whole["train"]))
    result = CliRunner().invoke(main, ["train", "--resume", str(run), "--kimg", "0.128"])
    assert result.exit_code == 0, result.output
    assert "has changed" not in result.output
    assert json.loads((run / "config.json").read_text())["model"]["generator"]["num_classes"] == 10
