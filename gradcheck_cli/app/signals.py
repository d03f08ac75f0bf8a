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
def held() -> Iterator[None]:
    """SIGINT and SIGTERM are held back (blocked, still pending) within, and act once it ends: a step
    that must not be cut in two (a message read and kept) is done whole. Unix, main thread; elsewhere
    nothing changes."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
