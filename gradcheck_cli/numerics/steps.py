"""Step selection: per input element, the step that balances truncation against round-off error.

For a scheme of order ``p`` the error of a difference quotient is about ``C_t h**p |f^(p+1)| + C_r eps |f| / h``;
its minimum is at ``h* = (C_r eps |f| / (p C_t |f^(p+1)|)) ** (1/(p+1))`` (FiniteDifferences.jl and
numdifftools do the same). ``|f^(p+1)|`` is estimated with a coarse higher-derivative stencil at a step of
``eps**(1/5) * max(1, |x|)`` (where its own round-off is small); where that estimate is lost in round-off
(polynomials, flat functions) the step stays at its nominal value scaled up. Steps are powers of two, kept
within a factor of 16 (down) and 8 (up) of the nominal ``eps**(1/(p+1)) * max(1, |x|)``.
"""

from __future__ import annotations

import numpy as np

from gradcheck_cli.numerics.precision import ROUNDOFF_ULPS
from gradcheck_cli.numerics.stencils import SECOND, THIRD, Samples, Scheme, power_of_two

# Truncation constants of the schemes: forward/backward |f''| h / 2, central |f'''| h**2 / 6.
_TRUNCATION = {1: 0.5, 2: 1.0 / 6.0}
_DOWN, _UP = 16.0, 8.0


def effective_eps(samples: Samples) -> np.ndarray:
    """Per element, the relative precision of the function's values: its dtype's epsilon, or its measured
    noise relative to ``max |f|`` where that is larger (a function computing in lower precision inside)."""
    scale = max(float(np.abs(samples.base).max()), np.finfo(float).tiny) if samples.base.size else 1.0
    with np.errstate(over="ignore"):  # a nondeterministic function's "noise" can be huge: inf is right
        return np.maximum(samples.eps, samples.floor / scale)


def nominal_steps(samples: Samples, order: int) -> np.ndarray:
    return power_of_two(effective_eps(samples) ** (1.0 / (order + 1)) * samples.scale)


def higher_derivatives(samples: Samples) -> list[tuple[Scheme, np.ndarray]]:
    """The stencils and steps :func:`adaptive_steps` estimates the second (order 1) and third (order 2)
    derivatives with, in that order (for :meth:`Samples.prefetch_schemes`)."""
    coarse = power_of_two(np.minimum(effective_eps(samples) ** 0.2, 2.0**-3) * samples.scale)
    return [(SECOND, coarse), (THIRD, coarse)]


def adaptive_steps(samples: Samples, order: int) -> np.ndarray:
    """One step per element of the input, for a first-derivative scheme of accuracy ``order`` (1 or 2)."""
    order = 1 if order < 2 else 2
    nominal = np.minimum(nominal_steps(samples, order), 2.0**-3 * samples.scale)
    higher, noise = samples.quotient(*higher_derivatives(samples)[order - 1])
    resolved = np.abs(higher) > 4 * noise
    derivative = np.where(resolved, np.abs(higher), 0.0)  # (outputs, elements)
    f_scale = np.maximum(np.abs(samples.base).reshape(-1, 1), np.finfo(float).tiny)
    c_round = np.maximum(ROUNDOFF_ULPS * samples.eps * f_scale, samples.floor.reshape(1, -1))
    c_round = c_round * (1.0 if order == 2 else 2.0)
    with np.errstate(divide="ignore", over="ignore"):
        optimal = (c_round / (order * _TRUNCATION[order] * derivative)) ** (1.0 / (order + 1))
    # A column whose higher derivative is lost in round-off everywhere gets the largest allowed step.
    best = np.min(optimal, axis=0) if optimal.size else np.full(samples.numel, np.inf)
    best = np.where(np.isfinite(best), best, nominal * _UP)
    # Never more than 2**-3 of the input's scale: Richardson's ladder goes to 4h, and domains end.
    return power_of_two(np.minimum(np.clip(best, nominal / _DOWN, nominal * _UP), 2.0**-3 * samples.scale))
