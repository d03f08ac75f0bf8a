"""What is wrong with a failing Jacobian block: the simple relation between autograd and the reference.

Each hypothesis predicts the autograd block from the reference block (scaled by ``k``, sign flipped,
transposed, rows or columns permuted, zeroed, conjugated, one element off) and is accepted only when every
entry of the prediction lies within that entry's tolerance of autograd: the reference's own error bars decide,
so a pattern the numbers do not support is never claimed. A block that passes gets no pattern. Pure numpy:
the result is data (:class:`Pattern`), worded by the renderers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_PERMUTATION_WORK = 2**28
"""A permutation is looked for where columns**2 * rows is at most this (one pass of numpy per column)."""

KINDS = ("zeroed", "sign flipped", "scaled", "transposed", "permuted", "conjugated", "single element", "none")
"""Every pattern kind, in the order they are tried; ``none``: no simple pattern fits."""


@dataclass(frozen=True)
class Pattern:
    """A kind from :data:`KINDS` and its numbers: ``scaled`` has ``k`` and ``k_error``; ``permuted`` has
    ``axis`` (``"input"`` or ``"output"``) and ``moved`` (``(index autograd holds it at, reference index)``
    pairs, flat indices of the block's columns or rows); ``single element`` has ``row``, ``col``,
    ``autograd`` and ``reference``; ``zeroed`` has ``entries`` (how many autograd entries are exactly 0)."""

    kind: str
    values: dict[str, Any] = field(default_factory=dict)


def _fits(predicted: np.ndarray, autograd: np.ndarray, tolerance: np.ndarray) -> bool:
    """Every entry of ``predicted`` within its tolerance of autograd (non-finite tolerances fit anything)."""
    with np.errstate(invalid="ignore"):
        ok = np.abs(predicted - autograd) <= tolerance
    return bool(np.all(ok | ~np.isfinite(tolerance)))


def _scaled(autograd: np.ndarray, reference: np.ndarray, tolerance: np.ndarray) -> Pattern | None:
    """``autograd = k * reference`` for one ``k`` (weighted least squares), within the tolerances."""
    usable = np.isfinite(tolerance) & (tolerance > 0)
    weights = np.where(usable, 1.0 / np.where(usable, tolerance, 1.0) ** 2, 0.0)
    norm = float(np.sum(weights * np.abs(reference) ** 2))
    if norm == 0.0:
        return None
    k = float(np.real(np.sum(weights * np.conj(reference) * autograd))) / norm
    k_error = 1.0 / np.sqrt(norm)
    # The tolerance bounds the reference's error; scaled by k it bounds the prediction's.
    if not _fits(k * reference, autograd, tolerance * max(1.0, abs(k))) or abs(k - 1.0) <= 3 * k_error:
        return None
    if abs(k + 1.0) <= 3 * k_error:
        return Pattern("sign flipped")
    return Pattern("scaled", {"k": k, "k_error": float(k_error)})


def _matching(autograd: np.ndarray, reference: np.ndarray, tolerance: np.ndarray) -> list[int] | None:
    """A permutation ``p`` of the columns with ``autograd[:, j] ~ reference[:, p[j]]``, keeping ``p[j] = j``
    where that fits, or None."""
    n = autograd.shape[1]
    free = np.ones(n, dtype=bool)
    chosen: list[int] = []
    finite = np.isfinite(tolerance)
    for j in range(n):
        # The prediction is reference column i: its error bars are column i's, the comparison's column j's.
        with np.errstate(invalid="ignore"):
            close = np.abs(reference - autograd[:, j : j + 1]) <= np.maximum(
                tolerance[:, j : j + 1], tolerance
            )
        fits = np.all(close | ~finite | ~finite[:, j : j + 1], axis=0) & free
        if not fits.any():
            return None
        pick = j if fits[j] else int(np.argmax(fits))
        free[pick] = False
        chosen.append(pick)
    return chosen


def _permuted(autograd: np.ndarray, reference: np.ndarray, tolerance: np.ndarray) -> Pattern | None:
    """Columns (input elements) or rows (output elements) of the reference in another order."""
    for axis, a, r, t in (
        ("input", autograd, reference, tolerance),
        ("output", autograd.T, reference.T, tolerance.T),
    ):
        if a.shape[1] < 2 or a.shape[1] ** 2 * a.shape[0] > MAX_PERMUTATION_WORK:
            continue
        order = _matching(a, r, t)
        if order is not None and order != list(range(len(order))):
            moved = [(j, i) for j, i in enumerate(order) if i != j]
            return Pattern("permuted", {"axis": axis, "moved": moved})
    return None


def _single(autograd: np.ndarray, reference: np.ndarray, tolerance: np.ndarray) -> Pattern | None:
    """Autograd within tolerance everywhere but at one entry."""
    with np.errstate(invalid="ignore"):
        off = ~(np.abs(autograd - reference) <= tolerance) & np.isfinite(tolerance)
    if int(np.sum(off)) != 1 or autograd.size < 2:
        return None
    row, col = (int(i) for i in np.argwhere(off)[0])
    values = {"row": row, "col": col, "autograd": autograd[row, col], "reference": reference[row, col]}
    return Pattern("single element", values)


def _hypotheses(
    autograd: np.ndarray, reference: np.ndarray, tolerance: np.ndarray
) -> list[Callable[[], Pattern | None]]:
    square = autograd.shape[0] == autograd.shape[1] and autograd.shape[0] > 1
    failing = ~(np.abs(autograd - reference) <= tolerance) & np.isfinite(tolerance)

    def zeroed() -> Pattern | None:
        if np.any(autograd[failing] != 0) or (int(np.sum(failing)) < 2 and np.any(autograd != 0)):
            return None  # one failing entry at 0 among nonzero ones is a single element off
        return Pattern("zeroed", {"entries": int(np.sum(autograd == 0)), "failing": int(np.sum(failing))})

    def transposed() -> Pattern | None:
        if not square:
            return None
        return (
            Pattern("transposed")
            if _fits(reference.T, autograd, np.maximum(tolerance, tolerance.T))
            else None
        )

    def conjugated() -> Pattern | None:
        if not np.iscomplexobj(reference) and not np.iscomplexobj(autograd):
            return None
        return Pattern("conjugated") if _fits(np.conj(reference), autograd, tolerance) else None

    return [
        zeroed,
        lambda: _scaled(autograd, reference, tolerance),
        transposed,
        lambda: _permuted(autograd, reference, tolerance),
        conjugated,
        lambda: _single(autograd, reference, tolerance),
    ]


def classify(autograd: np.ndarray, reference: np.ndarray, tolerance: np.ndarray) -> Pattern | None:
    """The pattern of a block, ``(outputs, inputs)`` arrays of autograd, the reference and each entry's
    tolerance: None when every entry is within tolerance (nothing is wrong), else the first of
    :data:`KINDS` that explains every entry, else ``Pattern("none")``."""
    autograd, reference = np.asarray(autograd), np.asarray(reference)
    tolerance = np.broadcast_to(np.asarray(tolerance, dtype=np.float64), autograd.shape)
    with np.errstate(invalid="ignore"):
        failing = ~(np.abs(autograd - reference) <= tolerance) & np.isfinite(tolerance)
    if not np.any(failing):
        return None
    for hypothesis in _hypotheses(autograd, reference, tolerance):
        found = hypothesis()
        if found is not None:
            return found
    return Pattern("none")
