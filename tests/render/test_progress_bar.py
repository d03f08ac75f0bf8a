"""The progress bar: drawn only when enabled and after a delay."""

from __future__ import annotations

import io

from gradcheck_cli.render.progress_bar import ProgressBar


def test_progress_bar_draws_only_when_enabled_and_after_the_delay() -> None:
    stream = io.StringIO()
    assert ProgressBar(stream=stream).enabled is False  # not a terminal
    with ProgressBar(stream=stream, enabled=False, delay=0) as quiet:
        quiet("finite differences", 1, 10)
        assert quiet.progress is None
    with ProgressBar(stream=stream, enabled=True, delay=3600) as waiting:
        waiting("finite differences", 1, 10)
        assert waiting.progress is None
    with ProgressBar(stream=stream, enabled=True, delay=0) as bar:
        bar("finite differences", 5, 10)
        assert bar.progress is not None
        (task,) = bar.progress.tasks
        assert (task.completed, task.total) == (5, 10)
    assert bar.progress is None
