"""The function's measured noise: how far its values stray from smooth, whatever its dtype says.

A function may compute in lower precision than its inputs and outputs (a cast to float32 or half inside,
a library kernel that accumulates in float32): its values then carry errors far above ``eps(dtype) * |f|``
and every error estimate built on the dtype's epsilon is too small. Per input element, second differences
``f(x + 2d) - 2 f(x + d) + f(x)`` at steps ``d`` over many decades show it: for a smooth function they are
``f'' d**2 + O(d**3)`` plus round-off; what exceeds the smooth part (bounded from the largest probe and a coarse
second difference) is noise. Steps are not powers of two, so
that they do not fall on the grid of a coarser precision (where the function would look flat).
"""

from __future__ import annotations

import numpy as np

from gradcheck_cli.numerics.precision import ROUNDOFF_ULPS
from gradcheck_cli.numerics.stencils import SECOND, Samples

# Probe steps d = c * 2**-k * max(1, |x|) (c alternating 0.71, 0.59): bfloat16/half grids (k ~ 7-11),
# float32 (~23); dense enough that a quantised function cannot look smooth at every one by chance.
PROBE_EXPONENTS = (7, 8, 9, 10, 11, 13, 15, 17, 20, 23, 26, 29, 32)
CURVATURE_STEP = 2.0**-6
PROBE_LIMIT = 2.0**-6  # absolute: the widest probe at any |x|


def probe_step(k: int) -> float:
    """The probe step ``c * 2**-k`` (relative to ``max(1, |x|)``) of exponent ``k``."""
    return (0.71 if PROBE_EXPONENTS.index(k) % 2 == 0 else 0.59) * 2.0**-k


def _probes(samples: Samples) -> list[np.ndarray | None]:
    """The probe steps ``d`` per exponent; ``None`` for those wider than PROBE_LIMIT everywhere (skipped)."""
    mag = samples.scale
    probes = [probe_step(k) * mag for k in PROBE_EXPONENTS]
    return [d if np.any(d <= PROBE_LIMIT) else None for d in probes]


def noise_offsets(samples: Samples) -> list[np.ndarray]:
    """Every offset vector :func:`measured_noise` evaluates (to be evaluated in one batched call)."""
    curvature_step = np.full(samples.numel, CURVATURE_STEP)
    wanted = [d for d in _probes(samples) if d is not None]
    # flat_columns' points on the other side ride along (its d and 2d are probes).
    flat = [-probe_step(k) * samples.scale for k in FLAT_EXPONENTS]
    return [curvature_step, -curvature_step, *wanted, *(2 * d for d in wanted), *flat]


def measured_noise(samples: Samples) -> np.ndarray:
    """Per input element, the size of the function's evaluation error (0 where within round-off)."""
    mag = samples.scale
    samples.prefetch(noise_offsets(samples))
    curvature, _ = samples.quotient(SECOND, np.full(samples.numel, CURVATURE_STEP))
    curvature = np.abs(curvature)  # (outputs, elements)
    base = samples.base
    used = [d for d in _probes(samples) if d is not None]
    if not used:
        return np.zeros(samples.numel)
    d = np.stack(used)  # (probes, elements)
    one = np.stack([samples.at(p) for p in used])  # (probes, elements, outputs)
    two = np.stack([samples.at(2 * p) for p in used])
    # (probes, outputs, elements): smooth part f'' d**2 + O(d**3), + noise
    second = np.abs(two - 2 * one + base).transpose(0, 2, 1)
    # A probe wider than PROBE_LIMIT leaves the Taylor region of a function of x's scale 1 (sin at 300,
    # max over entries 0.1 apart at 1000): what it sees there is the function's shape, not noise.
    allowed = d <= PROBE_LIMIT
    seen = np.any(allowed, axis=0)
    first = np.argmax(allowed, axis=0)  # per element, its widest allowed probe
    columns = np.arange(samples.numel)
    d_first = d[first, columns]
    slope = np.max(np.abs(one[first, columns] - base).T / d_first, axis=0, initial=0.0)
    slope = np.where(seen, slope, 0.0)
    # The widest probe bounds the smooth part at the narrower ones.
    curvature = np.where(seen, np.maximum(curvature, second[first, :, columns].T / d_first**2), curvature)
    excess = second - 4 * curvature * (d**2)[:, None, :]
    excess = np.where(np.isfinite(excess) & allowed[:, None, :], excess, 0.0)
    # Round-off of the values, and of the points x + d themselves (about eps |x| |f'|).
    resolution = ROUNDOFF_ULPS * samples.eps * (float(np.max(np.abs(base), initial=0.0)) + 4 * mag * slope)
    moved = np.stack([np.any(o != base, axis=1) | np.any(t != base, axis=1) for o, t in zip(one, two)])
    persistent = np.where(_persists(second, excess, moved, slope * d > 16 * resolution), excess, 0.0)
    # A jump at the point itself is seen by every probe: it is no noise (jump_columns).
    real = ~jump_columns(samples)
    noise = np.maximum(0.0, np.max(persistent, axis=(0, 1), initial=0.0) / 4)
    # Noisy somewhere: its noise is everywhere (matrix_exp: an element whose noise went unconfirmed got a too
    # small step), at the level confirmed elsewhere -- never its unconfirmed excess, which is the shape of a
    # pole or a selection switch just past the wider probes (1 / (x - 1) at 1.001, sort of values 3e-4 apart).
    if np.any((noise > 4 * resolution) & real):
        noise = np.maximum(noise, float(np.max(np.where(real, noise, 0.0), initial=0.0)))
    return np.where((noise > 4 * resolution) & real, noise, 0.0)


