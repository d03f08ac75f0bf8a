"""The error model: per entry, named error terms, and the ordered table of policies that turns them into a status.

An entry's reference (a finite-difference or complex-step estimate) carries an error bar that is the sum of
named terms (:data:`REFERENCE_TERMS`): ``truncation`` (the scheme's, estimated from a second step),
``roundoff`` (the function's values' round-off carried into the quotient), ``noise`` (the function's measured
evaluation error beyond its dtype's round-off) and ``scales`` (disagreement between steps: an estimate that a
smaller step contradicts, or one at an explicit step far from the default step's). The autograd side adds
``autograd`` (its allowed round-off: ulps of its dtype, float32 constants in float64 kernels, and the
reference dtype's round-off at the output's scale) and ``autograd_roundoff`` (a low-precision autograd's
measured distance from the same autograd in float64; in float64, what follows from the outputs' own
round-off). ``jitter`` is how much two evaluations differ.

The tolerance is ``ERROR_SAFETY * (reference terms) + autograd + AUTOGRAD_SAFETY * autograd_roundoff``
(or ``atol + rtol * |reference|`` under the fixed rule). The status is the first policy of :data:`POLICIES`
that claims the entry. A suspicious estimate widens its terms (the ``scales`` term): no rule overrides a
status outside this table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from gradcheck_cli.numerics.precision import (
    AUTOGRAD_SAFETY,
    BLOCK_FLOOR,
    ERROR_SAFETY,
    UNCERTAIN_FRACTION,
    epsilon,
)
from gradcheck_cli.numerics.status import Status

REFERENCE_TERMS = ("truncation", "roundoff", "noise", "scales")
"""The terms of the reference's error bar, in the order they are reported."""
AUTOGRAD_TERMS = ("autograd", "autograd_roundoff")
TERMS = (*REFERENCE_TERMS, *AUTOGRAD_TERMS, "jitter")
"""Every named term an entry reports (a term not estimated is absent)."""


def reference_error(terms: Mapping[str, np.ndarray]) -> np.ndarray:
    """The reference's error bar: the sum of its :data:`REFERENCE_TERMS` (non-finite where one is)."""
    parts = [terms[name] for name in REFERENCE_TERMS if name in terms]
    if not parts:
        raise ValueError("no reference error term")
    total = np.array(parts[0], dtype=np.float64, copy=True)
    for part in parts[1:]:
        total += part
    return total


@dataclass(frozen=True)
class ErrorTerms:
    """One block's entries under the error model: autograd, the reference, the named terms, and what the
    policies read besides (the one-sided slopes where a kink was found; the scales an entry's magnitude is
    resolved against). ``fixed``: the tolerance of the fixed rule (``atol + rtol |reference|``), which
    replaces the terms' tolerance and the uncertainty policies."""

    autograd: np.ndarray
    reference: np.ndarray
    terms: Mapping[str, np.ndarray] = field(default_factory=dict)
    reference_dtype: str = "float64"
    scale: float = 0.0
    """The output's largest derivative: an entry far below it is resolved relative to it."""
    values: float = 0.0
    """The output's largest ``|value|``: a zero derivative is resolved to ``sqrt(eps)`` of it."""
    kink: np.ndarray | None = None
    left: np.ndarray | None = None
    right: np.ndarray | None = None
    fixed: np.ndarray | None = None

    @property
    def error(self) -> np.ndarray | None:
        """The reference's error bar, or None where no reference term was estimated."""
        return reference_error(self.terms) if any(n in self.terms for n in REFERENCE_TERMS) else None

    def tolerance(self) -> np.ndarray:
        """How far autograd may be from the reference: the fixed rule's, or the terms' sum (see module)."""
        if self.fixed is not None:
            return self.fixed
        tolerance = reference_error(self.terms)
        tolerance *= ERROR_SAFETY
        if "autograd" in self.terms:
            tolerance += self.terms["autograd"]
        if "autograd_roundoff" in self.terms:
            tolerance += AUTOGRAD_SAFETY * self.terms["autograd_roundoff"]
        return tolerance

    def resolution(self) -> np.ndarray:
        """Per entry the magnitude its error bar is measured against: ``max(|autograd|, |reference|)``,
        floored at ``BLOCK_FLOOR * scale`` and at ``sqrt(eps) * max(1, values)`` (a zero derivative is
        resolved as well as it can be: an output of 25 that does not move is flat only to ``eps 25 / h``)."""
        floor = max(
            BLOCK_FLOOR * self.scale, float(np.sqrt(epsilon(self.reference_dtype))) * max(1.0, self.values)
        )
        return np.maximum(np.maximum(np.abs(self.autograd), np.abs(self.reference)), floor)


@dataclass(frozen=True)
class Judged:
    """What the policies see of one block: the terms, ``|autograd - reference|`` and the tolerance."""

    terms: ErrorTerms
    abs_err: np.ndarray
    tolerance: np.ndarray


Predicate = Callable[[Judged], "np.ndarray | None"]


@dataclass(frozen=True)
class Policy:
    """A named rule: the entries ``claims`` returns (None: none) get ``status``, unless an earlier policy of
    :data:`POLICIES` claimed them."""

    name: str
    status: Status
    claims: Predicate


def nondeterministic(judged: Judged) -> np.ndarray | None:
    """Two evaluations (of the function or of its backward) differed: nothing can be confirmed."""
    jitter = judged.terms.terms.get("jitter")
    if jitter is None:
        return None
    if jitter.size and not any(jitter.strides):  # one value broadcast to the block (the usual jitter)
        return np.broadcast_to(jitter.flat[0] > 0, judged.abs_err.shape) if jitter.flat[0] > 0 else None
    return np.broadcast_to(jitter > 0, judged.abs_err.shape) if np.any(jitter > 0) else None


