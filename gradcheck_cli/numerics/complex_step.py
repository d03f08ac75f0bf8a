"""The complex-step derivative: ``f'(x) ~ Im f(x + i h) / h``, exact to round-off for real-analytic code.

No subtraction, so no cancellation: ``h`` can be tiny (``2**-66 * max(1, |x|)``) and the truncation error
``h**2 |f'''| / 6`` vanishes. It needs a function that accepts complex input and computes the analytic
continuation of itself. Many do not: ``relu``, ``abs``, ``clamp``, comparisons, ``.real``, casts to a real
dtype raise or return a real result. :func:`complex_step` says why it is unavailable instead of raising;
the caller also checks the result against finite differences (``conj`` or ``abs**2`` would pass the first
tests and still be wrong).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gradcheck_cli.errors import UserFunctionError
from gradcheck_cli.numerics.evaluate import Evaluator
from gradcheck_cli.numerics.precision import COMPLEX_STEP
from gradcheck_cli.numerics.stencils import magnitude, perturbed, power_of_two


@dataclass(frozen=True)
class ComplexStep:
    """The complex-step Jacobian columns of one input (``(total output numel, in numel)``), or why not."""

    value: np.ndarray | None
    steps: np.ndarray
    reason: str = ""


def _failure(exc: Exception) -> str:
    """Why the complex step is unavailable, from what the function raised (our wrapper's cause)."""
    cause = exc.__cause__ if isinstance(exc, UserFunctionError) and exc.__cause__ is not None else exc
    first = str(cause).splitlines()[0] if str(cause) else ""
    return f"the function raised {type(cause).__name__} for complex input: {first}"


def complex_step(evaluate: Evaluator, index: int, base: Sequence[torch.Tensor]) -> ComplexStep:
    """Columns ``d out / d point[index]`` by the complex step, in complex128 (the point must be float64);
    ``evaluate`` evaluates the function at the point (the complex rows get an evaluator of their own)."""
    x = evaluate.point[index]
    steps = power_of_two(COMPLEX_STEP * magnitude(x))
    output_numel = sum(out.numel() for out in base)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outputs = evaluate.complex()(index, perturbed(x, 1j * steps), output_numel)
    except Exception as exc:
        return ComplexStep(None, steps, _failure(exc))
    if len(outputs) != len(base):
        return ComplexStep(
            None, steps, "the function returned a different number of outputs for complex input"
        )
    columns, reals = [], []
    for out, ref in zip(outputs, base):
        if not out.is_complex():
            return ComplexStep(
                None,
                steps,
                f"the function returned a real {str(out.dtype).removeprefix('torch.')} result for "
                "complex input (abs, relu, clamp, comparisons, casts are not complex-analytic)",
            )
        if out.shape[1:] != ref.shape:
            return ComplexStep(None, steps, "the function returned another shape for complex input")
        values = out.reshape(x.numel(), -1)
        columns.append(values.imag.double())
        reals.append(values.real.double())
    imag = torch.cat(columns, dim=1)
    real = torch.cat(reals, dim=1)
    expected = torch.cat([b.detach().double().reshape(1, -1) for b in base], dim=1)
    step_column = torch.as_tensor(steps, dtype=torch.float64, device=imag.device).reshape(-1, 1)
    # Re f(x + ih) = f(x) - h**2 f''(x) / 2 + ...: off by about h**2 where f(x) is 0 (x**2 at 0 gives -h**2).
    allowed = 1e-10 * expected.abs() + 1e-12 * float(expected.abs().max()) + 1e8 * step_column**2
    if not bool(((real - expected).abs() <= allowed).all()):
        return ComplexStep(
            None, steps, "the real part of f(x + ih) is not f(x): the function is not analytic"
        )
    return ComplexStep((imag / step_column).T.cpu().numpy(), steps)
