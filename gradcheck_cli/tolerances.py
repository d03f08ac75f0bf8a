"""Per-dtype numbers: machine epsilon, default finite-difference steps and default tolerances.

Tables keyed by the dtype's name (``"float64"``...), so that nothing here needs torch. An entry passes when
``|autograd - numerical| <= atol + rtol * |numerical|``.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def epsilon(dtype: str) -> float:
    return EPSILON[dtype]


def default_tolerance(dtype: str) -> Tolerance:
    return DEFAULT_TOLERANCE[dtype]


def default_step_scale(dtype: str, order: int) -> float:
    """The step, relative to ``max(1, |x|)``, that balances truncation and round-off for a scheme of
    accuracy ``order`` (1: forward/backward, 2: central): ``eps ** (1 / (order + 1))``."""
    return EPSILON[dtype] ** (1.0 / (order + 1))
