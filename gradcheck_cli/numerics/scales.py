"""Confirmation across scales: an entry is judged at a step inside the region where the function is smooth.

The adaptive step balances truncation against round-off from derivatives estimated at a coarse step. Where
the function is smooth only much closer to the point (a pole 1e-3 away, a selection switch of ``sort`` or
``min``, a domain edge its perturbed points leave) that step leaves the smooth region, and its error
estimate is wrong. For the entries that do not pass, the central, forward and backward differences are
taken again at the steps ``h/2, h/4, ...`` down to the round-off limit (:func:`limit_steps`: about 1e-6 of
the input's scale in float64, torch's own step), each with its truncation error from the step twice as
large. Every estimate's error bar is widened (its ``scales`` term) by what a finer estimate contradicts
beyond both bars (:func:`contradicted`); per entry the estimate with the smallest widened bar is the
reference (numdifftools' rule). A true error of autograd disagrees with every estimate alike, and the
estimates agree with one another within their bars: nothing is widened, and it FAILs where it did.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradcheck_cli.numerics.error_model import REFERENCE_TERMS, reference_error
from gradcheck_cli.numerics.precision import ERROR_SAFETY
from gradcheck_cli.numerics.reference import Estimate, fixed
from gradcheck_cli.numerics.stencils import SCHEMES, Samples, power_of_two

# The smallest step, relative to max(1, |x|): eps**(3/8) is 2**-19.5 in float64 (torch's 1e-6) and 2e-3 in
# float32, where central differences still resolve a derivative to ~eps**(5/8) of the function's scale.
LIMIT_EXPONENT = 3.0 / 8.0
LADDER_SCHEMES = ("central", "forward", "backward")


def limit_steps(samples: Samples) -> np.ndarray:
    """Per element the smallest step of the ladder (the round-off limit)."""
    return power_of_two(samples.eps**LIMIT_EXPONENT * samples.scale)


def limit_step(eps: float) -> float:
    """One step for every element: the round-off limit at scale 1 for machine epsilon ``eps`` (torch's step
    in float64)."""
    return float(power_of_two(np.asarray(eps**LIMIT_EXPONENT)))


def ladder(samples: Samples, start: np.ndarray) -> list[np.ndarray]:
    """The steps ``start / 2**s`` (s = 1, 2, ...) while any element's is at least its round-off limit."""
    limit = limit_steps(samples)
    steps, step = [], np.asarray(start, dtype=np.float64) / 2
    while np.any(step >= limit):
        steps.append(step)
        step = step / 2
    return steps


@dataclass(frozen=True)
class Candidates:
    """Estimates of the same entries, coarsest first: values ``(c, rows, cols)``, their named terms, and
    per candidate the step per column (0 for the reference's own estimate)."""

    values: np.ndarray
    terms: dict[str, np.ndarray]
    steps: np.ndarray

    @property
    def bars(self) -> np.ndarray:
        return reference_error(self.terms)


def finer(samples: Samples, start: np.ndarray) -> list[tuple[np.ndarray, Estimate]]:
    """``(steps, estimate)`` of every scheme of :data:`LADDER_SCHEMES` at every step of :func:`ladder`;
    an estimate at a step under the round-off limit is unusable (infinite error bar)."""
    steps = ladder(samples, start)
    wanted = [np.asarray(start, dtype=np.float64), *steps]
    samples.prefetch([sign * h for h in wanted for sign in (1.0, -1.0)])
    limit = limit_steps(samples)
    found = []
    for h in steps:
        for name in LADDER_SCHEMES:
            estimate = fixed(samples, SCHEMES[name], h, 2.0)
            if np.any(h < limit):
                terms = dict(estimate.terms)
                terms["roundoff"] = np.where(h < limit, np.inf, terms["roundoff"])
                estimate = Estimate(estimate.value, reference_error(terms), h, terms)
            found.append((h, estimate))
    return found


def candidates(
    value: np.ndarray, terms: dict[str, np.ndarray], found: list[tuple[np.ndarray, Estimate]]
) -> Candidates:
    """The reference's own estimate (``value`` with its ``terms``) and the finer ones, stacked."""
    estimates = [(np.zeros(value.shape[1]), value, terms)] + [(h, e.value, dict(e.terms)) for h, e in found]
    stacked = {
        name: np.stack([np.broadcast_to(t.get(name, 0.0), value.shape) for _, _, t in estimates])
        for name in REFERENCE_TERMS
    }
    values = np.stack([v for _, v, _ in estimates])
    unusable = ~np.isfinite(values)
    stacked["roundoff"] = np.where(unusable, np.inf, stacked["roundoff"])
    values = np.where(unusable, 0.0, values)
    return Candidates(values, stacked, np.stack([h for h, _, _ in estimates]))


def contradicted(found: Candidates) -> np.ndarray:
    """``(c, rows, cols)``: by how much each estimate is farther from a finer one than both error bars allow
    (a finer estimate places the derivative within ``ERROR_SAFETY`` of its bar): the ``scales`` term."""
    bars = found.bars
    finite = np.isfinite(bars)
    low = np.where(finite, found.values + ERROR_SAFETY * bars, np.inf)
    high = np.where(finite, found.values - ERROR_SAFETY * bars, -np.inf)
    extra = np.zeros(found.values.shape)
    lowest, highest = np.full(extra.shape[1:], np.inf), np.full(extra.shape[1:], -np.inf)
    for c in range(len(extra) - 1, -1, -1):  # finest first: each is contradicted only by finer ones
        with np.errstate(invalid="ignore"):
            beyond = np.maximum(highest - found.values[c], found.values[c] - lowest) - bars[c]
        extra[c] = np.where(np.isfinite(beyond) & (beyond > 0), beyond, 0.0)
        lowest, highest = np.minimum(lowest, low[c]), np.maximum(highest, high[c])
    return extra


@dataclass(frozen=True)
class Chosen:
    """Per entry the estimate judged: its value, named terms (``scales`` included) and step (0: the
    reference's own)."""

    value: np.ndarray
    terms: dict[str, np.ndarray]
    step: np.ndarray


def choose(found: Candidates) -> Chosen:
    """Per entry the candidate with the smallest error bar once widened by :func:`contradicted`."""
    terms = dict(found.terms)
    terms["scales"] = terms["scales"] + contradicted(found)
    bars = reference_error(terms)
    best = np.argmin(np.where(np.isnan(bars), np.inf, bars), axis=0)[None]

    def pick(stack: np.ndarray) -> np.ndarray:
        return np.take_along_axis(stack, best, 0)[0]

    steps = np.broadcast_to(found.steps[:, None, :], found.values.shape)
    return Chosen(pick(found.values), {name: pick(t) for name, t in terms.items()}, pick(steps))
