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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gradcheck_cli.numerics.precision import COMPLEX_STEP
from gradcheck_cli.numerics.stencils import magnitude, power_of_two


@dataclass(frozen=True)
class ComplexStep:
    """The complex-step Jacobian columns of one input (``(total output numel, in numel)``), or why not."""

    value: np.ndarray | None
    steps: np.ndarray
    reason: str = ""


def _outputs(value: Any) -> tuple[torch.Tensor, ...]:
    outputs = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not all(isinstance(out, torch.Tensor) for out in outputs):
        raise TypeError("returned something other than tensors")
    return outputs


def _evaluate(
    func: Callable[..., Any], point: Sequence[torch.Tensor], index: int, batch: torch.Tensor
) -> list:
    in_dims = tuple(0 if i == index else None for i in range(len(point)))
    args = [batch if i == index else p for i, p in enumerate(point)]
    try:
        return list(torch.func.vmap(lambda *a: _outputs(func(*a)), in_dims=in_dims)(*args))
    except Exception:
        rows = [_outputs(func(*[row if i == index else p for i, p in enumerate(point)])) for row in batch]
        return [torch.stack([r[k] for r in rows]) for k in range(len(rows[0]))]


def complex_step(
    func: Callable[..., Any], point: Sequence[torch.Tensor], index: int, base: Sequence[torch.Tensor]
) -> ComplexStep:
    """Columns ``d out / d point[index]`` by the complex step, in complex128 (the point must be float64)."""
    x = point[index]
    steps = power_of_two(COMPLEX_STEP * magnitude(x))
    flat = x.detach().to(torch.complex128).reshape(-1)
    rows = flat.repeat(flat.numel(), 1)
    rows.diagonal().add_(1j * torch.as_tensor(steps, dtype=torch.float64, device=x.device))
    batch = rows.reshape(flat.numel(), *x.shape)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outputs = _evaluate(func, point, index, batch)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        return ComplexStep(
            None, steps, f"the function raised {type(exc).__name__} for complex input: {first}"
        )
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
        values = out.reshape(len(batch), -1)
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