def _between(judged: Judged) -> np.ndarray | None:
    terms = judged.terms
    if terms.kink is None or terms.left is None or terms.right is None or not np.any(terms.kink):
        return None
    low, high = np.minimum(terms.left, terms.right), np.maximum(terms.left, terms.right)
    return (terms.autograd >= low - judged.tolerance) & (terms.autograd <= high + judged.tolerance)


def kink_between(judged: Judged) -> np.ndarray | None:
    """The one-sided slopes disagree (not differentiable) and autograd lies between them: a subgradient."""
    between = _between(judged)
    return None if between is None else judged.terms.kink & between


def kink_outside(judged: Judged) -> np.ndarray | None:
    """The one-sided slopes disagree and autograd lies outside both: wrong on either side."""
    between = _between(judged)
    return None if between is None else judged.terms.kink & ~between


def unusable(judged: Judged) -> np.ndarray | None:
    """A reference (or its error) that is not finite: a perturbed point outside the function's domain; and
    an infinite or nan derivative where the function leaves its domain (sqrt at 0, and the 0 * inf of its
    VJP along the other outputs). A nan autograd where the reference is fine stays for the next policies."""
    terms = judged.terms
    error = terms.error
    if _all_finite(terms.reference, error):
        return None
    bad = ~np.isfinite(terms.reference)
    if error is not None:
        bad |= ~np.isfinite(error)
    if bad.size:
        bad |= ~np.isfinite(terms.autograd) & np.any(bad, axis=0, keepdims=True)
    return bad


def uncertain(judged: Judged) -> np.ndarray | None:
    """The reference's error bar exceeds ``UNCERTAIN_FRACTION`` of the entry's magnitude: it cannot tell."""
    terms = judged.terms
    if terms.fixed is not None:
        return None
    return reference_error(terms.terms) > UNCERTAIN_FRACTION * terms.resolution()


def autograd_unresolved(judged: Judged) -> np.ndarray | None:
    """A low-precision autograd's measured round-off exceeds ``UNCERTAIN_FRACTION`` of the entry: its dtype
    cannot resolve that derivative."""
    terms = judged.terms
    measured = terms.terms.get("autograd_roundoff")
    if terms.fixed is not None or measured is None:
        return None
    return measured > UNCERTAIN_FRACTION * terms.resolution()


def agrees(judged: Judged) -> np.ndarray | None:
    """``|autograd - reference| <= tolerance``."""
    return judged.abs_err <= judged.tolerance


def disagrees(judged: Judged) -> np.ndarray | None:
    """Everything left: autograd is farther from a resolved reference than the error model allows."""
    return np.ones(judged.abs_err.shape, dtype=bool)


POLICIES: tuple[Policy, ...] = (
    Policy("nondeterministic", Status.NONDETERMINISTIC, nondeterministic),
    Policy("kink", Status.KINK, kink_between),
    Policy("kink-outside", Status.FAIL, kink_outside),
    Policy("unusable", Status.INCONCLUSIVE, unusable),
    Policy("uncertain", Status.INCONCLUSIVE, uncertain),
    Policy("autograd-unresolved", Status.INCONCLUSIVE, autograd_unresolved),
    Policy("agrees", Status.PASS, agrees),
    Policy("disagrees", Status.FAIL, disagrees),
)
"""The verdict table, first match wins."""


def apply_policies(judged: Judged, policies: tuple[Policy, ...] = POLICIES) -> np.ndarray:
    """Per entry the status code of the first policy that claims it (int8 codes of :class:`Status`)."""
    shape = judged.abs_err.shape
    status = np.full(shape, Status.FAIL.code, dtype=np.int8)
    open_ = np.ones(shape, dtype=bool)
    for policy in policies:
        claimed = policy.claims(judged)
        if claimed is None:
            continue
        claimed = claimed & open_
        status[claimed] = policy.status.code
        open_ &= ~claimed
        if not open_.any():
            break
    return status


def judged(terms: ErrorTerms) -> Judged:
    """The terms with ``|autograd - reference|`` and the tolerance computed."""
    abs_err = np.subtract(terms.autograd, terms.reference)
    np.abs(abs_err, out=abs_err)
    return Judged(terms, abs_err, terms.tolerance())


def settled(judgement: Judged, margin: float = 2.0) -> np.ndarray:
    """Entries whose verdict more evidence would not change: resolved (not uncertain) and either within the
    tolerance by a factor ``margin`` or outside it by that factor (a cheap first pass may stop there)."""
    terms = judgement.terms
    if terms.fixed is not None:
        resolved = np.ones(judgement.abs_err.shape, dtype=bool)
    else:
        resolved = reference_error(terms.terms) <= UNCERTAIN_FRACTION * terms.resolution() / margin
    with np.errstate(invalid="ignore"):
        clear = (margin * judgement.abs_err <= judgement.tolerance) | (
            judgement.abs_err > margin * judgement.tolerance
        )
    return resolved & clear & np.isfinite(judgement.abs_err)


def _all_finite(*arrays: np.ndarray | None) -> bool:
    """Every value finite, by one sum each (no temporary of their size; an elementwise look where it is not
    or where the sum overflows)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return all(a is None or np.isfinite(np.sum(a)) or bool(np.isfinite(a).all()) for a in arrays)
