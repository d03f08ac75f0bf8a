"""The engine: ``check(func, inputs)`` runs autograd and finite differences at one point and compares them.

Pure: it never prints. It clones the user's tensors (they are never mutated), calls the function through
:mod:`gradcheck_cli.user_code` so that a function that raises is reported as such, and returns a frozen
:class:`~gradcheck_cli.result.CheckResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from gradcheck_cli.autodiff import reverse_jacobian
from gradcheck_cli.comparison import compare
from gradcheck_cli.errors import InputError, UsageError
from gradcheck_cli.evaluation import Evaluator, as_outputs, check_finite
from gradcheck_cli.finite_differences import SCHEMES, numerical_jacobian
from gradcheck_cli.points import argument_names, check_arity
from gradcheck_cli.result import Block, CheckResult
from gradcheck_cli.tolerances import default_tolerance
from gradcheck_cli.user_code import call_user

METHODS = ("central", "forward")


def _as_inputs(inputs: torch.Tensor | Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    values = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    if not values:
        raise InputError("no inputs: pass a tensor or a tuple of tensors")
    for i, value in enumerate(values):
        if not isinstance(value, torch.Tensor):
            raise InputError(f"input {i} is a {type(value).__name__}: expected a torch.Tensor")
        if not value.is_floating_point():
            raise InputError(
                f"input {i} is a {value.dtype} tensor: only floating-point inputs can be checked"
            )
    dtypes = {v.dtype for v in values}
    if len(dtypes) > 1:
        raise InputError(f"inputs mix dtypes {sorted(map(str, dtypes))}: give every input the same dtype")
    return values


def _output_names(count: int) -> list[str]:
    return ["out"] if count == 1 else [f"out{k}" for k in range(count)]


def check(
    func: Callable[..., Any],
    inputs: torch.Tensor | Sequence[torch.Tensor],
    *,
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    method: str = "central",
) -> CheckResult:
    """Check the autograd Jacobian of ``func`` at ``inputs`` against finite differences.

    ``inputs`` is a tensor or a tuple of tensors (the positional arguments). ``eps`` is an absolute step
    (default: scaled to the dtype and to ``max(1, |x|)``); ``atol``/``rtol`` override the dtype's default
    tolerance; ``method`` names the finite-difference scheme the verdict uses (both are always computed).
    """
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}: expected one of {', '.join(METHODS)}")
    if eps is not None and not eps > 0:
        raise UsageError(f"eps must be a positive step, got {eps}")
    originals = _as_inputs(inputs)
    check_arity(func, len(originals))
    dtype = str(originals[0].dtype).removeprefix("torch.")
    tolerance = default_tolerance(dtype) if dtype in ("float64", "float32", "float16", "bfloat16") else None
    atol = atol if atol is not None else tolerance.atol if tolerance else 1e-5
    rtol = rtol if rtol is not None else tolerance.rtol if tolerance else 1e-3

    leaves = tuple(x.detach().clone().requires_grad_(True) for x in originals)
    with torch.enable_grad():
        outputs = as_outputs(call_user(func, *leaves))
    check_finite(outputs, "at the point")
    analytic = reverse_jacobian(outputs, leaves)

    point = tuple(x.detach().clone() for x in originals)
    base = tuple(out.detach() for out in outputs)
    evaluate = Evaluator(func, point)
    numerical, steps = {}, {}
    for name in METHODS:
        numerical[name], steps[name] = numerical_jacobian(evaluate, point, base, SCHEMES[name], eps)

    names = argument_names(func, len(point))
    out_names = _output_names(len(outputs))
    notes: list[str] = []
    blocks = []
    for k, output in enumerate(outputs):
        for i, x in enumerate(point):
            block = analytic[k][i]
            if block is None:
                notes.append(f"{out_names[k]} does not depend on {names[i]} (autograd): a zero block")
                block = np.zeros((output.numel(), x.numel()))
            fd = {name: numerical[name][k][i] for name in METHODS}
            comparison = compare(block, fd[method], atol=atol, rtol=rtol)
            blocks.append(
                Block(
                    output_name=out_names[k],
                    input_name=names[i],
                    output_shape=tuple(output.shape),
                    input_shape=tuple(x.shape),
                    autograd=block,
                    numerical=fd,
                    steps={name: steps[name][i] for name in METHODS},
                    reference=method,
                    abs_err=comparison.abs_err,
                    rel_err=comparison.rel_err,
                    tolerance=comparison.tolerance,
                    status=comparison.status,
                    independent=analytic[k][i] is None,
                )
            )
    if evaluate.strategy is not None and evaluate.strategy.strategy == "loop":
        notes.append(f"finite differences ran one point at a time (not vmapped: {evaluate.strategy.reason})")
    return CheckResult(
        blocks=tuple(blocks),
        point=tuple(x.double().cpu().numpy() for x in point),
        input_names=names,
        dtype=dtype,
        method=method,
        notes=tuple(notes),
    )
