"""Calling into the user's code: run it, and turn what it raises into a :class:`UserFunctionError`.

The traceback kept is the user's own: frames of gradcheck-cli and of the import machinery are cut away,
so that a user sees where *their* code failed and never a traceback of ours.
"""

from __future__ import annotations

import inspect
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gradcheck_cli.errors import GradcheckError, InputError, UserFunctionError

_OUR_DIR = str(Path(__file__).resolve().parent)


def _is_ours(filename: str) -> bool:
    return filename.startswith(_OUR_DIR) or filename.startswith("<frozen ")


def _is_torch(filename: str) -> bool:
    torch = sys.modules.get("torch")  # never imported here: only where the user's code already did
    return torch is not None and filename.startswith(str(Path(torch.__file__ or "").parent))


def user_traceback(exc: BaseException) -> str:
    """Format ``exc`` with only the frames from the first frame of user code onward (torch's plumbing
    before it, e.g. ``Module.__call__`` on the way to a model's ``forward``, is cut too)."""
    frames = traceback.extract_tb(exc.__traceback__)
    start = next(
        (
            i
            for i, frame in enumerate(frames)
            if not _is_ours(frame.filename) and not _is_torch(frame.filename)
        ),
        None,
    )
    if start is None:  # no frame of the user's own: keep torch's
        start = next((i for i, frame in enumerate(frames) if not _is_ours(frame.filename)), len(frames))
    lines = ["Traceback (most recent call last):\n"]
    lines += traceback.format_list(frames[start:])
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


def describe(exc: BaseException) -> str:
    """``ValueError: message`` on one line."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def call_user(func: Callable[..., Any], *args: Any, what: str = "the function") -> Any:
    """Call ``func(*args)``; if it raises, raise a :class:`UserFunctionError` carrying the user's traceback."""
    try:
        return func(*args)
    except GradcheckError:  # ours (the call's output structure, say): already one line, no user traceback
        raise
    except (Exception, SystemExit) as exc:  # sys.exit() in user code must not end our process
        raise UserFunctionError(f"{what} raised {describe(exc)}", user_traceback(exc)) from exc


def describe_signature(func: Callable[..., Any]) -> str:
    name = getattr(func, "__name__", type(func).__name__)
    try:
        return f"{name}{inspect.signature(func)}"
    except (TypeError, ValueError):
        return f"{name}(...)"


def argument_names(func: Callable[..., Any], count: int) -> tuple[str, ...]:
    """The names of the first ``count`` positional parameters (``x0``, ``x1``... where unknown)."""
    try:
        params = [
            p.name
            for p in inspect.signature(func).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    return tuple(params[i] if i < len(params) else f"x{i}" for i in range(count))


def check_arity(func: Callable[..., Any], count: int) -> None:
    """Raise :class:`InputError` if ``func`` cannot be called with ``count`` positional arguments."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*range(count))
    except TypeError as exc:
        raise InputError(
            f"{count} argument value(s) given, but {describe_signature(func)} does not accept that: {exc}"
        ) from None
