"""Per-dtype numbers: machine epsilon, default finite-difference steps and default tolerances.

Tables keyed by the dtype's name (``"float64"``...), so that nothing here needs torch. ``--atol``/``--rtol``
(and the lean path for large Jacobians) use the fixed rule ``|autograd - numerical| <= atol + rtol * |numerical|``
with :data:`DEFAULT_TOLERANCE`; otherwise each entry's tolerance follows from the reference's error estimate
and the autograd side's round-off (:mod:`gradcheck_cli.numerics.error_model`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPSILON: dict[str, float] = {
    "float64": 2.0**-52,
    "float32": 2.0**-23,
    "float16": 2.0**-10,
    "bfloat16": 2.0**-7,
}


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float


# Central differences with the default step are accurate to about eps**(2/3) relative to the function's
# scale (about 4e-11 in float64, 2e-5 in float32); the defaults leave a margin of 10x to 1000x over that.
DEFAULT_TOLERANCE: dict[str, Tolerance] = {
    "float64": Tolerance(atol=1e-7, rtol=1e-5),
    "float32": Tolerance(atol=1e-4, rtol=1e-3),
    "float16": Tolerance(atol=5e-2, rtol=5e-2),
    "bfloat16": Tolerance(atol=2e-1, rtol=2e-1),
}

DTYPES = tuple(EPSILON)
CALL_DTYPES = (*DTYPES, "complex128", "complex64")
"""The dtypes a function can be called with: a complex one is checked through its real and imaginary parts
(float64 or float32 coordinates), so the tables above stay real."""


def epsilon(dtype: str) -> float:
    """Machine epsilon of ``dtype`` (float64's for a dtype not in the table)."""
    return EPSILON.get(dtype, EPSILON["float64"])


def default_tolerance(dtype: str) -> Tolerance:
    """The fixed-rule tolerance of ``dtype`` (a loose one for a dtype not in the table)."""
    return DEFAULT_TOLERANCE.get(dtype, Tolerance(atol=1e-5, rtol=1e-3))


def default_step_scale(dtype: str, order: int) -> float:
    """The step, relative to ``max(1, |x|)``, that balances truncation and round-off for a scheme of
    accuracy ``order`` (1: forward/backward, 2: central): ``eps ** (1 / (order + 1))``."""
    return EPSILON[dtype] ** (1.0 / (order + 1))


# How many units of round-off (eps * max |f|) one evaluation of the function is assumed to be off by, in
# every dtype; a function noisier than that is measured instead (noise.py).
ROUNDOFF_ULPS = 1.0

# Tolerances that follow from error estimates: an entry passes when
# |autograd - reference| <= ERROR_SAFETY * reference error + autograd round-off, where the autograd side's
# round-off is AUTOGRAD_ULPS * eps(dtype) * (|autograd| + the largest |autograd| of its block).
ERROR_SAFETY = 4.0
AUTOGRAD_ULPS: dict[str, float] = {"float64": 64.0, "float32": 64.0, "float16": 1.0, "bfloat16": 1.0}
# A low-precision function's autograd round-off is also measured, as its difference from the same autograd
# run on a float64 copy (the propagation of its dtype's round-off through the computation): the tolerance
# allows AUTOGRAD_SAFETY times that difference, and an entry where it exceeds UNCERTAIN_FRACTION of the
# entry's magnitude is INCONCLUSIVE (the dtype cannot resolve that derivative).
AUTOGRAD_SAFETY = 2.0

# A reference whose error estimate exceeds this fraction of the entry's magnitude cannot tell right from wrong.
UNCERTAIN_FRACTION = 0.1
# ... where the magnitude is at least this fraction of the largest entry of the block (zeros are resolvable).
BLOCK_FLOOR = 1e-2

# The complex step: h = COMPLEX_STEP * max(1, |x|), and its result is exact to a few ulps of the function's
# conditioning: error estimate COMPLEX_STEP_ULPS * eps * (|derivative| + the largest of its block).
COMPLEX_STEP = 2.0**-66
COMPLEX_STEP_ULPS = 256.0


# torch's float64 kernels are not all float64 inside: hardsigmoid's backward multiplies by float32(1/6)
# (3e-8 relative off). A float64 autograd entry is allowed this relative error of its own magnitude (a 0.01%
# error is still 400 times over it).
AUTOGRAD_RELATIVE: dict[str, float] = {"float64": 2.0**-22}


def autograd_ulps(dtype: str) -> float:
    return AUTOGRAD_ULPS.get(dtype, 64.0)


def autograd_relative(dtype: str) -> float:
    return AUTOGRAD_RELATIVE.get(dtype, 0.0)


def value_roundoff(values: np.ndarray, magnitudes: np.ndarray, dtype: str) -> np.ndarray:
    """``(outputs, elements)``: the autograd round-off that follows from the outputs' own: a backward computes
    with values of the output's size (sigmoid's ``s * (1 - s)`` at 30 is exact only to ``eps * |s|``, 1e-3 of
    the derivative), so an entry may be off by ``AUTOGRAD_ULPS * eps * |f_i|`` per unit of the input's scale
    ``max(1, |x_j|)``. Far below any finite-difference error bar; it matters against the complex step."""
    return autograd_ulps(dtype) * epsilon(dtype) * np.abs(values).reshape(-1, 1) / magnitudes.reshape(1, -1)
