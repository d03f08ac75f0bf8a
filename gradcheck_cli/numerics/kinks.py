"""Kinks: points where a function is not differentiable, found as one-sided slopes that disagree.

Each one-sided slope is a forward (right) or backward (left) difference extrapolated once (Richardson from
steps ``h`` and ``h/2``: second order), with an error estimate. For a smooth function the two extrapolated
slopes differ by ``O(h**2)`` times less than their error estimates; at a kink they differ by the jump in
slope whatever the step. An entry is a kink when the slopes disagree beyond ``KINK_SAFETY`` times their
errors; autograd is then right when it lies between them (a subgradient, as ``relu'(0) = 0``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradcheck_cli.numerics.stencils import SCHEMES, Samples

KINK_SAFETY = 8.0


@dataclass(frozen=True)
class OneSided:
    """Left and right slopes with their error estimates, ``(total output numel, in numel)`` each."""

    left: np.ndarray
    left_error: np.ndarray
    right: np.ndarray
    right_error: np.ndarray

    @property
    def kink(self) -> np.ndarray:
        """Entries whose one-sided slopes disagree beyond their errors."""
        return np.abs(self.right - self.left) > KINK_SAFETY * (self.left_error + self.right_error)


def _extrapolated(samples: Samples, name: str, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    coarse, coarse_noise = samples.quotient(SCHEMES[name], steps)
    fine, fine_noise = samples.quotient(SCHEMES[name], steps / 2)
    slope = 2 * fine - coarse
    return slope, np.abs(slope - fine) + 2 * fine_noise + coarse_noise


def one_sided(samples: Samples, steps: np.ndarray) -> OneSided:
    """The left and right slopes of every output w.r.t. every element of one input, at ``steps``."""
    left, left_error = _extrapolated(samples, "backward", steps)
    right, right_error = _extrapolated(samples, "forward", steps)
    return OneSided(left, left_error, right, right_error)
