"""The Taylor-remainder test: a step-free second opinion on a directional derivative.

For a correct derivative ``J v`` the remainder ``r(eps) = |f(x + eps v) - f(x) - eps J v|`` falls like
``eps**2``; for a wrong one like ``eps`` (the error times ``eps`` dominates as ``eps`` shrinks). Over a grid of
steps, the points far enough above the noise floor (the remainder at the smallest steps, or the dtype's
round-off) are kept and the slope of ``log r`` against ``log eps`` is fitted over the smallest of them: the
asymptotic regime, where a wrong derivative shows. ``bound`` is how wrong ``J v`` can still be given the
remainders seen: ``2 min(r / eps)`` over the kept steps. Pure numpy: the remainders come from the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Steps eps * scale, from 10**-0.5 down to 10**-12 in quarter decades.
EXPONENTS = np.arange(-2, -49, -1) / 4
FLOOR_FACTOR = 10.0
"""A remainder counts only this far above the noise floor."""
FITTED = 6
"""The slope is fitted over this many of the smallest usable steps."""
MIN_USABLE = 4
CORRECT = (1.7, 2.6)
"""The slopes that say "correct" (2 in theory; 3 where the second-order term vanishes along ``v``)."""
WRONG = (0.7, 1.3)


@dataclass(frozen=True)
class TaylorCurve:
    """Remainders ``remainder[s]`` at steps ``eps[s]``; ``used`` marks the steps the slope was fitted on;
    ``slope`` is nan when too few steps rise above the floor."""

    eps: np.ndarray
    remainder: np.ndarray
    floor: float
    used: np.ndarray
    slope: float
    bound: float
    difference_error: np.ndarray | None = None
    """Per step, ``|(f(x + eps v) - f(x)) / eps - J_ref v|`` against the numerical reference: the forward
    difference's V-curve along ``v`` (truncation at large steps, noise and round-off at small ones)."""

    @property
    def verdict(self) -> str:
        """``"correct"`` (slope about 2), ``"wrong"`` (about 1), ``"linear"`` (the remainder stays within the
        floor at every step: ``f`` changes exactly as ``J v`` says, e.g. a zero derivative of an output that
        does not move) or ``"unclear"``."""
        if math.isnan(self.slope) and bool(np.all(self.remainder <= FLOOR_FACTOR * self.floor)):
            return "linear"
        if CORRECT[0] <= self.slope <= CORRECT[1]:
            return "correct"
        if WRONG[0] <= self.slope <= WRONG[1]:
            return "wrong"
        return "unclear"


def steps(scale: float) -> np.ndarray:
    """The step grid for a point of magnitude ``scale`` (at least 1)."""
    return 10.0**EXPONENTS * max(1.0, scale)


def fit(eps: np.ndarray, remainder: np.ndarray, floor: float) -> TaylorCurve:
    """The slope of ``log remainder`` against ``log eps`` over the smallest :data:`FITTED` steps whose
    remainder exceeds :data:`FLOOR_FACTOR` times ``floor`` and the remainder at the three smallest steps."""
    eps, remainder = np.asarray(eps, dtype=np.float64), np.asarray(remainder, dtype=np.float64)
    order = np.argsort(eps)
    measured = float(np.median(remainder[order[:3]])) if remainder.size >= 3 else 0.0
    floor = max(float(floor), measured)
    usable = np.isfinite(remainder) & (remainder > FLOOR_FACTOR * floor) & (remainder > 0)
    used = np.zeros(eps.shape, dtype=bool)
    candidates = [i for i in order if usable[i]][:FITTED]
    if len(candidates) < MIN_USABLE:
        # Nothing rises above the floor: J v is right to within the floor over the largest step.
        bound = (
            2.0 * FLOOR_FACTOR * floor / float(np.max(eps)) if np.all(np.isfinite(remainder)) else math.inf
        )
        return TaylorCurve(eps, remainder, floor, used, float("nan"), bound)
    used[candidates] = True
    slope = float(np.polyfit(np.log(eps[used]), np.log(remainder[used]), 1)[0])
    bound = 2.0 * float(np.min(remainder[used] / eps[used]))
    return TaylorCurve(eps, remainder, floor, used, slope, bound)


PROBES = tuple(
    (0.71 if n % 2 == 0 else 0.59) * 2.0**-k for n, k in enumerate((7, 9, 11, 13, 17, 20, 23, 26, 29, 32))
)
"""Steps (times the point's scale) of the noise probe: not powers of two, so that they do not fall on the
grid of a coarser precision (see :mod:`gradcheck_cli.numerics.noise`)."""


def noise_floor(one: np.ndarray, two: np.ndarray, base: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Per output, how far the function strays from smooth along the direction: second differences
    ``f(x + 2d v) - 2 f(x + d v) + f(x)`` (rows of ``one`` and ``two`` per probe step ``d``) beyond the smooth
    part ``f'' d**2`` (bounded from the largest probe)."""
    one, two = one.reshape(len(d), -1), two.reshape(len(d), -1)
    second = np.abs(two - 2 * one + base.reshape(1, -1))
    curvature = second[0] / d[0] ** 2  # d[0]: the coarse step, where the smooth part dominates any noise
    excess = second - 4 * curvature.reshape(1, -1) * d.reshape(-1, 1) ** 2
    return np.max(np.where(np.isfinite(excess), excess, 0.0), axis=0, initial=0.0)


def remainders(values: np.ndarray, base: np.ndarray, eps: np.ndarray, derivative: np.ndarray) -> np.ndarray:
    """``|values[s] - base - eps[s] * derivative|`` per step (rows of ``values``), for each output column:
    shape ``(steps, outputs)``; ``values`` is ``f(x + eps[s] v)`` flattened, ``derivative`` is ``J v``."""
    values = np.asarray(values, dtype=np.float64).reshape(len(eps), -1)
    return np.abs(values - base.reshape(1, -1) - eps.reshape(-1, 1) * derivative.reshape(1, -1))
