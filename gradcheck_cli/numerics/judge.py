"""Comparing an autograd Jacobian block with a numerical one: errors, tolerances and per-entry statuses.

:func:`compare` is the fixed rule ``|autograd - reference| <= atol + rtol * |reference|`` (for ``--atol`` /
``--rtol``). :func:`judge` derives each entry's tolerance from the reference's error estimate plus the
autograd side's round-off, and assigns every status: INCONCLUSIVE where the reference is too uncertain to
tell, KINK where the one-sided slopes disagree (and autograd lies between them), NONDETERMINISTIC where two
evaluations differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradcheck_cli.numerics.precision import (
    AUTOGRAD_SAFETY,
    BLOCK_FLOOR,
    ERROR_SAFETY,
    UNCERTAIN_FRACTION,
    autograd_ulps,
    epsilon,
)
from gradcheck_cli.numerics.status import Status


@dataclass(frozen=True)
class Comparison:
    """Per entry of a block: absolute and relative error, tolerance and status code."""

    abs_err: np.ndarray
    rel_err: np.ndarray
    tolerance: np.ndarray
    status: np.ndarray

    def fields(self) -> dict[str, np.ndarray]:
        """The :class:`~gradcheck_cli.result.Block` fields this comparison fills."""
        return {
            "abs_err": self.abs_err,
            "rel_err": self.rel_err,
            "tolerance": self.tolerance,
            "status": self.status,
        }


def relative_error(abs_err: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``abs_err / |reference|``, with 0/0 = 0 and x/0 = inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(reference)
        np.divide(abs_err, rel, out=rel)  # in place: Jacobians of millions of entries
    rel[abs_err == 0] = 0.0
    return rel


def compare(autograd: np.ndarray, reference: np.ndarray, *, atol: float, rtol: float) -> Comparison:
    """Entry ``ok`` iff ``|autograd - reference| <= atol + rtol * |reference|``."""
    abs_err = np.subtract(autograd, reference)
    np.abs(abs_err, out=abs_err)
    tolerance = np.abs(reference)
    tolerance *= rtol
    tolerance += atol
    status = np.full(abs_err.shape, Status.FAIL.code, dtype=np.int8)
    status[abs_err <= tolerance] = Status.PASS.code
    return Comparison(abs_err, relative_error(abs_err, reference), tolerance, status)


def estimated_tolerance(
    autograd: np.ndarray, reference: np.ndarray, error: np.ndarray, dtype: str, reference_dtype: str
) -> np.ndarray:
    """``ERROR_SAFETY * error + autograd round-off + reference round-off`` per entry."""
    scale = max(float(np.max(np.abs(autograd), initial=0.0)), float(np.max(np.abs(reference), initial=0.0)))
    eps, eps_ref = epsilon(dtype), epsilon(reference_dtype)
    return (
        ERROR_SAFETY * error + autograd_ulps(dtype) * eps * (np.abs(autograd) + scale) + 4 * eps_ref * scale
    )


def uncertain(
    autograd: np.ndarray, reference: np.ndarray, error: np.ndarray, scale: float, reference_dtype: str
) -> np.ndarray:
    """Entries whose reference error exceeds ``UNCERTAIN_FRACTION`` of their magnitude. The magnitude is
    floored at ``BLOCK_FLOOR * scale`` (the largest derivative of the output) and at ``sqrt(eps)`` (absolute):
    an error bar far below either resolves a zero derivative as well as it can be resolved."""
    floor = max(BLOCK_FLOOR * scale, float(np.sqrt(epsilon(reference_dtype))))
    size = np.maximum(np.maximum(np.abs(autograd), np.abs(reference)), floor)
    return error > UNCERTAIN_FRACTION * size


def judge(
    autograd: np.ndarray,
    reference: np.ndarray,
    error: np.ndarray,
    *,
    dtype: str,
    reference_dtype: str,
    kink: np.ndarray | None = None,
    left: np.ndarray | None = None,
    right: np.ndarray | None = None,
    jitter: np.ndarray | None = None,
    scale: float | None = None,
    roundoff: np.ndarray | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    default_atol: float = 0.0,
    default_rtol: float = 0.0,
) -> Comparison:
    """Statuses of one block. With ``atol``/``rtol`` given the tolerance is the fixed rule (missing one from
    the defaults); otherwise it follows from ``error``. ``scale``: the largest derivative of the output (over
    every input), below which an entry's error is not held against it (default: this block's). ``roundoff``:
    the autograd side's measured round-off (a low-precision autograd's difference from the same autograd in
    float64), allowed for in the tolerance; INCONCLUSIVE where it is too large to tell."""
    fixed = atol is not None or rtol is not None
    if fixed:
        rule = compare(
            autograd,
            reference,
            atol=default_atol if atol is None else atol,
            rtol=default_rtol if rtol is None else rtol,
        )
        abs_err, rel_err, tolerance, status = rule.abs_err, rule.rel_err, rule.tolerance, rule.status
    else:
        abs_err = np.subtract(autograd, reference)  # in place from here: Jacobians of millions of entries
        np.abs(abs_err, out=abs_err)
        tolerance = estimated_tolerance(autograd, reference, error, dtype, reference_dtype)
        if roundoff is not None:
            tolerance += AUTOGRAD_SAFETY * roundoff
        status = np.full(abs_err.shape, Status.FAIL.code, dtype=np.int8)
        status[abs_err <= tolerance] = Status.PASS.code
        rel_err = relative_error(abs_err, reference)
    if not fixed:
        if scale is None:
            scale = max(
                float(np.max(np.abs(autograd), initial=0)), float(np.max(np.abs(reference), initial=0))
            )
        status[uncertain(autograd, reference, error, scale, reference_dtype)] = Status.INCONCLUSIVE.code
        if roundoff is not None:
            status[uncertain(autograd, reference, roundoff, scale, reference_dtype)] = (
                Status.INCONCLUSIVE.code
            )
    unusable = ~np.isfinite(reference) | ~np.isfinite(error)
    status[unusable] = Status.INCONCLUSIVE.code
    if kink is not None and left is not None and right is not None and np.any(kink):
        low, high = np.minimum(left, right), np.maximum(left, right)
        between = (autograd >= low - tolerance) & (autograd <= high + tolerance)
        status[kink] = np.where(between[kink], Status.KINK.code, Status.FAIL.code)
    if jitter is not None and np.any(jitter > 0):
        status[np.broadcast_to(jitter > 0, status.shape)] = Status.NONDETERMINISTIC.code
    return Comparison(abs_err, rel_err, tolerance, status)
