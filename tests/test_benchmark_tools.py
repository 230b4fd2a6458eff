"""The option parsing of the benchmark scripts (their runs are measured, not tested)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

QUALITY = Path(__file__).parent.parent / "benchmarks" / "quality.py"


def _quality_module():
    spec = importlib.util.spec_from_file_location("quality_benchmark", QUALITY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_recipe_variant_gets_its_own_run_name_and_options() -> None:
    parse = _quality_module().parse_entry
    assert parse("mnist-pure") == ("mnist-pure", "mnist-pure", [])
    assert parse("mnist-pure@old --set d_mbstd_per_feature=False") == (
        "mnist-pure",
        "mnist-pure-old",
        ["--set", "d_mbstd_per_feature=False"],
    )


def test_a_variant_without_a_label_is_refused() -> None:
    with pytest.raises(SystemExit, match="needs a label"):
        _quality_module().parse_entry("mnist-pure --set d_mbstd_per_feature=False")
