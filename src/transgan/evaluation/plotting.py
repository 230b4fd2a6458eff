"""`curves.png`: a run's losses, D outputs, penalty, speed and metrics against kimg."""

from __future__ import annotations

import re
from pathlib import Path

from transgan.fileio import atomic_path, read_jsonl

PANELS = [
    ("losses", ["d_loss", "g_loss", "mtct_loss"]),
    ("D outputs (mean logit)", ["d_real", "d_fake"]),
    ("gradient penalty", ["penalty"]),
    ("throughput (images/s)", ["images_per_s"]),
]


def _num(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class PlotError(ValueError):
    """Nothing to draw, or a figure format that cannot be written (the message says why)."""


# Figure formats by file extension (what matplotlib's Agg canvas writes).
FIGURE_FORMATS = {".png", ".pdf", ".svg", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".eps"}


def usable(path: Path, notes: list[str], needs: str | None = None) -> list[dict]:
    """The records of ``path`` with a numeric ``kimg`` (and a dict ``needs``); the lines
    skipped (not JSON, or without those) are counted in one note that names the file."""
    lines = sum(1 for line in path.read_text().splitlines() if line.strip())
    records = read_jsonl(path)  # the lines that parse
    kept = [
        r
        for r in records
        if isinstance(r, dict)
        and _num(r.get("kimg"))
        and (needs is None or isinstance(r.get(needs), dict))
    ]
    if len(kept) < lines:
        what = "a numeric 'kimg'" + (f" and a '{needs}' object" if needs else "")
        notes.append(
            f"{path}: skipped {lines - len(kept)} of {lines} lines (not JSON, or without {what})"
        )
    return kept


def plot_run(run_dir: Path, out_file: Path | None = None, notes: list[str] | None = None) -> Path:
    """Draw ``run_dir``'s curves; returns the path of the figure (PNG, or the format that
    ``out_file``'s extension names). Lines that cannot be drawn are skipped and reported in
    ``notes``; a run without a single tick is refused (``PlotError``)."""
    notes = notes if notes is not None else []
    out = out_file or run_dir / "curves.png"
    if out.suffix.lower() not in FIGURE_FORMATS:
        raise PlotError(
            f"--out {out}: cannot write a figure as {out.suffix or 'a file without an extension'};"
            f" use one of {', '.join(sorted(FIGURE_FORMATS))}"
        )
    stats_file = run_dir / "stats.jsonl"
    if not stats_file.exists():
        raise FileNotFoundError(f"{stats_file} does not exist; is {run_dir} a run directory?")
    stats = usable(stats_file, notes)
    if not stats:
        raise PlotError(
            f"{run_dir} has no tick to draw yet ({stats_file} holds no usable record); plot "
            "it once the run has written its first tick"
        )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric_files = sorted(run_dir.glob("metric-*.jsonl"))
    panels = len(PANELS) + len(metric_files)
    cols = 2
    rows = (panels + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(11, 3.2 * rows), squeeze=False)
    kimg = [r["kimg"] for r in stats]
    for ax, (title, keys) in zip(axes.flat, PANELS, strict=False):
        for key in keys:
            points = [(k, r[key]) for k, r in zip(kimg, stats, strict=True) if _num(r.get(key))]
            if points:
                ax.plot(
                    *zip(*points, strict=True), label=key, marker="." if len(points) < 30 else None
                )
        ax.set_title(title)
        ax.set_xlabel("kimg")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    for ax, path in zip(list(axes.flat)[len(PANELS) :], metric_files, strict=False):
        records = usable(path, notes, "results")
        # per-digit shares (dcov's _share0 … _share9) would crowd the panel: their extremes
        # (_share_min, _share_max) are drawn
        names = sorted(
            {
                k
                for r in records
                for k in r["results"]
                if not k.endswith("_std") and not re.search(r"_share\d$", k)
            }
        )
        for name in names:
            pts = [(r["kimg"], r["results"][name]) for r in records if _num(r["results"].get(name))]
            ax.plot(*zip(*pts, strict=True), marker="o", label=name)
        ax.set_title(path.stem.removeprefix("metric-"))
        ax.set_xlabel("kimg")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    for ax in list(axes.flat)[panels:]:
        ax.axis("off")
    fig.suptitle(run_dir.name)
    fig.tight_layout()
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format=out.suffix.lower().lstrip("."), dpi=fig.dpi)
    finally:
        plt.close(fig)
    return out
