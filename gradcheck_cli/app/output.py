"""Where a report goes: stdout kept for the report alone, ``--output`` checked before any work, a closed
pipe (``gradcheck run ... | head -1``) taken quietly.

While the user's code runs, file descriptor 1 points at stderr (:func:`stdout_to_stderr`): what it
prints, by ``print``, ``os.write(1, ...)`` or a C extension, cannot corrupt a JSON or XML report on stdout,
which is written once the checks are done, to the real stdout.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator

from gradcheck_cli.errors import UsageError


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """File descriptor 1 (and ``sys.stdout``) point at stderr within; the worker processes started in
    here inherit it. Where fd 1 cannot be duplicated (closed), only ``sys.stdout`` is redirected."""
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        saved = None
    try:
        if saved is not None:
            os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved is not None:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 1)
            os.close(saved)


def check_writable(path: str | None, option: str = "--output") -> None:
    """Raise :class:`UsageError` now, before any check runs, when ``path`` cannot be written: its directory
    is missing or not writable, or it is a directory."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"cannot write {option} {path!r}: it is a directory; give a file name")
    if not os.path.isdir(folder):
        raise UsageError(
            f"cannot write {option} {path!r}: the directory {os.path.dirname(path) or folder!r} does not "
            "exist; create it first or give another path"
        )
    if not os.access(folder, os.W_OK):
        raise UsageError(f"cannot write {option} {path!r}: the directory is not writable")


def write_file(path: str, text: str, option: str = "--output") -> None:
    """Write ``text`` to ``path``; an error is a :class:`UsageError` naming the option."""
    try:
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {option} {path!r}: {exc.strerror or exc}") from None


def closed_pipe() -> None:
    """stdout's reader has gone (``| head -1``): point fd 1 at /dev/null, so that the rest of the output
    and the flush at exit are dropped quietly, and the exit code stays the verdict's."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):
        os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def to_stdout(write: Callable[[], None]) -> bool:
    """Run ``write`` (which writes to stdout) and flush; False, quietly, when the reader has gone."""
    try:
        write()
        sys.stdout.flush()
    except BrokenPipeError:
        closed_pipe()
        return False
    return True
