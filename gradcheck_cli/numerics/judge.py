"""Comparing an autograd Jacobian block with a numerical one: errors, tolerances and per-entry statuses.

:func:`compare` is the fixed rule ``|autograd - reference| <= atol + rtol * |reference|`` (for ``--atol`` /
``--rtol``). :func:`judge` builds a block's named error terms (:func:`error_terms`) and applies the error
model's policies (:mod:`gradcheck_cli.numerics.error_model`): every status is decided there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from gradcheck_cli.numerics.error_model import ErrorTerms, apply_policies, judged
from gradcheck_cli.numerics.precision import autograd_relative, autograd_ulps, epsilon
from gradcheck_cli.numerics.status import Status


@dataclass(frozen=True)
class Comparison:
    """Per entry of a block: absolute and relative error, tolerance and status code."""

    abs_err: np.ndarray
    rel_err: np.ndarray
    tolerance: np.ndarray
    status: np.ndarray
    terms: Mapping[str, np.ndarray] = field(default_factory=dict)
    """The named error terms the status was decided from (:data:`~gradcheck_cli.numerics.error_model.TERMS`)."""

    def fields(self) -> dict[str, object]:
        """The :class:`~gradcheck_cli.result.Block` fields this comparison fills."""
        return {
            "abs_err": self.abs_err,
            "rel_err": self.rel_err,
            "tolerance": self.tolerance,
            "status": self.status,
            "terms": self.terms,
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


def autograd_allowance(
    autograd: np.ndarray, reference: np.ndarray, dtype: str, reference_dtype: str
) -> np.ndarray:
    """The ``autograd`` term: the autograd side's allowed round-off (``AUTOGRAD_ULPS`` of its dtype at its own
    magnitude and at the block's scale, float32 constants inside float64 kernels) plus the reference dtype's
    round-off at that scale."""
    scale = finite_scale(autograd, reference)
    eps, eps_ref = epsilon(dtype), epsilon(reference_dtype)
    allowance = np.abs(autograd)
    allowance += scale
    allowance *= autograd_ulps(dtype) * eps
    allowance += autograd_relative(dtype) * np.abs(reference)
    allowance += 4 * eps_ref * scale
    return allowance


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
    terms: Mapping[str, np.ndarray] | None = None
    """The reference's error bar by name (:data:`~gradcheck_cli.numerics.error_model.REFERENCE_TERMS`);
    summing to ``error``. A bare ``error`` (not split) counts as truncation."""

    def reference_terms(self) -> dict[str, np.ndarray]:
        if self.terms is not None:
            return dict(self.terms)
        return {} if self.error is None else {"truncation": self.error}


def error_terms(evidence: Evidence, rule: Rule) -> ErrorTerms:
    """The error model's view of one block: the reference's terms, the autograd side's, the jitter."""
    autograd, reference = evidence.autograd, evidence.reference
    terms = evidence.reference_terms()
    fixed = None
    if rule.fixed:
        atol = rule.default_atol if rule.atol is None else rule.atol
        rtol = rule.default_rtol if rule.rtol is None else rule.rtol
        fixed = np.abs(reference) * rtol
        fixed += atol
    elif not terms:
        raise ValueError("a tolerance from the error estimate needs an error estimate")
    else:
        terms["autograd"] = autograd_allowance(autograd, reference, rule.dtype, rule.reference_dtype)
        if evidence.roundoff is not None:
            terms["autograd_roundoff"] = evidence.roundoff
    if evidence.jitter is not None:
        terms["jitter"] = evidence.jitter
    scale = evidence.scale
    if scale is None or not np.isfinite(scale):
        scale = finite_scale(autograd, reference)
    return ErrorTerms(
        autograd, reference, terms, rule.reference_dtype, scale, evidence.values,
        evidence.kink, evidence.left, evidence.right, fixed,
    )  # fmt: skip


def judge(evidence: Evidence, rule: Rule) -> Comparison:
    """Statuses of one block under ``rule``: its error terms (:func:`error_terms`), then the first policy of
    :data:`~gradcheck_cli.numerics.error_model.POLICIES` that claims each entry."""
    judgement = judged(error_terms(evidence, rule))
    status = apply_policies(judgement)
    abs_err = judgement.abs_err
    rel_err = relative_error(abs_err, evidence.reference)
    return Comparison(abs_err, rel_err, judgement.tolerance, status, judgement.terms.terms)
