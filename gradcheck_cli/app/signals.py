"""Signals a CI runner or a terminal sends to stop a run: SIGINT (Ctrl-C) and SIGTERM (a job's timeout or
cancel). Both stop the checks and keep what finished: SIGINT raises :class:`KeyboardInterrupt` (Python's
own handler), SIGTERM raises :class:`Terminated`, a KeyboardInterrupt too, so that one path (the worker
pool's) stops every worker and hands back the finished reports. The exit code is ``128 + signal``: 130 for
SIGINT, 143 for SIGTERM, as a shell reports a process the signal ended.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as on Ctrl-C, then exit 143."""


def exit_code(exc: BaseException) -> int:
    """``128 + signal`` of the signal that interrupted the run: 143 for SIGTERM, else 130 (SIGINT)."""
    return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


def name(exc: BaseException) -> str:
    """The signal's name, for the message on stderr."""
    return "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


@contextmanager
def terminable() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` in here (in the main thread; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


@contextmanager
def deferred() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the end of the block (writing the report of an interrupted run: a
    second signal must not cut it short), then act as they would have."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    handlers = {
        signum: signal.signal(signum, lambda number, _: caught.append(number))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        for signum in caught[:1]:
            signal.raise_signal(signum)
