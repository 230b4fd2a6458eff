"""`curves.png`: a run's losses, D outputs, penalty, speed and metrics against kimg."""

from __future__ import annotations

import warnings
from pathlib import Path

from transgan.fileio import read_jsonl
from transgan.images import save_png

PANELS = [
    ("losses", ["d_loss", "g_loss", "mtct_loss"]),
    ("D outputs (mean logit)", ["d_real", "d_fake"]),
    ("gradient penalty", ["penalty"]),
    ("throughput (images/s)", ["images_per_s"]),
]


def _num(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def usable(records: list, path: Path, needs: str | None = None) -> list[dict]:
    """The records with a numeric ``kimg`` (and a dict ``needs``); the others are skipped
    with one warning that names the file."""
    kept = [
        r
        for r in records
        if isinstance(r, dict)
        and _num(r.get("kimg"))
        and (needs is None or isinstance(r.get(needs), dict))
    ]
    if len(kept) < len(records):
        what = "a numeric 'kimg'" + (f" and a '{needs}' object" if needs else "")
        warnings.warn(
            f"{path}: skipped {len(records) - len(kept)} of {len(records)} lines without {what}",
            stacklevel=2,
        )
    return kept


def plot_run(run_dir: Path, out_file: Path | None = None) -> Path:
    """Draw ``run_dir``'s curves; returns the path of the PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    stats_file = run_dir / "stats.jsonl"
    if not stats_file.exists():
        raise FileNotFoundError(f"{stats_file} does not exist; is {run_dir} a run directory?")
    stats = usable(read_jsonl(stats_file), stats_file)
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
        records = usable(read_jsonl(path), path, "results")
        names = sorted({k for r in records for k in r["results"] if not k.endswith("_std")})
        for name in names:
            pts = [(r["kimg"], r["results"][name]) for r in records if _num(r["results"].get(name))]
            ax.plot(*zip(*pts, strict=True), marker="o", label=name)
        ax.set_title(path.stem.removeprefix("metric-"))
        ax.set_xlabel("kimg")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[panels:]:
        ax.axis("off")
    fig.suptitle(run_dir.name)
    fig.tight_layout()
    out = out_file or run_dir / "curves.png"
    fig.canvas.draw()
    image = Image.frombuffer("RGBA", fig.canvas.get_width_height(), fig.canvas.buffer_rgba())
    plt.close(fig)
    save_png(image.convert("RGB"), out)
    return out
