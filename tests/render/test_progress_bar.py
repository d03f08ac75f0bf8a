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


def test_the_delay_starts_at_the_first_callback() -> None:
    with ProgressBar(stream=io.StringIO(), enabled=True, delay=1.0) as bar:
        assert bar.started is None  # entering (loading the target, importing torch) starts no clock
        bar("finite differences", 10, 10)
        assert bar.started is not None and bar.progress is None


def test_each_check_gets_a_fresh_clock() -> None:
    bar = ProgressBar(stream=io.StringIO(), enabled=True, delay=1.0)
    with bar:
        bar("finite differences", 1, 2)
    with bar:
        assert bar.started is None


def test_a_disabled_bar_starts_no_clock() -> None:
    with ProgressBar(stream=io.StringIO(), enabled=False, delay=0) as bar:
        bar("finite differences", 1, 2)
        assert bar.started is None and bar.progress is None
