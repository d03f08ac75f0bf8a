"""Points: the values at which a function is checked, one float64 array per positional argument.

Points come from ``--x`` texts, from a JSON file (a list of points, each a list of argument values) or from a
seeded random generator. This module also checks that a point has as many arguments as the function takes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gradcheck_cli.app.values import parse_values, to_array
from gradcheck_cli.errors import InputError

Point = tuple[np.ndarray, ...]

MAX_DIMENSIONS = 32
"""The deepest nesting of one argument's values (torch's own limit is 64 dimensions): deeper text is refused
before it is parsed, since parsing it recurses."""


def nesting(text: str) -> int:
    """How deep the brackets of ``text`` nest (``[[1], [2]]`` -> 2), counted without parsing it."""
    depth = deepest = 0
    for char in text:
        if char in "[(":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "])":
            depth -= 1
    return deepest


def _too_deep(what: str, depth: int, limit: int, form: str) -> InputError:
    return InputError(f"{what} is nested {depth} levels deep: expected at most {limit} ({form})")


def point_from_texts(texts: Sequence[str]) -> Point:
    """One point from the ``--x`` texts, one per positional argument, in order."""
    for text in texts:
        depth = nesting(text)
        if depth > MAX_DIMENSIONS:
            form = f"one level of brackets per dimension, at most {MAX_DIMENSIONS} dimensions"
            raise _too_deep(f"--x {text[:20]}...", depth, MAX_DIMENSIONS, form)
    return tuple(parse_values(text) for text in texts)


def points_from_file(path: str) -> list[Point]:
    """Points from a JSON file: ``[[arg0, arg1, ...], ...]`` where each arg is a number or nested list."""
    try:
        text = Path(path).read_text()
        depth = nesting(text)
        if depth > MAX_DIMENSIONS + 2:
            form = f"a list of points, each a list of arguments of at most {MAX_DIMENSIONS} dimensions"
            raise _too_deep(f"points file {path!r}", depth, MAX_DIMENSIONS + 2, form)
        data = json.loads(text)
    except FileNotFoundError:
        raise InputError(f"points file not found: {path!r}") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(
            f"cannot read points file {path!r}: {exc}; expected JSON like [[[1,2,3]], [[4,5,6]]]"
        ) from None
    if not isinstance(data, list) or not data or not all(isinstance(p, list) and p for p in data):
        raise InputError(
            f"points file {path!r} must hold a non-empty list of points, each a non-empty list of argument "
            "values, like [[[1,2,3]], [[4,5,6]]] for a function of one vector"
        )
    points = []
    for i, point in enumerate(data):
        texts = [j for j, arg in enumerate(point) if isinstance(arg, str)]
        if texts:
            raise InputError(
                f"points file {path!r}, point {i}: argument {texts[0]} is the string {point[texts[0]]!r}: in a "
                "points file give JSON numbers or lists of numbers, like [[[1,2,3]], [[4,5,6]]], not strings"
            )
        try:
            points.append(tuple(to_array(arg) for arg in point))
        except InputError as exc:
            raise InputError(f"points file {path!r}, point {i}: {exc}") from None
    return points


def parse_shape(text: str) -> tuple[int, ...]:
    """``"3"`` -> ``(3,)``, ``"2,3"`` -> ``(2, 3)``, ``""`` or ``"()"`` -> ``()`` (a scalar)."""
    stripped = text.strip().strip("()[]")
    if not stripped:
        return ()
    try:
        shape = tuple(int(part) for part in stripped.split(","))
    except ValueError:
        raise InputError(
            f"bad shape {text!r}: expected positive integers separated by commas, like 3 or 2,3"
        ) from None
    if any(size <= 0 for size in shape):
        raise InputError(f"bad shape {text!r}: sizes must be positive integers")
    return shape


def random_points(count: int, shapes: Sequence[tuple[int, ...]], seed: int) -> list[Point]:
    """``count`` points of standard-normal values, one array per shape, reproducible from ``seed``."""
    if count <= 0:
        raise InputError(f"--random must be a positive number of points, got {count}")
    rng = np.random.default_rng(seed)
    try:
        return [tuple(rng.standard_normal(shape) for shape in shapes) for _ in range(count)]
    except MemoryError:
        size = count * sum(math.prod(shape) for shape in shapes) * 8
        raise InputError(
            f"--random {count} with shapes {', '.join(map(str, shapes))} needs {size / 2**30:.3g} GiB of "
            "float64 values, more than this machine has: give smaller shapes or fewer points"
        ) from None
