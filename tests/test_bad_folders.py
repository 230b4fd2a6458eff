"""Messy folders of images: convertible ones are converted, broken ones skipped and counted."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_train_config
from PIL import Image

from transgan.data import DataError, build_dataset
from transgan.fileio import read_jsonl
from transgan.training.loop import train


def _png_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


def make_corpus(folder: Path) -> dict[str, int]:
    """Write every kind of good and bad file; return how many of each to expect."""
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8))
    sub = folder / "nested" / "deeper"
    sub.mkdir(parents=True)
    good = {
        "rgb.png": _png_bytes(rgb),
        "gray.png": _png_bytes(rgb.convert("L")),
        "rgba.png": _png_bytes(rgb.convert("RGBA")),
        "palette.png": _png_bytes(rgb.convert("P")),
        "cmyk.jpg": _png_bytes(rgb.convert("CMYK"), "JPEG"),
        "photo.jpg": _png_bytes(rgb, "JPEG"),
        "tiny.png": _png_bytes(rgb.resize((6, 5))),
    }
    sixteen = Image.fromarray((rng.integers(0, 65535, (20, 20))).astype(np.uint16))
    good["deep16.png"] = _png_bytes(sixteen)
    transparent = rgb.convert("P")
    transparent.info["transparency"] = 0
    good["transparent.png"] = _png_bytes(transparent)
    for name, data in good.items():
        (sub if name.startswith("deep") else folder / name).parent.mkdir(exist_ok=True)
        target = sub / name if name.startswith("deep") else folder / name
        target.write_bytes(data)
    full = _png_bytes(rgb, "JPEG")
    bad = {
        "empty.png": b"",
        "garbage.png": b"this is not an image at all" * 10,
        "truncated.jpg": full[: len(full) // 2],
        "notes.txt": b"hello",
    }
    for name, data in bad.items():
        (folder / name).write_bytes(data)
    (folder / ".hidden.png").write_bytes(b"")  # hidden files are not looked at
    return {"usable": len(good), "broken": len(bad)}


def test_messy_folder_converts_good_images_and_counts_broken(tmp_path: Path) -> None:
    expected = make_corpus(tmp_path)
    ds = build_dataset(str(tmp_path), 16, max_broken_fraction=0.5)
    summary = ds.scan.summary()
    assert summary["images_usable"] == expected["usable"]
    assert summary["images_broken"] == expected["broken"]
    assert summary["images_upscaled"] == 1  # tiny.png (6x5) is below 16 px
    for i in range(len(ds)):
        x = ds[i]
        assert x.shape == (3, 16, 16) and x.min() >= -1 and x.max() <= 1
    sixteen = ds[[p.name for p in ds.files].index("deep16.png")]
    assert sixteen.std() > 0.2  # rescaled from 16 bits, not clipped to white


def test_folder_with_nothing_usable_stops_and_names_examples(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "b.jpg").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"no usable image .*a\.png"):
        build_dataset(str(tmp_path), 16)


def test_folder_over_the_broken_threshold_stops(tmp_path: Path) -> None:
    make_corpus(tmp_path)  # 4 of 13 broken: above 10 %
    from transgan.data.folder import ImageFolder

    with pytest.raises(DataError, match="--max-broken-fraction"):
        ImageFolder(tmp_path, 16, max_broken_fraction=0.1)


def test_training_on_a_messy_folder_reports_the_counts(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    make_corpus(folder)
    for i in range(8):  # enough good images to pass the 10 % threshold
        img = Image.fromarray(np.full((20, 20, 3), i * 30, dtype=np.uint8))
        img.save(folder / f"extra{i}.png")
    cfg = tiny_train_config(
        data=str(folder),
        kimg=0.016,
        tick_kimg=0.016,
        batch=4,
        g_batch=4,
        n_critic=1,
        max_broken_fraction=0.3,
    )
    run_dir = train(cfg, out=tmp_path / "runs")
    (summary,) = read_jsonl(run_dir / "data.jsonl")
    assert summary["images_broken"] == 4 and summary["images_usable"] == 17
