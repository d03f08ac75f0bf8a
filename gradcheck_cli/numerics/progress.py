"""Progress reporting from the numerical core, without any rendering.

The core calls a :data:`ProgressCallback` with ``(task, done, total)`` as batches complete; the CLI passes
one that draws a progress bar (see :mod:`gradcheck_cli.render.progress_bar`), the library passes none. The core
never imports rich.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[str, int, int], None]


def no_progress(task: str, done: int, total: int) -> None:
    """The callback that reports nothing."""
