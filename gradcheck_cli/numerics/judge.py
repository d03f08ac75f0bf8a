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
    autograd_relative,
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
    return _relative(abs_err, np.abs(reference))


def _relative(abs_err: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """:func:`relative_error` from ``|reference|`` (overwritten: Jacobians of millions of entries)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(abs_err, magnitude, out=magnitude)
    magnitude[abs_err == 0] = 0.0
    return magnitude


def compare(autograd: np.ndarray, reference: np.ndarray, *, atol: float, rtol: float) -> Comparison:
    """Entry ``ok`` iff ``|autograd - reference| <= atol + rtol * |reference|``."""
    abs_err = np.subtract(autograd, reference)
    np.abs(abs_err, out=abs_err)
    magnitude = np.abs(reference)
    tolerance = magnitude * rtol
    tolerance += atol
    status = np.full(abs_err.shape, Status.FAIL.code, dtype=np.int8)
    status[abs_err <= tolerance] = Status.PASS.code
    return Comparison(abs_err, _relative(abs_err, magnitude), tolerance, status)


def finite_scale(*arrays: np.ndarray) -> float:
    """The largest finite ``|value|`` of ``arrays``: one infinite derivative (sqrt at 0) must not make every
    other entry's tolerance inf or nan."""
    return max((float(np.max(np.abs(a), initial=0.0, where=np.isfinite(a))) for a in arrays), default=0.0)


def estimated_tolerance(
    autograd: np.ndarray, reference: np.ndarray, error: np.ndarray, dtype: str, reference_dtype: str
) -> np.ndarray:
    """``ERROR_SAFETY * error + autograd round-off + reference round-off`` per entry."""
    scale = finite_scale(autograd, reference)
    eps, eps_ref = epsilon(dtype), epsilon(reference_dtype)
    own = np.abs(autograd)
    return (
        ERROR_SAFETY * error
        + autograd_ulps(dtype) * eps * (own + scale)
        + autograd_relative(dtype) * np.abs(reference)
        + 4 * eps_ref * scale
    )


def uncertain(
    autograd: np.ndarray,
    reference: np.ndarray,
    error: np.ndarray,
    scale: float,
    reference_dtype: str,
    values: float = 0.0,
) -> np.ndarray:
    """Entries whose reference error exceeds ``UNCERTAIN_FRACTION`` of their magnitude. The magnitude is
    floored at ``BLOCK_FLOOR * scale`` (the largest derivative of the output) and at ``sqrt(eps)`` times the
    output's largest value ``values`` (at least 1): an error bar far below either resolves a zero derivative
    as well as it can be resolved (an output of 25 that does not move is known flat only to ``eps * 25 / h``)."""
    floor = max(BLOCK_FLOOR * scale, float(np.sqrt(epsilon(reference_dtype))) * max(1.0, values))
    size = np.maximum(np.maximum(np.abs(autograd), np.abs(reference)), floor)
    return error > UNCERTAIN_FRACTION * size


@dataclass(frozen=True)
class Rule:
    """How a block's tolerance is set. With ``atol``/``rtol`` given: the fixed rule (a missing one from the
    defaults); otherwise it follows from the reference's error estimate, in the two dtypes."""

    dtype: str
    reference_dtype: str
    atol: float | None = None
    rtol: float | None = None
    default_atol: float = 0.0
    default_rtol: float = 0.0

    @property
    def fixed(self) -> bool:
        return self.atol is not None or self.rtol is not None


@dataclass(frozen=True)
class Evidence:
    """One block's numbers: autograd, the reference with its error estimate, and what qualifies them.
    ``scale``: the largest derivative of the output (over every input), below which an entry's error is not
    held against it (default: this block's). ``roundoff``: the autograd side's measured round-off (a
    low-precision autograd's difference from the same autograd in float64), allowed for in the tolerance;
    INCONCLUSIVE where it is too large to tell. ``error`` is None for a reference without an error estimate
    (judged by the fixed rule only). ``kink``/``left``/``right``: where the one-sided slopes
    disagree, and the slopes. ``jitter``: how much two evaluations differ. ``values``: the output's largest
    ``|value|``."""

    autograd: np.ndarray
    reference: np.ndarray
    error: np.ndarray | None
    kink: np.ndarray | None = None
    left: np.ndarray | None = None
    right: np.ndarray | None = None
    jitter: np.ndarray | None = None
    scale: float | None = None
    roundoff: np.ndarray | None = None
    values: float = 0.0


def _estimated(evidence: Evidence, rule: Rule) -> Comparison:
    """The tolerance from the error estimate (and round-off); INCONCLUSIVE where too uncertain to tell."""
    autograd, reference, error = evidence.autograd, evidence.reference, evidence.error
    if error is None:
        raise ValueError("a tolerance from the error estimate needs an error estimate")
    abs_err = np.subtract(autograd, reference)  # in place from here: Jacobians of millions of entries
    np.abs(abs_err, out=abs_err)
    tolerance = estimated_tolerance(autograd, reference, error, rule.dtype, rule.reference_dtype)
    if evidence.roundoff is not None:
        tolerance += AUTOGRAD_SAFETY * evidence.roundoff
    status = np.full(abs_err.shape, Status.FAIL.code, dtype=np.int8)
    status[abs_err <= tolerance] = Status.PASS.code
    scale = evidence.scale
    if scale is None or not np.isfinite(scale):
        scale = finite_scale(autograd, reference)
    values = evidence.values
    status[uncertain(autograd, reference, error, scale, rule.reference_dtype, values)] = (
        Status.INCONCLUSIVE.code
    )
    if evidence.roundoff is not None:
        status[uncertain(autograd, reference, evidence.roundoff, scale, rule.reference_dtype, values)] = (
            Status.INCONCLUSIVE.code
        )
    return Comparison(abs_err, relative_error(abs_err, reference), tolerance, status)


def judge(evidence: Evidence, rule: Rule) -> Comparison:
    """Statuses of one block under ``rule``: PASS/FAIL by the tolerance, INCONCLUSIVE where the reference is
    unusable or too uncertain, KINK where autograd lies between disagreeing one-sided slopes,
    NONDETERMINISTIC where two evaluations differ."""
    if rule.fixed:
        comparison = compare(
            evidence.autograd,
            evidence.reference,
            atol=rule.default_atol if rule.atol is None else rule.atol,
            rtol=rule.default_rtol if rule.rtol is None else rule.rtol,
        )
    else:
        comparison = _estimated(evidence, rule)
    status, tolerance, autograd = comparison.status, comparison.tolerance, evidence.autograd
    # A reference outside the function's domain; and an infinite or nan derivative w.r.t. an input element
    # where the function leaves its domain (sqrt at 0, and the 0 * inf of its VJP along the other outputs):
    # nothing finite differences can confirm. A nan derivative where the function is smooth stays a FAIL.
    if not _all_finite(evidence.reference, evidence.error):
        unusable = ~np.isfinite(evidence.reference)
        if evidence.error is not None:
            unusable |= ~np.isfinite(evidence.error)
        if unusable.size:
            unusable |= ~np.isfinite(autograd) & np.any(unusable, axis=0, keepdims=True)
        status[unusable] = Status.INCONCLUSIVE.code
    kink, left, right = evidence.kink, evidence.left, evidence.right
    if kink is not None and left is not None and right is not None and np.any(kink):
        low, high = np.minimum(left, right), np.maximum(left, right)
        between = (autograd >= low - tolerance) & (autograd <= high + tolerance)
        status[kink] = np.where(between[kink], Status.KINK.code, Status.FAIL.code)
    jitter = evidence.jitter
    if jitter is not None and _any_positive(jitter):
        status[np.broadcast_to(jitter > 0, status.shape)] = Status.NONDETERMINISTIC.code
    return comparison


def _all_finite(*arrays: np.ndarray | None) -> bool:
    """Every value of ``arrays`` finite, by one sum each (no temporary of their size): a sum is finite only
    if every term is (else, or where it overflows, an elementwise look)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return all(a is None or np.isfinite(np.sum(a)) or bool(np.isfinite(a).all()) for a in arrays)


def _any_positive(array: np.ndarray) -> bool:
    """``np.any(array > 0)``; for one value broadcast to a block's shape (the usual jitter), that value."""
    if array.size and not any(array.strides):
        return bool(array.flat[0] > 0)
    return bool(np.any(array > 0))
