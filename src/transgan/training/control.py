"""Run control: stop requests from signals, and the clock of training time."""

from __future__ import annotations

import contextlib
import signal
import time
from typing import Any, Protocol

from transgan.data.loader import STOP_SIGNALS
from transgan.training.setup import Counters


class EvaluationTime(Protocol):
    """What the clock reads: seconds spent on metrics so far (``report.TickReporter``)."""

    metrics_seconds: float


class StoppedDuringStartup(Exception):  # noqa: N818 (a stop, not an error)
    """A stop signal arrived before the first training iteration: nothing to save."""

    def __init__(self, signum: int) -> None:
        self.signal_name = signal.Signals(signum).name
        super().__init__(
            f"stopped by {self.signal_name} during start-up, before any training: nothing was "
            "trained and there is nothing to save"
        )


class StopRequest:
    """Turns SIGINT, SIGTERM and SIGUSR1 (SLURM's ``--signal``) into a flag that the loop
    checks between iterations. Data-loader workers ignore these signals
    (``data.loader.ignore_stop_signals``), so a signal sent to the whole process group — what
    schedulers do — stops the main process cleanly before any worker goes away.

    Until ``training_begins`` (start-up: reading data, building networks, timing
    ``--precision auto``), a signal raises ``StoppedDuringStartup`` instead: there is no
    iteration to finish and nothing to save, and the job should end at once, with a word."""

    def __init__(self) -> None:
        self.requested = False
        self.training = False
        self._previous: dict[int, Any] = {}

    def training_begins(self) -> None:
        """From now on a signal sets the flag; the loop saves a state and stops."""
        self.training = True

    def __enter__(self) -> StopRequest:
        for sig in STOP_SIGNALS:
            with contextlib.suppress(ValueError):  # not the main thread
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if not self.training:
            raise StoppedDuringStartup(signum)
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class TrainingClock:
    """Adds wall-clock time to ``counters.train_seconds``, leaving out metric evaluations."""

    def __init__(self, counters: Counters, reporter: EvaluationTime) -> None:
        self.counters, self.reporter = counters, reporter
        self.last, self.last_metrics = time.perf_counter(), reporter.metrics_seconds

    def update(self) -> None:
        now, metrics = time.perf_counter(), self.reporter.metrics_seconds
        self.counters.train_seconds += (now - self.last) - (metrics - self.last_metrics)
        self.last, self.last_metrics = now, metrics
