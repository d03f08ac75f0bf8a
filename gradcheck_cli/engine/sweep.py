"""The step-size study: the error of finite differences against the step, over many decades.

Small steps lose to round-off (error ~ eps |f| / h), large ones to truncation (error ~ h**p |f^(p+1)|): on
log-log axes the classic V. The error of each scheme at each step is measured against the checker's own
reference (:func:`gradcheck_cli.engine.check.check` with ``method="complex-step"``: the full reference, no cheap
first pass; Richardson where the complex step does not apply), in the dtype that reference was
computed in, and the steps the checker chose are reported with it. Pure: :mod:`gradcheck_cli.render.sweep_chart`
draws it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from gradcheck_cli.engine.check import check
from gradcheck_cli.engine.diagnose import taylor_curve
from gradcheck_cli.numerics.evaluate import Evaluator, as_outputs
from gradcheck_cli.numerics.stencils import SCHEMES, Samples
from gradcheck_cli.report import Sweep
from gradcheck_cli.result import CheckResult
from gradcheck_cli.user_code import call_user

SWEPT = ("forward", "central")
SMALLEST = {"float64": -16, "float32": -9, "float16": -5, "bfloat16": -4}


def _reference_columns(result: CheckResult, inputs: int) -> list[np.ndarray]:
    """The reference Jacobian per input, ``(total output numel, in numel)``, for the first ``inputs``
    inputs (the point's arguments: a model's parameters, checked after them, are not swept)."""
    stride = len(result.input_names)
    per_input: list[list[np.ndarray]] = [[] for _ in range(inputs)]
    for b, block in enumerate(result.blocks):
        if b % stride < inputs:
            per_input[b % stride].append(block.numerical[result.method])
    return [np.concatenate(rows, axis=0) for rows in per_input]


def _geometric_mean(steps: Sequence[np.ndarray]) -> float:
    values = np.concatenate([np.ravel(s) for s in steps])
    return float(np.exp(np.mean(np.log(values))))


def sweep(
    func: Callable[..., Any],
    inputs: torch.Tensor | Sequence[torch.Tensor],
    *,
    per_decade: int = 2,
    largest: int = 0,
    smallest: int | None = None,
) -> Sweep:
    """Forward and central differences of ``func`` at ``inputs`` for steps ``10**largest`` down to
    ``10**smallest`` (default: below the dtype's epsilon), against the checker's reference."""
    point = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    result = check(func, point, blame="off", method="complex-step")
    dtype = result.reference_dtype or result.dtype
    low = SMALLEST.get(dtype, -16) if smallest is None else smallest
    exponents = np.arange(largest * per_decade, low * per_decade - 1, -1) / per_decade
    steps = 10.0**exponents
    eval_point = tuple(x.detach().to(getattr(torch, dtype)) for x in point)
    with torch.no_grad():
        base = as_outputs(call_user(func, *eval_point))
    evaluate = Evaluator(func, eval_point)
    references = _reference_columns(result, len(point))
    scale = max(float(np.max(np.abs(r), initial=0.0)) for r in references) or 1.0
    samples = [Samples(evaluate, i, x, base) for i, x in enumerate(eval_point)]
    errors = {m: np.zeros(len(steps)) for m in SWEPT}
    for s, h in enumerate(steps):
        for method in SWEPT:
            worst = 0.0
            for sample, reference in zip(samples, references):
                value, _ = sample.quotient(SCHEMES[method], np.full(sample.numel, h))
                worst = max(worst, float(np.max(np.abs(value - reference), initial=0.0)))
            errors[method][s] = worst / scale
    chosen = {m: _geometric_mean([b.steps[m] for b in result.blocks[: len(point)]]) for m in SWEPT}
    taylor = taylor_curve(result, func, point)
    return Sweep(steps, errors, chosen, result.method, result.dtype, dtype, scale, taylor)
