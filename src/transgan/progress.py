"""Progress for people: a tqdm bar on a terminal, one readable line per tick otherwise.

Under ``nohup``, a scheduler or ``make demo > log`` stderr is not a terminal; a carriage-return
progress bar would write one endless line there. Long jobs then print a status line per tick
(like stylegan2-ada's) and per-batch bars are switched off.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from tqdm import tqdm

FORCE_ENV = "TRANSGAN_PROGRESS"  # "bar" or "lines": override the terminal check


def interactive() -> bool:
    """True when progress should be a live bar (stderr is a terminal)."""
    forced = os.environ.get(FORCE_ENV, "").lower()
    if forced in ("bar", "lines"):
        return forced == "bar"
    return sys.stderr.isatty()


def bar(iterable: Any = None, **kwargs: Any) -> tqdm:
    """A tqdm bar that is silent when progress goes to a log (see ``interactive``)."""
    kwargs["disable"] = kwargs.get("disable", False) or not interactive()
    return tqdm(iterable, **kwargs)


def duration(seconds: float) -> str:
    """``3725`` -> ``"1h 02m 05s"``."""
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"


def status_line(record: dict[str, Any], total_kimg: float, max_time: float = 0.0) -> str:
    """One line for one tick of ``stats.jsonl``: where the run is and how it is doing."""
    kimg, rate = record["kimg"], record.get("images_per_s") or 0.0
    trained = record.get("train_seconds", 0.0)
    eta = (total_kimg - kimg) * 1000 / rate if rate > 0 else float("inf")
    if max_time > 0:
        eta = min(eta, max(0.0, max_time - trained))
    parts = [
        f"tick {record['tick']:<4d}",
        f"kimg {kimg:<8.1f}",
        f"time {duration(trained):<11s}",
        f"sec/tick {record.get('sec_per_tick', 0.0):<6.1f}",
        f"img/s {rate:<7.1f}",
    ]
    for key, label in (
        ("d_loss", "D"),
        ("g_loss", "G"),
        ("d_real", "D(real)"),
        ("d_fake", "D(fake)"),
    ):
        if key in record:
            parts.append(f"{label} {record[key]:<7.3f}")
    parts.append(f"mem {record.get('peak_mem_mb', 0.0):<7.0f}MB")
    parts.append(f"eta {duration(eta) if eta != float('inf') else '?'}")
    return "  ".join(parts)
