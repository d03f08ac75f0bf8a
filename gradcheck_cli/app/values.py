"""Parsing one argument's values from text (``--x 1,2,3``, ``--x [[1,2],[3,4]]``, ``--x 0.5``).

Text is parsed with :func:`json.loads` or :func:`ast.literal_eval`, never evaluated. The result is a float64
numpy array (complex128 where a value is complex, ``1+2j``); anything that is not a finite number in a
rectangular nesting is rejected with an :class:`InputError` that says what was wrong and what is expected.
"""

from __future__ import annotations

import ast
import cmath
import json
from typing import Any

import numpy as np

from gradcheck_cli.errors import InputError

FORMS = "a number (0.5, or complex: 1+2j), a comma list (1,2,3) or a nested bracketed list ([[1,2],[3,4]])"


def _literal(source: str, text: str) -> Any:
    """Parse ``source`` (``text`` as typed, maybe bracketed); errors quote ``text``."""
    try:
        return json.loads(source)
    except ValueError:
        pass
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise InputError(f"cannot parse {text!r}: expected {FORMS}") from None


def _check_numbers(value: Any, text: str, where: str = "") -> Any:
    """Return ``value`` as nested lists of floats, or raise with the path of the offending item."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise InputError(f"empty list{where or ''} in {text!r}: expected at least one number")
        return [_check_numbers(item, text, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, bool) or not isinstance(value, (int, float, complex)):
        raise InputError(
            f"{value!r}{' at ' + where if where else ''} in {text!r} is not a number: expected {FORMS}"
        )
    number = value if isinstance(value, complex) else float(value)
    if not cmath.isfinite(number):
        raise InputError(
            f"{value!r}{' at ' + where if where else ''} in {text!r} is nan or inf: points must be finite "
            "numbers"
        )
    return number


def _shape(value: Any, text: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        return ()
    shapes = {_shape(item, text) for item in value}
    if len(shapes) != 1:
        raise InputError(f"ragged nesting in {text!r}: every row must have the same length")
    return (len(value), *shapes.pop())


def to_array(value: Any, text: str | None = None) -> np.ndarray:
    """Validate an already-parsed value (number or nested lists) and return it as a float64 array."""
    text = text if text is not None else json.dumps(value) if not isinstance(value, str) else value
    numbers = _check_numbers(value, text)
    _shape(numbers, text)
    array = np.asarray(numbers)
    return array.astype(np.complex128 if np.iscomplexobj(array) else np.float64)


def parse_values(text: str) -> np.ndarray:
    """Parse the text of one ``--x`` into a float64 array (0-d for a single number)."""
    stripped = text.strip()
    if not stripped:
        raise InputError(f"empty value {text!r}: expected {FORMS}")
    if not stripped.startswith(("[", "(")) and "," in stripped:
        items = [item.strip() for item in stripped.split(",")]
        if not all(items):
            raise InputError(
                f"empty item in {text!r}: expected numbers separated by single commas, like 1,2,3"
            )
        stripped = f"[{stripped}]"
    lowered = stripped.lower()
    if any(word in lowered for word in ("nan", "inf")):
        raise InputError(f"{text!r} is nan or inf: points must be finite numbers")
    return to_array(_literal(stripped, text), text)
