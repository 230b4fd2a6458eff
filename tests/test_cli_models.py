"""`transgan models` and `transgan generate` from the command line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from transgan.cli.main import main


def test_models_table_lists_every_preset_with_exact_counts() -> None:
    result = CliRunner().invoke(main, ["models"])
    assert result.exit_code == 0, result.output
    assert "133,592,515" in result.output  # XL generator
    assert "12,532,225" in result.output  # CelebA-64 discriminator
    assert "transgan_stl10" in result.output


def test_generate_from_random_preset_writes_grid_and_pngs(tmp_path: Path) -> None:
    grid, out = tmp_path / "grid.png", tmp_path / "imgs"
    args = ["generate", "--preset", "transgan_tiny", "--n", "4", "--grid", str(grid)]
    result = CliRunner().invoke(main, [*args, "--out-dir", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert Image.open(grid).size == (2 * 33 + 1, 2 * 33 + 1)
    assert sorted(p.name for p in out.iterdir())[0] == "seed0000-000000.png"
    assert Image.open(next(out.iterdir())).size == (32, 32)


def test_generate_needs_a_destination() -> None:
    result = CliRunner().invoke(main, ["generate", "--preset", "transgan_tiny"])
    assert result.exit_code != 0
    assert "--grid" in result.output
