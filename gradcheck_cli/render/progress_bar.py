"""The CLI's progress bar: a rich bar on stderr for checks that run longer than about a second, on an
interactive terminal only. Implements :data:`gradcheck_cli.numerics.progress.ProgressCallback`; the numerical core
never imports this module (or rich)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any

DELAY_S = 1.0


class ProgressBar:
    """A context manager and a ``(task, done, total)`` callback. Nothing is drawn before ``delay`` seconds
    have passed since the check's first step (its first callback: loading the target and importing torch
    do not count), nor ever when stderr is not a terminal; a check that ends sooner shows no bar."""

    def __init__(self, *, delay: float = DELAY_S, stream: Any = None, enabled: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = (
            enabled if enabled is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        )
        self.delay = delay
        self.started: float | None = None
        self.progress: Any = None
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> ProgressBar:
        self.started = None
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def __call__(self, task: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.started is None:
            self.started = time.monotonic()
        if time.monotonic() - self.started < self.delay:
            return
        if self.progress is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self.progress.start()
        if task not in self.tasks:
            self.tasks[task] = self.progress.add_task(task, total=total)
        self.progress.update(self.tasks[task], completed=done, total=total)