def _persists(
    second: np.ndarray, excess: np.ndarray, moved: np.ndarray, should_move: np.ndarray
) -> np.ndarray:
    """``(probes, outputs, elements)``: whether an excess at a probe is seen again at a probe at least
    PERSIST_RATIO narrower (where there is one) -- a second difference at least half its size, or values that stay exactly put where
    a smooth function would have moved (a coarse grid: bfloat16, half). Noise does not shrink with the probe;
    the shape of a function near a pole or a kink just past the probe (tan at 2.7e-3 from pi/2, a jump 1e-3
    away) shrinks with it as ``d**2`` or faster."""
    seen = np.zeros_like(second)
    gridded = np.zeros(moved.shape, dtype=bool)  # (probes, elements)
    finite = np.nan_to_num(second, nan=0.0, posinf=0.0)
    stuck = ~moved & should_move
    steps = [probe_step(k) for k in PROBE_EXPONENTS][-len(second) :]
    for k, step in enumerate(steps):
        narrow = [j for j in range(k + 1, len(steps)) if steps[j] * PERSIST_RATIO <= step]
        if narrow:
            seen[k] = np.max(finite[narrow], axis=0)
            gridded[k] = np.any(stuck[narrow], axis=0)
        else:  # the narrowest probes: round-off-level noise shows there alone (special.ndtr's 1.4e-17)
            seen[k] = np.inf
    return (seen >= excess / 2) | gridded[:, None, :]


# How much narrower a probe must be to tell noise (the same there) from shape (16x narrower: 256x smaller).
PERSIST_RATIO = 16.0


# Probes at which a function that does not move at all is flat: far above float32's grid (2**-23 |x|), far
# below the step of any step function worth the name.
FLAT_EXPONENTS = (20, 23)


def flat_columns(samples: Samples) -> np.ndarray:
    """Per input element: the function's values are exactly equal at ``x``, ``x + d`` and ``x + 2d`` and at
    ``x - d`` for every probe ``d`` of :data:`FLAT_EXPONENTS` (2**-20 and 2**-23 of ``max(1, |x|)``). Such a
    function is a step function there (``round``, integer-valued targets): its derivative is exactly 0.
    A jump at the point itself is not flat (the kink test sees it)."""
    mag = samples.scale
    base = samples.base
    flat = np.ones(samples.numel, dtype=bool)
    for k in FLAT_EXPONENTS:
        d = probe_step(k) * mag  # the noise probes' own steps: their values are cached
        for offsets in (d, 2 * d, -d):
            flat &= np.all(samples.at(offsets) == base, axis=1)
    return flat


def _sides(samples: Samples) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The values at ``x + d``, ``x + 2d`` (right) and ``x - d`` (left) for the probes of FLAT_EXPONENTS."""
    mag = samples.scale
    right = [samples.at(m * probe_step(k) * mag) for k in FLAT_EXPONENTS for m in (1, 2)]
    left = [samples.at(-probe_step(k) * mag) for k in FLAT_EXPONENTS]
    return right, left


def jump_columns(samples: Samples) -> np.ndarray:
    """Per input element: a jump at the point itself, the function constant on either side of it. Its values
    at every ``x + d`` and ``x + 2d`` (``d`` of :data:`FLAT_EXPONENTS`) are exactly equal, and so are those at
    every ``x - d``, and both sides differ from ``f(x)``: an integer-valued argument tested for equality
    (hinge_embedding_loss's ``target == 1``), ``sign`` at 0. Not differentiable: a kink, not noise."""
    right, left = _sides(samples)
    constant = np.ones(samples.numel, dtype=bool)
    for side in (right, left):
        for values in side[1:]:
            constant &= np.all(values == side[0], axis=1)
    # f(x) itself is the odd one out (an equality test): a step edge continuous from one side (int(n) at an
    # integer) is not, and stays what the steps make of it.
    isolated = np.any(right[0] != samples.base, axis=1) & np.any(left[0] != samples.base, axis=1)
    return constant & isolated


def jump_slopes(samples: Samples) -> tuple[np.ndarray, np.ndarray]:
    """``(outputs, elements)``: the lowest and highest of 0 (the slope on either side of a jump) and the
    one-sided difference quotients across it at the narrowest flat probe: autograd between them is a KINK."""
    d = probe_step(FLAT_EXPONENTS[-1]) * samples.scale
    right, left = _sides(samples)
    across_right = ((right[-2] - samples.base) / d.reshape(-1, 1)).T
    across_left = ((samples.base - left[-1]) / d.reshape(-1, 1)).T
    low = np.minimum(0.0, np.minimum(across_left, across_right))
    high = np.maximum(0.0, np.maximum(across_left, across_right))
    return low, high
