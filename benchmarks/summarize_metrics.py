"""Medians over seeds of each run's last evaluation.

    python benchmarks/summarize_metrics.py DIR

Runs are folders named NAME-sSEED with metric-*.jsonl files (quality_sweep.sh,
conditional_ablation.sh)."""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def main(root: Path) -> None:
    table: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    kimgs: dict[str, set[int]] = defaultdict(set)
    for run in sorted(p for p in root.iterdir() if p.is_dir() and "-s" in p.name):
        name = run.name.rsplit("-s", 1)[0]
        for file in run.glob("metric-*.jsonl"):
            lines = file.read_text().splitlines()
            if not lines:
                continue
            last = json.loads(lines[-1])
            kimgs[name].add(round(last["kimg"]))
            for key, value in last["results"].items():
                table[name][key].append(value)
    for name, metrics in table.items():
        cells = []
        for key, values in sorted(metrics.items()):
            shown = ", ".join(f"{v:.3g}" for v in values)
            cells.append(f"{key} median {statistics.median(values):.3g} ({shown})")
        print(f"{name} @ {sorted(kimgs[name])} kimg: " + "; ".join(cells))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
