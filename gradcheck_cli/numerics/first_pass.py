"""The cheap first pass: central differences at two steps, extrapolated, with their own error bar.

Four evaluations per input element (``x +- h``, ``x +- 2h`` at the default step ``h ~ eps**(1/3) max(1, |x|)``,
a power of two) give central differences ``D(h)`` and ``D(2h)``, their Richardson extrapolation
``R = D(h) + (D(h) - D(2h)) / 3`` and the forward difference at ``h`` (shown beside them, free: ``f(x)`` is
known). ``R``'s error bar is ``|D(h) - D(2h)| / 3``, the estimated truncation error of ``D(h)`` (in the
asymptotic regime it bounds ``R``'s own, an order smaller), plus the round-off of the quotients. An entry whose
bar is small and whose autograd value agrees within it is settled (:func:`settled`); the rest -- a kink, noise,
a step too large for the function's scale, a disagreement -- are escalated to the full reference
(:mod:`gradcheck_cli.numerics.reference`) for their columns only (:func:`restricted`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from gradcheck_cli.numerics.precision import BLOCK_FLOOR, ERROR_SAFETY
from gradcheck_cli.numerics.reference import Estimate, InputReference, estimate
from gradcheck_cli.numerics.stencils import SCHEMES, SECOND, Samples, default_steps, stencil_offsets

# An entry is settled by the first pass only where its error bar (times ERROR_SAFETY) is at most this fraction of
# its magnitude (floored at BLOCK_FLOOR of its block's largest derivative): a wrong derivative off by more than
# this is always caught by the first pass; smaller errors are still caught where the bar is smaller (a smooth
# float64 function's bar is ~1e-10 of the derivative).
SETTLE_FRACTION = 1e-6

# The estimates that can be a reference: in an input merged from the first pass and the full reference, they
# are kept (the first pass's Richardson value in its settled columns).
REFERENCES = ("richardson", "complex-step")


def two_steps(samples: Samples) -> InputReference:
    """The first pass's estimates of one input: ``central`` (``D(h)``), ``forward`` (at ``h``: shown, free) and
    ``richardson`` (the reference), each with its named error terms.

    ``R``'s bar has the term ``scales``: ``h |S(h) - S(2h)|`` (``S``: second differences from the same points),
    for a smooth function ``h**3 f'''' / 4`` plus round-off; at a kink within ``2h`` of the point, half the
    jump in slope (the one-sided slopes ``(f(x +- h) - f(x)) / h`` differ by the jump at either step, where a
    smooth function's differ by ``h f''``); noise divided by ``h``: such an entry is never settled here."""
    central = SCHEMES["central"]
    h = default_steps(samples.x, central)
    samples.prefetch(stencil_offsets([(central, h), (central, 2 * h)]))
    d1, roundoff1, noise1 = samples.quotient_terms(central, h)
    d2, roundoff2, noise2 = samples.quotient_terms(central, 2 * h)
    forward, forward_roundoff, forward_noise = samples.quotient_terms(SCHEMES["forward"], h)
    s1, second1 = samples.quotient(SECOND, h)
    s2, second2 = samples.quotient(SECOND, 2 * h)
    truncation = np.abs(d1 - d2) / 3
    estimates = {
        "central": estimate(d1, h, truncation=truncation, roundoff=roundoff1, noise=noise1),
        "forward": estimate(
            forward, h, truncation=np.abs(forward - d1), roundoff=forward_roundoff, noise=forward_noise
        ),
        "richardson": estimate(
            d1 + (d1 - d2) / 3,
            h,
            truncation=truncation,
            roundoff=(4 * roundoff1 + roundoff2) / 3,
            noise=(4 * noise1 + noise2) / 3,
            scales=h * (np.abs(s1 - s2) + second1 + second2),
        ),
    }
    return InputReference(estimates, None)


def settled(
    status: np.ndarray, autograd: np.ndarray, reference: np.ndarray, error: np.ndarray, passing: int
) -> np.ndarray:
    """Entries of one block that the first pass settles: status ``passing`` with an error bar of at most
    SETTLE_FRACTION of the entry's magnitude."""
    floor = BLOCK_FLOOR * float(np.max(np.abs(autograd), initial=0.0, where=np.isfinite(autograd)))
    size = np.maximum(np.maximum(np.abs(autograd), np.abs(reference)), floor)
    return (status == passing) & (ERROR_SAFETY * error <= SETTLE_FRACTION * size)


def restricted(
    func: Callable[..., Any], point: Sequence[torch.Tensor], index: int, columns: np.ndarray
) -> tuple[Callable[..., Any], tuple[torch.Tensor, ...]]:
    """``func`` as a function of the elements ``columns`` of input ``index`` alone (the others held at the
    point), and its point: the full reference of a few columns costs what those columns cost. The input is
    rebuilt exactly (``kept + z @ place``: one nonzero term per element), under vmap too; finite inputs only."""
    x = point[index]
    flat = x.detach().reshape(-1)
    where = torch.as_tensor(columns, dtype=torch.long, device=x.device)
    kept = flat.clone()
    kept[where] = 0
    place = torch.zeros(len(columns), flat.numel(), dtype=x.dtype, device=x.device)
    place[torch.arange(len(columns), device=x.device), where] = 1

    def embedded(*args: Any) -> Any:
        z = args[index]
        full = (kept.to(z.dtype) + z @ place.to(z.dtype)).reshape(x.shape)
        return func(*args[:index], full, *args[index + 1 :])

    return embedded, (*point[:index], flat[where].clone(), *point[index + 1 :])


def _spread(first: np.ndarray, found: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``first`` with its ``columns`` (the last axis) replaced by ``found``."""
    spread = np.array(first, dtype=np.float64)
    spread[..., columns] = found
    return spread


def _widened(first: Estimate, found: Estimate, columns: np.ndarray) -> Estimate:
    names = dict.fromkeys([*first.terms, *found.terms])  # in order: a set's varies per process
    zeros_first, zeros_found = np.zeros(first.value.shape), np.zeros(found.value.shape)
    terms = {
        name: _spread(first.terms.get(name, zeros_first), found.terms.get(name, zeros_found), columns)
        for name in names
    }
    return estimate(
        _spread(first.value, found.value, columns), _spread(first.steps, found.steps, columns), **terms
    )


def merged(first: InputReference, found: InputReference, columns: np.ndarray) -> InputReference:
    """The first pass's estimates of one input with ``columns`` replaced by the full reference ``found`` of
    those columns: every estimate ``found`` has (where the first pass has no such estimate, its best one
    stands in the settled columns), one-sided slopes equal (no kink) in the settled columns."""
    best = first.estimates.get("richardson", first.estimates["central"])
    estimates = {
        name: _widened(first.estimates.get(name, best), estimate, columns)
        for name, estimate in found.estimates.items()
        if name in first.estimates or name in REFERENCES
    }
    sides = found.one_sided
    if sides is not None:
        sides = type(sides)(
            _spread(best.value, sides.left, columns),
            _spread(best.error, sides.left_error, columns),
            _spread(best.value, sides.right, columns),
            _spread(best.error, sides.right_error, columns),
        )
    return InputReference(estimates, sides, found.complex_reason, found.noise)
